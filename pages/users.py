"""Users (lead): add annotators, reset passwords, deactivate and reactivate."""

import pandas as pd
import streamlit as st

from moodlab.core import auth
from moodlab.core.models import Role
from moodlab.ui import access, session
from moodlab.ui.layout import act
from moodlab.ui.times import local

actor = access.require_role(Role.LEAD)
st.title("Users")


with session.database().session() as db:
    users = auth.list_users(session=db, actor=actor)

st.dataframe(
    pd.DataFrame(
        [
            {
                "name": u.name,
                "role": u.role,
                "active": u.active,
                "created": local(u.created_at),
                "last login": local(u.last_login_at) if u.last_login_at else "never",
            }
            for u in users
        ]
    ),
    hide_index=True,
)

add, reset, active = st.tabs(["Add a user", "Reset a password", "Deactivate or reactivate"])

with add, st.form("add_user", clear_on_submit=True):
    name = st.text_input("User name", max_chars=64)
    role = st.selectbox("Role", [Role.ANNOTATOR.value, Role.LEAD.value])
    password = st.text_input("Initial password", type="password", help="at least 8 characters")
    if st.form_submit_button("Add user", type="primary"):
        act(
            lambda db: auth.create_user(
                session=db, actor=actor, name=name.strip(), role=Role(role), password=password
            ),
            f"Added {name.strip()}",
        )

with reset, st.form("reset_password", clear_on_submit=True):
    who = st.selectbox("User", [u.name for u in users], key="reset_who")
    new_password = st.text_input("New password", type="password")
    if st.form_submit_button("Set password"):
        act(
            lambda db: auth.set_password(session=db, actor=actor, name=who, password=new_password),
            f"Password of {who} changed",
        )

with active:
    st.caption("A deactivated user cannot log in; their votes stay. Reactivate to undo.")
    for user in users:
        label, button = st.columns([4, 1])
        label.write(f"**{user.name}** ({user.role}) · {'active' if user.active else 'deactivated'}")
        verb = "Deactivate" if user.active else "Reactivate"
        if button.button(verb, key=f"toggle-{user.name}"):
            act(
                lambda db, u=user: auth.set_active(
                    session=db, actor=actor, name=u.name, active=not u.active
                ),
                f"{verb}d {user.name}",
            )
