"""A snapshot's datasheet in Markdown: counts, labelling rules and agreement, balancing,
sources and licences, written beside the labels in an export.

``DatasheetFacts`` is fed each label row and vote as the export writes them, so a
datasheet of 100,000 images costs a few counters, not a second pass over the data.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from sqlalchemy.orm import Session

from moodlab import __version__
from moodlab.core import moods
from moodlab.core.auth import Actor
from moodlab.core.models import Snapshot
from moodlab.datasets.labels import (
    Balancing,
    VoteRow,
    balancing_of,
    iso,
    label_rows,
    tier_rules,
    vote_rows,
)
from moodlab.datasets.snapshots import get_snapshot, members_of
from moodlab.datasets.wording import rules_text

_TOP_SOURCES = 20  # hosts listed by name; the rest are summed on one line


@dataclass
class DatasheetFacts:
    """What the datasheet says, gathered row by row."""

    patterns: Counter[str] = field(default_factory=Counter)  # "3-1" -> images
    counts: list[list[int]] = field(default_factory=list)  # votes per mood, per image
    kinds: Counter[str] = field(default_factory=Counter)  # job kind -> images
    hosts: Counter[str] = field(default_factory=Counter)  # source host -> images
    licences: Counter[str] = field(default_factory=Counter)
    imported_by_name: int = 0
    annotators: set[str] = field(default_factory=set)
    votes: int = 0
    skips: int = 0
    first_vote: str = ""
    last_vote: str = ""

    def add_label(self, row: dict[str, Any]) -> None:
        votes: dict[str, int] = row["votes"]
        self.patterns["-".join(str(n) for n in sorted(votes.values(), reverse=True) if n)] += 1
        self.counts.append([int(votes.get(m, 0)) for m in moods.names()])
        self.kinds[row["job_kind"] or "unknown"] += 1
        if row["source_url"]:
            self.hosts[urlsplit(row["source_url"]).hostname or "unknown"] += 1
        elif row["original_name"]:
            self.imported_by_name += 1
        self.licences[row["license"] or "not stated"] += 1

    def add_vote(self, vote: VoteRow) -> None:
        if vote.annotator:
            self.annotators.add(vote.annotator)
        if vote.mood is None:
            self.skips += 1
            return
        self.votes += 1
        at = iso(vote.voted_at)
        self.first_vote = min(self.first_vote or at, at)
        self.last_vote = max(self.last_vote, at)

    def fleiss_kappa(self, raters: int) -> float | None:
        """Fleiss' kappa over the members with exactly ``raters`` votes."""
        from statsmodels.stats.inter_rater import fleiss_kappa

        counts = np.asarray(self.counts, dtype=np.int64).reshape(-1, len(moods.names()))
        complete = counts[counts.sum(axis=1) == raters]
        if len(complete) < 2:
            return None
        value = float(fleiss_kappa(complete, method="fleiss"))
        return round(value, 4) if np.isfinite(value) else None


def snapshot_datasheet(*, session: Session, actor: Actor, snapshot_id: int) -> str:
    """The datasheet of snapshot ``snapshot_id``, as its export writes it (lead only)."""
    snapshot = get_snapshot(session=session, actor=actor, snapshot_id=snapshot_id)
    members = members_of(session=session, actor=actor, snapshot_id=snapshot_id)
    facts = DatasheetFacts()
    for row in label_rows(session, snapshot, members):
        facts.add_label(row)
    for vote in vote_rows(session, snapshot, members):
        facts.add_vote(vote)
    return datasheet(snapshot, facts, balancing_of(snapshot, members))


