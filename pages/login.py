"""Log in (moodlab/ui/entry.py draws the form, which every page shows a logged-out visitor)."""

from moodlab.ui import entry

entry.login_page()
