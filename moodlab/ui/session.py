"""Who is logged in, in this browser tab, and the database the pages use.

A login is a row of ``sessions`` (moodlab/core/sessions.py). The tab that logged in
keeps the row's id in Streamlit's session state (held on the server); a reloaded or
newly opened tab finds it by the HttpOnly cookie the login route set
(moodlab/ui/web.py), read here with ``st.context.cookies``. Either way the row is
checked on every run: a logout elsewhere, a new password, a deactivation or an idle
session ends the login in every tab.
"""

from __future__ import annotations

import time

import streamlit as st

from moodlab.core import auth, sessions
from moodlab.core.auth import Actor
from moodlab.core.config import Settings
from moodlab.core.db import Database, get_database
from moodlab.ui import web

ACTOR_KEY = "actor"
LAST_SEEN_KEY = "last_seen"
SESSION_KEY = "session_id"
TICKET_KEY = "session_ticket"
CLEAR_COOKIE_KEY = "clear_session_cookie"
MESSAGES = {
    "expired": "Your session expired: please log in again.",
    "deactivated": "Your account was deactivated.",
    "ended": "You were logged out.",
}


def settings() -> Settings:
    return Settings.from_env()


def database() -> Database:
    database = get_database(settings().database_url)
    database.check_migrated()
    return database


def client_address() -> str | None:
    """The browser's address, for login throttling; behind a local proxy, the proxy's word.

    Streamlit gives None for a loopback connection: that is either a person on this
    machine or a reverse proxy here (docs/security.md), which names the client in
    X-Real-IP or X-Forwarded-For.
    """
    address = st.context.ip_address
    if isinstance(address, str):
        return address
    headers = st.context.headers
    real = headers.get("X-Real-IP")
    forwarded = headers.get("X-Forwarded-For")
    for value in (real, forwarded.split(",")[-1] if isinstance(forwarded, str) else None):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return "local"


def log_in(actor: Actor) -> None:
    """After a right password: a new session, and its ticket for the cookie route."""
    with database().session() as db:
        session_id, ticket = sessions.start(session=db, actor=actor)
    st.session_state[ACTOR_KEY] = actor
    st.session_state[SESSION_KEY] = session_id
    st.session_state[TICKET_KEY] = ticket
    st.session_state[LAST_SEEN_KEY] = time.time()


def log_out(message: str | None = None, *, end_session: bool = True) -> None:
    session_id = st.session_state.pop(SESSION_KEY, None)
    if end_session and session_id is not None:
        with database().session() as db:
            sessions.end(session=db, session_id=session_id)
    for key in (ACTOR_KEY, LAST_SEEN_KEY, TICKET_KEY):
        st.session_state.pop(key, None)
    st.session_state[CLEAR_COOKIE_KEY] = True
    if message:
        st.session_state["logout_message"] = message


def send_cookie_requests() -> None:
    """Once after a login or logout: the browser asks the route to set or drop the cookie."""
    # The slot is drawn on every run, used or not: if the script came and went, every
    # element after it would move one place, and the browser kept a moved login form
    # twice (its widgets were still live), as the smoke test saw after a failed login.
    slot = st.empty()
    if ticket := st.session_state.pop(TICKET_KEY, None):
        slot.html(
            web.cookie_script(web.SESSION_PATH, {"ticket": ticket}), unsafe_allow_javascript=True
        )
    elif st.session_state.pop(CLEAR_COOKIE_KEY, False):
        slot.html(web.cookie_script(web.LOGOUT_PATH), unsafe_allow_javascript=True)


def current_actor() -> Actor | None:
    """The logged-in user, re-checked against the database on every run."""
    session_id = st.session_state.get(SESSION_KEY)
    token = None if session_id is not None else _cookie()
    if session_id is None and not token:
        return _actor_without_session()
    with database().session() as db:
        resumed = sessions.resume(
            session=db, settings=settings(), session_id=session_id, token=token
        )
    if resumed.actor is None:
        # A tab that was logged in is told why; a stale cookie on a fresh tab just
        # gets the login form.
        message = MESSAGES.get(resumed.reason or "") if session_id is not None else None
        log_out(message, end_session=False)
        return None
    st.session_state[ACTOR_KEY] = resumed.actor
    st.session_state[SESSION_KEY] = resumed.session_id
    st.session_state[LAST_SEEN_KEY] = time.time()
    return resumed.actor


def _cookie() -> str | None:
    token = st.context.cookies.get(sessions.COOKIE_NAME)
    # AppTest has no browser connection: its cookies are not strings.
    return token if isinstance(token, str) and token else None


def _actor_without_session() -> Actor | None:
    """An actor put in the session state without a session row (Streamlit's AppTest).

    Session state lives on the server, so nothing a browser sends can put one there;
    the idle limit and deactivation still apply.
    """
    actor = st.session_state.get(ACTOR_KEY)
    if actor is None:
        return None
    idle = time.time() - st.session_state.get(LAST_SEEN_KEY, 0.0)
    if idle > settings().session_idle_minutes * 60:
        log_out(MESSAGES["expired"])
        return None
    with database().session() as db:
        fresh = auth.refresh_actor(session=db, actor=actor)
    if fresh is None:
        log_out(MESSAGES["deactivated"])
        return None
    st.session_state[ACTOR_KEY] = fresh
    st.session_state[LAST_SEEN_KEY] = time.time()
    return fresh
