"""Who may see a page: the st.Page list a visitor gets, and each page's own guard.

Streamlit shows "Page not found" for an address its navigation does not list, so every
page's address is always listed: while logged out each one shows the login form (and,
once logged in, is the page asked for: a page's identity is its address); a page the
role may not see says whose page it is instead.

Each page also guards itself (``require_role``, its first line), so a page script run
without app.py (Streamlit's old pages/ folder mode, or AppTest on one page) still shows
a logged-out visitor only the login form.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from moodlab.core.auth import Actor
from moodlab.core.models import Role
from moodlab.ui import entry, navigation, session
from moodlab.ui.navigation import PageSpec

ROLE_NAMES = {Role.LEAD: "the lab lead", Role.ANNOTATOR: "annotators"}


def visitor_pages(actor: Actor | None, *, first_run: bool) -> list[StreamlitPage]:
    if actor is None:
        entry = navigation.SETUP_PAGE if first_run else navigation.LOGIN_PAGE
        pages = [st.Page(entry.path, title=entry.title, icon=entry.icon, default=True)]
        pages += [
            st.Page(entry.path, title=entry.title, url_path=spec.key, visibility="hidden")
            for spec in navigation.PAGES[1:]
        ]
        return pages
    pages = [
        st.Page(spec.path, title=spec.title, icon=spec.icon)
        for spec in navigation.pages_for(actor.role)
    ]
    pages += [
        st.Page(_not_for_you(spec), title=spec.title, url_path=spec.key, visibility="hidden")
        for spec in navigation.PAGES
        if actor.role not in spec.roles
    ]
    return pages


def require_role(*roles: Role) -> Actor:
    """For a page, before it draws anything: the actor, or the page stops.

    A visitor with no login gets the entry page (the login form, or first-run set-up on
    a moodlab without users) and nothing else; a user of another role is told whose page
    it is. The services check the role again.
    """
    actor = session.current_actor()
    if actor is None:
        entry.entry_page()
        st.stop()
    if actor.role not in roles:
        st.warning(f"This page is for {_whose(roles)}.", icon=":material/lock:")
        st.stop()
    return actor


def _whose(roles: Iterable[Role]) -> str:
    return " and ".join(ROLE_NAMES[role] for role in Role if role in roles)


def _not_for_you(spec: PageSpec) -> Callable[[], None]:
    def page() -> None:
        st.title(spec.title)
        st.warning(f"This page is for {_whose(spec.roles)}.", icon=":material/lock:")
        st.page_link(navigation.PAGES[0].path, label="Go to Home", icon=":material/home:")

    page.__name__ = f"not_for_you_{spec.key}"
    return page
