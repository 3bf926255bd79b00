"""The st.Page list a visitor gets: their role's pages, and an answer at every other address.

Streamlit shows "Page not found" for an address its navigation does not list, so every
page's address is always listed: while logged out each one shows the login form (and,
once logged in, is the page asked for: a page's identity is its address); a page the
role may not see says whose page it is instead.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from moodlab.core.auth import Actor
from moodlab.core.models import Role
from moodlab.ui import navigation
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


def _not_for_you(spec: PageSpec) -> Callable[[], None]:
    def page() -> None:
        whose = " and ".join(ROLE_NAMES[role] for role in Role if role in spec.roles)
        st.title(spec.title)
        st.warning(f"This page is for {whose}.", icon=":material/lock:")
        st.page_link(navigation.PAGES[0].path, label="Go to Home", icon=":material/home:")

    page.__name__ = f"not_for_you_{spec.key}"
    return page