def datasheet(snapshot: Snapshot, facts: DatasheetFacts, balancing: Balancing) -> str:
    """The Markdown datasheet of ``snapshot``."""
    rules = tier_rules(snapshot)
    n = int(rules.get("annotators_per_item") or 4)
    train, test = snapshot.train_counts, snapshot.test_counts
    kappa = facts.fleiss_kappa(n)
    moved = balancing.as_dict()
    lines = [
        f"# Datasheet: moodlab dataset snapshot #{snapshot.id}",
        "",
        f"- Frozen: {iso(snapshot.created_at)}",
        f"- Manifest sha256: `{snapshot.manifest_sha256}`",
        f"- Made by moodlab {__version__}; the moods are Russell's circumplex as in Cho et al."
        ' (2019), "Image Mood Classification Using Deep CNN and Its Application to'
        ' Automatic Video Generation".',
        "",
        "## Composition",
        "",
        "| mood | train | test |",
        "|---|---:|---:|",
        *(f"| {m} | {train.get(m, 0)} | {test.get(m, 0)} |" for m in moods.names()),
        f"| **all** | **{sum(train.values())}** | **{sum(test.values())}** |",
        "",
        f"{snapshot.disputed} disputed (2-2) images without a tie-break are in no set;"
        f" {rules.get('excluded', 0)} images the lead excluded are in no set.",
        "",
        "## Labelling",
        "",
        f"- Rules: {rules_text(snapshot.rules)}.",
        f"- Train: {rules['train']}. Test: {rules['test']}.",
        f"- {facts.votes} votes and {facts.skips} skips by {len(facts.annotators)} annotators,"
        f" cast from {facts.first_vote or '-'} to {facts.last_vote or '-'} (UTC);"
        " each vote with its annotator and time is in votes.csv.",
        f"- Fleiss' kappa over the images with all {n} votes: "
        + ("not defined (fewer than two such images)" if kappa is None else f"{kappa:.3f}"),
        "- Vote patterns (votes for each mood given, largest first):",
        "",
        "| votes | images |",
        "|---|---:|",
        *(f"| {p or 'none'} | {c} |" for p, c in sorted(facts.patterns.items(), reverse=True)),
        "",
        "## Balancing",
        "",
        _balancing_text(moved, n),
        "",
        "## Sources",
        "",
        "| how the image arrived | images |",
        "|---|---:|",
        *(f"| {_cell(kind)} | {c} |" for kind, c in facts.kinds.most_common()),
        "",
        f"{facts.imported_by_name} images were imported from files (their original path or"
        " zip member is in labels.csv, column original_name).",
        "",
        *_hosts(facts.hosts),
        "## Licences",
        "",
        "| licence | images |",
        "|---|---:|",
        *(f"| {_cell(name)} | {c} |" for name, c in facts.licences.most_common()),
        "",
        "Each image's licence and attribution, as its source stated them, are in labels.csv;"
        " check them before redistributing an image.",
        "",
        "## Files",
        "",
        "- `train/<Mood>/<sha256>.jpg`, `test/<Mood>/<sha256>.jpg`: the images (ImageFolder).",
        "- `labels.csv`, `labels.json`: each image's label, split, tier, vote counts and"
        " provenance; the JSON also holds the tier rules and the balancing.",
        "- `votes.csv`: every vote behind the labels, with annotator and time.",
        "- `manifest.csv`, `metadata.json`: the manifest and the snapshot's summary.",
        "",
    ]
    return "\n".join(lines)


def _balancing_text(moved: dict[str, Any], annotators: int) -> str:
    per_mood = ", ".join(f"{m} {c}" for m, c in sorted(moved["moved_to_test"].items()))
    unanimous = ", ".join(f"{m} {c}" for m, c in sorted(moved["unanimous_in_test"].items()))
    return (
        f"Training is capped at {moved['cap_used']} images per mood. Train-tier images"
        " (3 or more of 4 votes) that the cap leaves out go to the test set, as in the"
        ' paper\'s test set ("not used for training, with agreement of 2 or more of 4"),'
        f" so the test set is not only 2-of-4 images: {moved['moved_to_test_total']}"
        f" train-tier images moved to test ({per_mood or 'none'}), and"
        f" {moved['unanimous_in_test_total']} test images are unanimous, all {annotators}"
        f" annotators agreeing ({unanimous or 'none'}). labels.csv marks each one"
        " (moved_by_balancing, unanimous)."
    )


def _hosts(hosts: Counter[str]) -> list[str]:
    if not hosts:
        return []
    top = hosts.most_common(_TOP_SOURCES)
    rest = sum(hosts.values()) - sum(c for _, c in top)
    return [
        "| source host | images |",
        "|---|---:|",
        *(f"| {_cell(host)} | {c} |" for host, c in top),
        *([f"| {len(hosts) - len(top)} other hosts | {rest} |"] if rest else []),
        "",
    ]


def _cell(text: str) -> str:
    """Text from the web in a Markdown table cell: no pipes, no line breaks, no markup."""
    return "".join(f"\\{c}" if c in "\\`*_[]<>|#" else c for c in " ".join(text.split()))
