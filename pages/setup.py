"""First run: create the first lab lead. Shown only while moodlab has no users."""

import streamlit as st

from moodlab.core import auth
from moodlab.core.auth import Actor
from moodlab.core.errors import MoodlabError
from moodlab.ui import session
from moodlab.ui.text import plain

st.title("Welcome to moodlab")
st.write(
    "moodlab has no accounts yet. Create the first **lab lead**: the lead adds annotators,"
    " runs crawls and training, and sees every page."
)

needs_token = auth.setup_token_required()
if needs_token:
    st.info(
        "This moodlab listens on the network, so set-up needs the one-time token that"
        " `moodlab serve` printed in its terminal.",
        icon=":material/key:",
    )

with st.form("setup"):
    token = st.text_input("Set-up token", type="password") if needs_token else None
    name = st.text_input("Lead's user name", max_chars=64)
    password = st.text_input("Password", type="password", help="at least 8 characters")
    again = st.text_input("Password again", type="password")
    submitted = st.form_submit_button("Create lead and log in", type="primary")

if submitted:
    if password != again:
        st.error("The two passwords differ.")
    else:
        try:
            with session.database().session() as db:
                lead = auth.create_first_lead(
                    session=db, name=name.strip(), password=password, setup_token=token
                )
                actor = Actor.of(lead)
            session.log_in(actor)
            st.rerun()
        except MoodlabError as exc:
            st.error(plain(exc))
