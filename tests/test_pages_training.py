"""The Training form: settings fitted to the snapshot first, the paper's one choice away."""

from __future__ import annotations

from moodlab.core import moods
from moodlab.core.models import Role
from moodlab.datasets import snapshots as datasets
from moodlab.datasets.snapshots import Rules
from moodlab.votes import annotation
from tests.conftest import add_user
from tests.test_pages import _images_with_files, app, charts_built_by_a_rerun


def freeze_three_agreed_a_mood(database, settings, lead) -> None:
    """A frozen snapshot of 24 images with files, 3 a mood, all four annotators agreeing."""
    people = [add_user(database, f"a{i}", Role.ANNOTATOR) for i in range(4)]
    images = _images_with_files(database, settings, 24)
    for n, image in enumerate(images):
        for person in people:
            with database.session() as session:
                mood = moods.names()[n % 8]
                annotation.answer(session=session, actor=person, image_id=image, mood=mood)
    with database.session() as session:
        datasets.freeze(session=session, actor=lead, settings=settings, rules=Rules(seed=0))


def test_the_training_form_fits_the_snapshot_and_offers_the_papers_settings(
    database, settings, lead
):
    freeze_three_agreed_a_mood(database, settings, lead)

    at = app(lead).switch_page("pages/training.py").run()
    assert not at.exception
    number = {n.label: n.value for n in at.number_input}
    assert at.selectbox[1].value == "transfer"
    assert (number["Folds"], number["Batch size"], number["Image size"]) == (3, 32, 224)
    assert not [w.value for w in at.warning]  # nothing it would score near chance with

    at.radio[0].set_value("paper").run()
    number = {n.label: n.value for n in at.number_input}
    assert at.selectbox[1].value == "deep"
    assert (number["Folds"], number["Epochs"], number["Batch size"], number["Image size"]) == (
        10,
        60,
        64,
        128,
    )
    warnings = " ".join(w.value for w in at.warning)
    assert "10-fold cross-validation needs at least 10 training images of every mood" in warnings
    assert "The paper's settings (Cho et al. 2019" in at.radio[0].options[1]


def register(database, settings, *, arch: str, scores: list[float], right: int) -> int:
    """A model's registry row as a finished run leaves it: per-fold scores, the test
    confusion matrix (``right`` of 10 images a mood on the diagonal, the rest one mood
    on), the final model's curve and the out-of-fold probabilities in a file beside it."""
    import numpy as np

    from moodlab.core import predictions
    from moodlab.core.models import TrainedModel

    matrix = [
        [right if c == r else 10 - right if c == (r + 1) % 8 else 0 for c in range(8)]
        for r in range(8)
    ]
    history = [
        {"epoch": e, "loss": 2.0 - right / 10 * e / 4, "accuracy": right / 10 * e / 4}
        for e in range(1, 5)
    ]
    rng = np.random.default_rng(right)
    labels = np.arange(64) % 8
    probs = rng.dirichlet(np.ones(8), 64) + np.eye(8)[labels] * right / 10
    oof = f"models/{arch}-{right}.oof.npz"
    predictions.save(
        settings.data_dir / oof,
        predictions.Predictions([f"{i:064x}" for i in range(64)], labels, probs / 2),
    )
    with database.session() as session:
        model = TrainedModel(
            arch=arch,
            path=f"models/{arch}-{right}.keras",
            cv_scores={"scores": scores},
            cv_mean=sum(scores) / len(scores),
            cv_std=0.05,
            test_accuracy=right / 10,
            report={
                "folds": [{"fold": k, "accuracy": a} for k, a in enumerate(scores, start=1)],
                "test": {
                    "accuracy": right / 10,
                    "macro_f1": right / 10,
                    "adjacent_accuracy": 1.0,
                    "confusion_matrix": matrix,
                },
                "final_history": history,
                "settings": {"folds": len(scores), "seed": 0, "epochs": 4},
                "out_of_fold": {"file": oof, "images": 64},
            },
        )
        session.add(model)
        session.flush()
        return model.id


def chart_data(at) -> dict[str, list[dict]]:
    """Each titled chart's rows on the page, as Streamlit sent them to the browser."""
    import json

    import pyarrow as pa

    shown = {}
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        title = spec.get("title") or spec.get("layer", [{}])[0].get("title")
        rows = [
            row
            for data in chart.proto.datasets
            for row in pa.ipc.open_stream(data.data.data).read_all().to_pylist()
        ]
        shown[title if isinstance(title, str) else json.dumps(title)] = rows
    return shown


def test_a_rerun_with_nothing_changed_builds_no_chart_again(database, settings, lead):
    """Issue 29: Altair built and validated the Training page's nine charts on every
    rerun, most of its time (0.52-0.56 s a rerun at 30 models)."""

    register(database, settings, arch="deep", scores=[0.5, 0.6], right=6)
    at = app(lead).switch_page("pages/training.py").run()
    assert not at.exception
    assert len(at.get("vega_lite_chart")) == 9  # compare 3, folds, reliability, 2 x 2
    built = charts_built_by_a_rerun(at)
    assert not at.exception
    assert len(at.get("vega_lite_chart")) == 9
    assert built == []


def test_a_model_registered_after_the_page_ran_shows_on_its_next_rerun(database, settings, lead):
    """The kept charts are kept by their data: a new model's are its own, never the last."""
    first = register(database, settings, arch="plain", scores=[0.5, 0.6], right=6)
    at = app(lead).switch_page("pages/training.py").run()
    assert not at.exception
    before = chart_data(at)
    second = register(database, settings, arch="deep", scores=[0.7, 0.8], right=9)
    at.run()
    assert not at.exception
    assert list(at.dataframe[0].value["id"]) == [second, first]
    assert next(s for s in at.selectbox if s.label == "Report of model").value == second
    assert at.multiselect[0].value == [first, second]  # the newest of each architecture
    shown = chart_data(at)
    assert {row["model"] for row in shown["Scores"]} == {f"#{first} plain", f"#{second} deep"}
    counts = shown["Confusion (counts): true x predicted"]
    assert {row["images"] for row in counts if row["row"] == row["col"]} == {9}
    assert shown["Loss"] != before["Loss"]
    assert [m.value for m in at.metric if m.label == "Test accuracy"] == ["0.900"]


def test_fine_tuning_is_offered_for_transfer_only_marked_slow_and_queued_as_chosen(
    database, settings, lead
):
    from sqlalchemy import select

    from moodlab.core.models import Job

    freeze_three_agreed_a_mood(database, settings, lead)

    at = app(lead).switch_page("pages/training.py").run()
    label = "Fine-tune the top blocks (slow on a CPU)"
    blocks = next(n for n in at.number_input if n.label == label)
    assert blocks.value == 0 and "slow on a CPU" in blocks.help
    assert not [c.value for c in at.caption if c.value.startswith("Slow on a CPU")]

    blocks.set_value(2).run()
    notes = [c.value for c in at.caption if c.value.startswith("Slow on a CPU")]
    # 3 folds of 16 images and the final model on 24
    assert len(notes) == 1 and "3 folds and the final model: 72 images an epoch" in notes[0]
    at.button[0].click().run()
    assert not at.exception and not at.error
    with database.session() as session:
        job = session.scalars(select(Job)).one()
    assert (job.params["arch"], job.params["fine_tune_blocks"]) == ("transfer", 2)
    assert job.params["fine_tune_epochs"] == 3

    at.selectbox[1].set_value("plain").run()
    assert label not in [n.label for n in at.number_input]
