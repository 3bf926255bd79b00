"""What the Datasets page and `moodlab dataset build` say: rules as a sentence, warnings."""

from __future__ import annotations

from typing import Any


def low_cap_warning(
    *,
    cap: int,
    available: dict[str, int],
    min_per_mood: int,
    per_mood_cap: int | None,
    uncapped: bool,
) -> str | None:
    """A loud warning, with the numbers, when a mood's train images fall below the minimum."""
    present = {name: n for name, n in available.items() if n}
    if not present:
        return None
    used = {name: min(cap, n) for name, n in present.items()}
    if min(used.values()) >= min_per_mood:
        return None
    smallest = min(present, key=lambda name: (present[name], name))
    largest = max(present, key=lambda name: (present[name], name))
    total = sum(present.values())
    if cap < present[smallest]:
        why = f"the cap of {cap} train images per mood"
    elif per_mood_cap is None and not uncapped:
        why = f"{smallest} has only {present[smallest]} train-tier images (balancing cuts every"
        why += f" mood to {cap})"
    else:
        why = f"{smallest} has only {present[smallest]} train-tier images"
    return (
        f"Too few train images: {why}, below the minimum of {min_per_mood} per mood"
        f" that {min_per_mood}-fold cross-validation needs; the train set would be"
        f" {sum(used.values())} images. Uncapped, it would keep all {total} train-tier images"
        f" ({largest}: {present[largest]}, {smallest}: {present[smallest]}), unbalanced."
    )


def rules_text(rules: dict[str, Any]) -> str:
    """A snapshot's rules as a sentence, for the Datasets page."""
    cap = rules.get("per_mood_cap")
    parts = [
        f"train: {rules.get('train_quorum', '?')}+ of {rules.get('annotators_per_item', '?')}"
        f" votes, test: {rules.get('test_quorum', '?')}",
        ("balanced to the smallest mood" if cap is None else "a cap of")
        + f" {rules.get('cap_used', cap)} train images per mood",
        "every test candidate"
        if rules.get("test_per_mood") is None
        else f"at most {rules['test_per_mood']} test images per mood",
        f"seed {rules.get('seed', 0)}",
        *([f"{rules['excluded']} excluded by the lead"] if rules.get("excluded") else []),
    ]
    return "; ".join(parts)
