"""The two entry pages a visitor without a login sees: the login form, and first-run set-up.

pages/login.py and pages/setup.py draw them, and so does every other page for a visitor
who is not logged in (moodlab/ui/access.py, ``require_role``): one source for the form.
"""

from __future__ import annotations

import streamlit as st

from moodlab import demo, home
from moodlab.core import auth
from moodlab.core.auth import Actor
from moodlab.core.errors import MoodlabError
from moodlab.ui import session
from moodlab.ui.text import plain


def entry_page() -> None:
    """First-run set-up while moodlab has no users; once any user exists, the login form."""
    with session.database().session() as db:
        first_run = auth.count_users(session=db) == 0
    if first_run:
        setup_page()
    else:
        login_page()


def login_page() -> None:
    st.title("moodlab")
    st.caption("Image mood research: crawl, annotate, train, and make mood-matched videos.")

    if demo.is_demo(session.settings()):
        demo_banner()

    notice = st.empty()  # always drawn, so the form below keeps its place (see session.py)
    if message := st.session_state.pop("logout_message", None):
        notice.info(message)

    with st.form("login"):
        # Autocomplete names what each field holds, so password managers fill them in.
        name = st.text_input("User name", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
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


def demo_banner() -> None:
    """How to log in to the demo, and who has images left to answer (each login has some)."""
    with session.database().session() as db:
        left = home.images_left_by_person(session=db, settings=session.settings())

    def login(name: str) -> str:
        waiting = left.get(name, 0)
        return f"**{name}** ({waiting} {'image' if waiting == 1 else 'images'} left)"

    st.info(
        "**Demo workspace** (photographs and generated pictures, simulated votes). Log in as"
        f" the lead, {login(demo.LEAD)}, or an annotator:"
        f" {', '.join(login(name) for name in demo.ANNOTATORS)}; password"
        f" **{demo.PASSWORD}**.",
        icon=":material/science:",
    )


def setup_page() -> None:
    """Create the first lab lead. The service refuses once any user exists, whoever asks."""
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
        name = st.text_input("Lead's user name", max_chars=64, autocomplete="username")
        password = st.text_input(
            "Password",
            type="password",
            autocomplete="new-password",
            help="at least 8 characters, and not a common password: three or four uncommon"
            " words make a good one",
        )
        again = st.text_input("Password again", type="password", autocomplete="new-password")
        submitted = st.form_submit_button("Create lead and log in", type="primary")

    if not submitted:
        return
    if password != again:
        st.error("The two passwords differ.")
        return
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
