"""Who is logged in, in this browser tab, and the database the pages use."""

from __future__ import annotations

import time

import streamlit as st

from moodlab.core import auth
from moodlab.core.auth import Actor
from moodlab.core.config import Settings
from moodlab.core.db import Database, get_database
from moodlab.core.models import Role

ACTOR_KEY = "actor"
LAST_SEEN_KEY = "last_seen"


def settings() -> Settings:
    return Settings.from_env()


def database() -> Database:
    database = get_database(settings().database_url)
    database.check_migrated()
    return database


def log_in(actor: Actor) -> None:
    st.session_state[ACTOR_KEY] = actor
    st.session_state[LAST_SEEN_KEY] = time.time()


def log_out(message: str | None = None) -> None:
    st.session_state.pop(ACTOR_KEY, None)
    st.session_state.pop(LAST_SEEN_KEY, None)
    if message:
        st.session_state["logout_message"] = message


def current_actor() -> Actor | None:
    """The logged-in user, re-read from the database on every run.

    A user deactivated by the lead, or idle past the session limit, is logged out.
    """
    actor = st.session_state.get(ACTOR_KEY)
    if actor is None:
        return None
    idle = time.time() - st.session_state.get(LAST_SEEN_KEY, 0.0)
    if idle > settings().session_idle_minutes * 60:
        log_out("Your session expired: please log in again.")
        return None
    with database().session() as session:
        fresh = auth.refresh_actor(session=session, actor=actor)
    if fresh is None:
        log_out("Your account was deactivated.")
        return None
    log_in(fresh)
    return fresh


def require_role(*roles: Role) -> Actor:
    """For a page: the actor, or stop the page with a message. Services check again."""
    actor = current_actor()
    if actor is None or actor.role not in roles:
        st.error("This page is not available to your role.")
        st.stop()
    return actor
