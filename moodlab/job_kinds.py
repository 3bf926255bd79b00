"""Every job kind, registered by importing the module that defines its handler."""

import moodlab.diagnostics  # noqa: F401  worker_check
