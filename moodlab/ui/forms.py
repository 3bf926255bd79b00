"""Form fields that keep what the user typed while they move between pages.

Streamlit forgets a widget's value once a run does not draw it, so a page left and
opened again shows its defaults. A kept field copies its value to a plain session
key on every change and gives it back as the widget's value when the page is drawn
again. The copies belong to the logged-in user: another user's login starts afresh.

    fields = forms.Kept("crawl", actor)
    seeds = st.text_area("Seeds", **fields("seeds", ""))

The widgets cannot sit inside an ``st.form``: a form sends nothing before its submit
button, so there would be nothing to keep.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from moodlab.core.auth import Actor

STORE_KEY = "_kept_fields"


class Kept:
    """The kept fields of one form (``namespace``) for ``actor``."""

    def __init__(self, namespace: str, actor: Actor):
        self.namespace = namespace
        store = st.session_state.get(STORE_KEY)
        if not isinstance(store, dict) or store.get("actor") != actor.id:
            for key in (store or {}).get("values", {}) if isinstance(store, dict) else ():
                st.session_state.pop(key, None)  # another user's widgets, too
            store = {"actor": actor.id, "values": {}}
            st.session_state[STORE_KEY] = store
        self._values: dict[str, Any] = store["values"]

    def key(self, name: str) -> str:
        return f"{self.namespace}.{name}"

    def __call__(self, name: str, default: Any) -> dict[str, Any]:
        """The widget's ``key`` and ``on_change``: pass them as ``**fields(name, default)``.

        Give the widget no ``value``/``index`` of its own: the session key holds it.
        """
        key = self.key(name)
        if key not in st.session_state:
            st.session_state[key] = self._values.get(key, default)
        self._values.setdefault(key, st.session_state[key])
        return {"key": key, "on_change": self._copy, "args": (key,)}

    def _copy(self, key: str) -> None:
        self._values[key] = st.session_state[key]

    def choice(self, name: str, options: list[Any], default: Any) -> dict[str, Any]:
        """As ``__call__``, for a selectbox: a kept value no longer among ``options``
        (a deleted snapshot, say) gives way to ``default``."""
        key = self.key(name)
        for values in (st.session_state, self._values):
            if key in values and values[key] not in options:
                del values[key]
        return self(name, default)
