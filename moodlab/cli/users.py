"""`moodlab users ...`: accounts (passwords from stdin or a prompt, never an argument)."""

from __future__ import annotations

import argparse

from moodlab.cli.common import (
    Report,
    Subcommands,
    actor,
    command,
    group,
    open_database,
    read_password,
)
from moodlab.core import auth
from moodlab.core.models import Role, User


def register(sub: Subcommands) -> None:
    users = group(sub, "users", "manage accounts")
    add = command(users, "add", "add a user; the password is read from stdin or a prompt", add_user)
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    command(users, "list", "list users", list_users)
    passwd = command(
        users, "passwd", "set a user's password (read from stdin or a prompt)", set_password
    )
    passwd.add_argument("name")
    command(users, "deactivate", "deactivate a user", deactivate).add_argument("name")
    command(users, "activate", "activate a user", activate).add_argument("name")


def user_row(user: User) -> Report:
    return {"id": user.id, "name": user.name, "role": user.role, "active": user.active}


def add_user(args: argparse.Namespace) -> Report:
    _, database = open_database()
    password = read_password(f"password for {args.name}: ")
    with database.session() as session:
        user = auth.create_user(
            session=session, actor=actor(), name=args.name, role=Role(args.role), password=password
        )
        return user_row(user)


def list_users(args: argparse.Namespace) -> Report:
    _, database = open_database()
    with database.session() as session:
        return {"users": [user_row(u) for u in auth.list_users(session=session, actor=actor())]}


def set_password(args: argparse.Namespace) -> Report:
    _, database = open_database()
    password = read_password(f"new password for {args.name}: ")
    with database.session() as session:
        auth.set_password(session=session, actor=actor(), name=args.name, password=password)
        return user_row(auth.get_user(session=session, name=args.name))


def _set_active(args: argparse.Namespace, active: bool) -> Report:
    _, database = open_database()
    with database.session() as session:
        user = auth.set_active(session=session, actor=actor(), name=args.name, active=active)
        return user_row(user)


def activate(args: argparse.Namespace) -> Report:
    return _set_active(args, True)


def deactivate(args: argparse.Namespace) -> Report:
    return _set_active(args, False)
