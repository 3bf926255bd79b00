"""`moodlab status`: the lab at a glance, what the Home page shows."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from moodlab.cli.common import Report, Subcommands, actor, command, open_database


def register(sub: Subcommands) -> None:
    command(
        sub, "status", "the lab at a glance, as on the Home page: counts and next steps", status
    )


def status(args: argparse.Namespace) -> Report:
    from moodlab.home import lab_overview

    settings, database = open_database()
    with database.session() as session:
        overview = lab_overview(session=session, settings=settings, actor=actor())
    report = asdict(overview)
    report["next_steps"] = [step.text for step in overview.next_steps]
    return report
