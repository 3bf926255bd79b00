"""moodlab's web app: log in, then the pages your role may see.

Run it with `make run` (or `moodlab serve`), not `streamlit run` alone: serve
also migrates the database and starts the worker that runs long jobs.
"""

import streamlit as st

from moodlab import demo
from moodlab.core import auth
from moodlab.core.errors import ConfigError, MoodlabError
from moodlab.ui import access, job_alerts, session, uploads
from moodlab.ui.text import plain

# An emoji icon: a Material icon here makes browsers fetch the favicon from Google.
st.set_page_config(page_title="moodlab", page_icon="🎨", layout="wide")

try:
    database = session.database()
except ConfigError as exc:  # a setting out of its range names itself (configuration.md)
    st.error(plain(f"moodlab cannot start with its settings: {exc}"))
    st.stop()
except MoodlabError as exc:
    st.error(plain(f"moodlab cannot open its database: {exc}"))
    st.stop()

actor = session.current_actor()
first_run = False
if actor is None:
    with database.session() as db:
        first_run = auth.count_users(session=db) == 0

pages = access.visitor_pages(actor, first_run=first_run)
# Every page in the list, none behind "View N more": a lead has fourteen.
page = st.navigation(pages, position="sidebar" if actor else "hidden", expanded=True)
# The browser tab names the page ("Annotate · moodlab"): a lab keeps several open.
st.set_page_config(page_title=f"{page.title} · moodlab")
session.send_cookie_requests()

if actor is not None:
    with st.sidebar:
        job_alerts.watch(actor)  # a toast when a job this user started ends, on any page
        st.caption(f"Logged in as **{actor.name}** ({actor.role.value})")
        if demo.is_demo(session.settings()):
            st.warning(
                "Demo workspace: photographs, generated pictures and simulated votes.",
                icon=":material/science:",
            )
        if st.button("Log out", icon=":material/logout:"):
            session.log_out("You are logged out.")
            st.rerun()

# A page that draws an upload field lets this tab upload while it shows; any other
# run, a login form's included, takes that back (moodlab/ui/uploads.py).
uploads.start_of_run()
try:
    page.run()
finally:
    uploads.end_of_run()
