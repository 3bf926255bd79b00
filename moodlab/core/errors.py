"""Errors that carry a message meant for the user.

The CLI prints these as one line on stderr and exits non-zero; pages show them
with st.error. Anything else escaping is a bug and keeps its traceback.
"""


class MoodlabError(Exception):
    """Bad input or a refused request, with a message that names what and why."""


class ConfigError(MoodlabError):
    """A setting has a value moodlab cannot use."""


class NotFound(MoodlabError):
    """The thing asked for does not exist."""


class PermissionDenied(MoodlabError):
    """The acting user's role may not call this service."""
