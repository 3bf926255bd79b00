"""The registry marks models that are not clearly above chance and guards their activation."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import event

from moodlab.core.models import TrainedModel
from moodlab.training import compare, registry
from moodlab.video.timeline import near_uniform
from tests.conftest import run_cli


def confusion(correct: int, total: int) -> list[list[int]]:
    """An 8x8 confusion matrix with ``correct`` on the diagonal out of ``total`` images."""
    matrix = [[0] * 8 for _ in range(8)]
    for i in range(total):
        row = i % 8
        matrix[row][row if i < correct else (row + 1) % 8] += 1
    return matrix


def add_model(database, correct: int, total: int) -> int:
    with database.session() as session:
        model = TrainedModel(
            arch="deep",
            path="models/x.keras",
            cv_scores={"scores": []},
            test_accuracy=correct / total,
            report={
                "test": {
                    "accuracy": correct / total,
                    "macro_f1": 0.1,
                    "adjacent_accuracy": 0.3,
                    "confusion_matrix": confusion(correct, total),
                }
            },
        )
        session.add(model)
        session.flush()
        return model.id


def test_wilson_lower_bound_matches_the_textbook_values():
    assert registry.wilson_lower_bound(0, 10) == 0.0
    assert registry.wilson_lower_bound(8, 79) == pytest.approx(0.0521, abs=1e-3)
    assert registry.wilson_lower_bound(50, 100) == pytest.approx(0.4038, abs=1e-3)


def test_a_model_near_chance_is_marked_and_needs_force_to_activate(env, database, lead):
    near = add_model(database, 8, 79)  # 10%: the demo model the issue found
    good = add_model(database, 50, 79)  # 63%
    with database.session() as session:
        above, note = registry.chance_check(session.get_one(TrainedModel, near))
        assert above is False and note
        assert "8 of 79 (10%)" in note and "lower bound is 5.2%" in note
        assert registry.chance_check(session.get_one(TrainedModel, good)) == (True, None)
        with pytest.raises(registry.NearChance):
            registry.activate(session=session, actor=lead, model_id=near)
        registry.activate(session=session, actor=lead, model_id=good)
    listed = json.loads(run_cli("models", "list", "--json").stdout)["models"]
    assert {m["id"]: m["above_chance"] for m in listed} == {near: False, good: True}
    refused = run_cli("models", "activate", str(near))
    assert refused.returncode == 1 and "add --force to activate it anyway" in refused.stderr
    forced = run_cli("models", "activate", str(near), "--force", "--json")
    assert forced.returncode == 0 and json.loads(forced.stdout)["active"] is True


def test_the_training_page_asks_before_activating_a_model_near_chance(database, lead):
    from tests.test_pages import app

    near = add_model(database, 8, 79)
    at = app(lead, timeout=60)
    at.switch_page("pages/training.py").run()
    assert not at.exception
    assert any("is not clearly above chance" in w.value for w in at.warning)
    button = next(b for b in at.button if b.label == "Activate for videos")
    assert button.disabled
    next(c for c in at.checkbox if c.label == "Use it for videos anyway").check().run()
    next(b for b in at.button if b.label == "Activate for videos").click().run()
    with database.session() as session:
        assert session.get_one(TrainedModel, near).active


def test_a_near_uniform_timeline_is_flagged():
    flat = [{"t": 0.0, "probs": {f"m{i}": 0.13 if i == 0 else 0.87 / 7 for i in range(8)}}]
    sure = [{"t": 0.0, "probs": {f"m{i}": 0.9 if i == 0 else 0.1 / 7 for i in range(8)}}]
    assert "near uniform" in (near_uniform(flat) or "")
    assert near_uniform(sure) is None and near_uniform([]) is None


def test_listing_models_loads_only_the_parts_of_their_reports_it_shows(database, lead):
    """A model trained before the out-of-fold file kept 20,000 rows in its report; the
    listing reads the small parts it shows, never the report whole."""
    legacy = [{"image": f"{i:064x}", "label": i % 8, "probs": [0.125] * 8} for i in range(20_000)]
    with database.session() as session:
        session.add(
            TrainedModel(
                arch="plain",
                path="models/old.keras",
                cv_scores={"scores": [0.5, 0.7]},
                cv_mean=0.6,
                test_accuracy=0.4,
                report={
                    "test": {"accuracy": 0.4, "confusion_matrix": confusion(40, 100)},
                    "updates": {"per_fold_mean": 30},
                    "settings": {"epochs": 5},
                    "final_history": [{"epoch": 1, "loss": 2.0}],
                    "out_of_fold": legacy,
                },
            )
        )
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", count)
    try:
        with database.session() as session:
            [model] = registry.list_models(session=session, actor=lead)
            whole = registry.get_model(session=session, actor=lead, model_id=model.id)
    finally:
        event.remove(database.engine, "before_cursor_execute", count)
    assert sorted(model.report) == ["settings", "test", "updates"]
    assert registry.chance_check(model)[0] is not None
    assert compare.fold_rows([model]) == [
        {"model": compare.label(model), "fold": 1, "accuracy": 0.5},
        {"model": compare.label(model), "fold": 2, "accuracy": 0.7},
    ]
    listing = statements[0]
    # The column named once per part read, inside its JSON path: never selected whole.
    assert listing.count("trained_models.report") == len(registry.LISTED_PARTS), listing
    assert whole is not model and len(whole.report["out_of_fold"]) == 20_000
