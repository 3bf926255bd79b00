"""Log in."""

import streamlit as st

from moodlab import demo
from moodlab.core import auth
from moodlab.core.errors import MoodlabError
from moodlab.ui import session
from moodlab.ui.text import plain

st.title("moodlab")
st.caption("Image mood research: crawl, annotate, train, and make mood-matched videos.")

if demo.is_demo(session.settings()):
    st.info(
        f"**Demo workspace** (generated pictures, simulated votes). Log in as"
        f" **{demo.LEAD}** (lead) or an annotator ({', '.join(demo.ANNOTATORS)}),"
        f" password **{demo.PASSWORD}**.",
        icon=":material/science:",
    )

notice = st.empty()  # always drawn, so the form below keeps its place (see session.py)
if message := st.session_state.pop("logout_message", None):
    notice.info(message)

with st.form("login"):
    name = st.text_input("User name")
    password = st.text_input("Password", type="password")
    submitted = st.form_submit_button("Log in", type="primary")

if submitted:
    try:
        with session.database().session() as db:
            actor = auth.authenticate(
                session=db,
                settings=session.settings(),
                name=name.strip(),
                password=password,
                address=session.client_address(),
            )
        session.log_in(actor)
        st.rerun()
    except MoodlabError as exc:
        st.error(plain(exc))
