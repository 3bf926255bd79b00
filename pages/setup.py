"""First run: create the first lab lead while moodlab has no users; after that, log in.

app.py offers this page only while there are no users; run on its own once a user
exists, it shows the login form instead, and the service refuses a second first lead.
"""

from moodlab.ui import entry

entry.entry_page()
