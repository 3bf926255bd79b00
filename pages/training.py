"""Training (lead): start a run, watch it, read its report, activate a model."""

import pandas as pd
import streamlit as st

from moodlab.core import moods
from moodlab.core.errors import MoodlabError
from moodlab.core.models import JobStatus, Role
from moodlab.datasets import out_of_fold
from moodlab.datasets import snapshots as datasets
from moodlab.jobs import queue as jobs
from moodlab.training import architectures, compare, fine_tune, presets
from moodlab.training.actions import start_training
from moodlab.training.budget import data_problem, updates_warning
from moodlab.training.registry import activate, chance_check, get_model, list_models
from moodlab.training.runs import TrainParams, TrainResult, estimated_updates
from moodlab.ui import access, charts, forms, jobs_view, session
from moodlab.ui.text import plain
from moodlab.ui.times import local

# Column headers and number formats that keep the Models and Compare tables within a
# laptop's 1280 px: three decimals, short headings, the long ones as tooltips.
_SCORE = "%.3f"
MODEL_COLUMNS = {
    "id": st.column_config.NumberColumn("id", width=40),
    "arch": st.column_config.TextColumn("arch", width=60),
    "precision": st.column_config.TextColumn("precision", width=75),
    "snapshot": st.column_config.NumberColumn("set", help="snapshot", width=40),
    "active": st.column_config.CheckboxColumn("active", width=50),
    "cv mean": st.column_config.NumberColumn("cv mean", format=_SCORE, width=65),
    "cv std": st.column_config.NumberColumn("cv std", format=_SCORE, width=60),
    "test accuracy": st.column_config.NumberColumn(
        "test", help="test accuracy", format=_SCORE, width=55
    ),
    "above chance": st.column_config.TextColumn("> chance", help="clearly above chance", width=75),
    "updates per fold": st.column_config.NumberColumn(
        "updates", help="updates per fold", format="%d", width=65
    ),
    "adjacent": st.column_config.NumberColumn(
        "adjacent", help="adjacent accuracy", format=_SCORE, width=70
    ),
    "created": st.column_config.TextColumn("created", width=135),
}
COMPARE_COLUMNS = {
    "model": st.column_config.TextColumn("model", width=80),
    "architecture": st.column_config.TextColumn("architecture", width=110),
    "folds": st.column_config.NumberColumn("folds", width=50),
    "seed": st.column_config.NumberColumn("seed", width=45),
    "epochs": st.column_config.NumberColumn("epochs", width=55),
    "precision": None,  # in the Models table above: the row fits 1280 px without it
    "snapshot": st.column_config.NumberColumn("set", help="snapshot", width=40),
    "parameters": st.column_config.NumberColumn("params", help="trainable parameters", width=60),
    "image size": st.column_config.NumberColumn("px", help="image size", width=40),
    "cv mean": st.column_config.NumberColumn("cv mean", format=_SCORE, width=65),
    "cv std": st.column_config.NumberColumn("cv std", format=_SCORE, width=60),
    "test accuracy": st.column_config.NumberColumn(
        "test", help="test accuracy", format=_SCORE, width=55
    ),
    "macro-F1": st.column_config.NumberColumn("F1", help="macro-F1", format=_SCORE, width=55),
    "adjacent accuracy": st.column_config.NumberColumn(
        "adjacent", help="adjacent accuracy", format=_SCORE, width=70
    ),
}

actor = access.require_role(Role.LEAD)
settings = session.settings()

st.title("Training")
with session.database().session() as db:
    snapshots = datasets.list_snapshots(session=db, actor=actor)
    registry = list_models(session=db, actor=actor)

if not snapshots:
    st.info("Freeze a dataset snapshot on the Datasets page first.")
else:
    # Plain widgets, not a form: the update estimate and the checks follow every change,
    # and what was typed is kept while the lead visits other pages (moodlab.ui.forms).
    fields = forms.Kept("train", actor)
    start_from = st.radio(
        "Start from",
        ["fitted", "paper"],
        format_func=lambda key: {
            "fitted": "Settings fitted to this snapshot",
            "paper": "The paper's settings (Cho et al. 2019: Table 2 CNN, 10 folds,"
            " 60 epochs, batch 64, 128 px)",
        }[key],
        horizontal=True,
        **fields.choice("start_from", ["fitted", "paper"], "fitted"),
    )
    snapshot_col, arch_col = st.columns(2)
    by_snapshot = {s.id: s for s in snapshots}
    snapshot_ids = list(by_snapshot)
    snapshot_id = snapshot_col.selectbox(
        "Dataset snapshot",
        snapshot_ids,
        format_func=lambda i: f"#{i} ({sum(by_snapshot[i].train_counts.values())} training images)",
        **fields.choice("snapshot", snapshot_ids, snapshot_ids[0]),
    )
    snapshot = by_snapshot[int(snapshot_id)]
    start = (
        presets.paper(snapshot.id)
        if start_from == "paper"
        else presets.fitted(snapshot.id, snapshot.train_counts)
    )
    # Each starting point keeps its own values for each snapshot: switching shows its own.
    values = forms.Kept(f"train-{start_from}-{snapshot.id}", actor)
    unavailable = architectures.unavailable()
    arch_names = [name for name in architectures.ARCHITECTURES if name not in unavailable]
    arch = arch_col.selectbox(
        "Architecture",
        arch_names,
        help="deep: the paper's Table 2 CNN from scratch; plain: a smaller CNN of this"
        " project's own design, a baseline beside it; transfer: a small head on"
        " EfficientNet-Lite0 pretrained on ImageNet, trained in seconds on kept features",
        **values.choice("arch", arch_names, start.arch if start.arch in arch_names else "deep"),
    )
    for name, reason in unavailable.items():
        arch_col.caption(f"{name} is off: its backbone is not installed", help=plain(reason))
    folds_col, epochs_col, batch_col, size_col = st.columns(4)
    folds = folds_col.number_input(
        "Folds",
        0,
        20,
        help="Set it to 0 to train one model on all the training images, without cross-validation",
        **values("folds", start.folds),
    )
    epochs = epochs_col.number_input("Epochs", 1, 1000, **values("epochs", start.epochs))
    batch = batch_col.number_input("Batch size", 1, 1024, **values("batch_size", start.batch_size))
    size = size_col.number_input(
        "Image size",
        16,
        512,
        help="128 as in the paper; transfer works at 224, its backbone's size",
        **values(f"image_size_{arch}", architectures.IMAGE_SIZES[arch]),
    )
    images = sum(int(n) for n in snapshot.train_counts.values())
    tune_blocks, tune_epochs = 0, TrainParams.default("fine_tune_epochs")
    if arch == "transfer":
        tune_col, tune_epochs_col = st.columns(2)
        tune_blocks = tune_col.number_input(
            "Fine-tune the top blocks (slow on a CPU)",
            0,
            fine_tune.BLOCKS,
            help=fine_tune.HELP,
            **values("fine_tune_blocks", 0),
        )
        if tune_blocks:
            tune_epochs = tune_epochs_col.number_input(
                "Fine-tuning epochs", 1, 100, **values("fine_tune_epochs", tune_epochs)
            )
            st.caption(fine_tune.cost_note(images, int(folds), int(tune_blocks), int(tune_epochs)))
    params = TrainParams(
        snapshot_id=int(snapshot_id),
        arch=arch,
        folds=int(folds),
        epochs=int(epochs),
        batch_size=int(batch),
        image_size=int(size),
        fine_tune_blocks=int(tune_blocks),
        fine_tune_epochs=int(tune_epochs),
    )
    estimate = estimated_updates(images, params)
    st.caption(
        f"About {estimate:,} optimizer updates per fold (ceil(images / batch) x epochs"
        f" on about {images - images // params.folds if params.folds else images} images)."
    )
    if warning := updates_warning(arch, estimate):
        st.warning(warning, icon=":material/warning:")
    if problem := data_problem(snapshot.train_counts, params.folds, params.snapshot_id):
        st.warning(problem, icon=":material/block:")
    if st.button("Start training", type="primary", icon=":material/model_training:"):
        try:
            with session.database().session() as db:
                job = start_training(session=db, actor=actor, settings=settings, params=params)
            st.session_state["train_job"] = job.id
        except MoodlabError as exc:
            st.error(plain(exc))


def run_card(job) -> None:
    """A run: its job card, then architecture, snapshot, CV mean and updates per fold."""
    jobs_view.job_card(job, actor)
    params = TrainParams.from_json(job.params)
    result = TrainResult.from_json(job.result)
    scores = [f["accuracy"] for f in result.folds]
    steps = [f["updates"] for f in result.folds if f.get("updates") is not None]
    cv_mean = (
        result.cv_mean
        if result.cv_mean is not None
        else (sum(scores) / len(scores) if scores else None)
    )
    facts = [
        f"{params.arch} on snapshot #{params.snapshot_id}",
        f"{params.folds} folds x {params.epochs} epochs",
    ]
    if params.fine_tune_blocks:
        facts.append(
            f"top {params.fine_tune_blocks} blocks fine-tuned x {params.fine_tune_epochs} epochs"
        )
    if cv_mean is not None:
        facts.append(f"CV mean {cv_mean:.3f}" + ("" if result.cv_mean is not None else " so far"))
    if result.updates_per_fold is not None or steps:
        facts.append(
            f"{result.updates_per_fold or round(sum(steps) / len(steps))} updates per fold"
        )
    st.caption(" · ".join(facts))
    if result.folds:
        # Each fold is a job of its own that any worker may take (moodlab.training.spread).
        table = [
            {
                "fold": f["fold"],
                "accuracy": f["accuracy"],
                "updates": f.get("updates"),
                "worker": f.get("worker"),
            }
            for f in result.folds
        ]
        st.dataframe(pd.DataFrame(table), hide_index=True)


@st.fragment(run_every="3s")
def running() -> None:
    with session.database().session() as db:
        active = jobs.list_jobs(session=db, actor=actor, kinds=["train"], limit=3)
    # A run that was queued or running on the last look and has now succeeded put a new
    # model in the registry: rerun the whole page so the tables below show it.
    seen: dict[int, str] = st.session_state.setdefault("train_seen", {})
    finished = [
        j.id
        for j in active
        if j.status == JobStatus.SUCCEEDED
        and seen.get(j.id) in (JobStatus.QUEUED, JobStatus.RUNNING)
    ]
    seen.update({j.id: j.status for j in active})
    for job in active[:3]:
        run_card(job)
    if finished:
        st.rerun(scope="app")


st.subheader("Runs")
running()

st.subheader("Models")
if not registry:
    st.caption("No trained model yet.")
    st.stop()
table = pd.DataFrame(
    [
        {
            "id": m.id,
            "arch": m.arch,
            "snapshot": m.snapshot_id,
            "active": m.active,
            "cv mean": m.cv_mean,
            "cv std": m.cv_std,
            "test accuracy": m.test_accuracy,
            "above chance": {True: "yes", False: "NO", None: "no test set"}[chance_check(m)[0]],
            "updates per fold": (m.report.get("updates") or {}).get("per_fold_mean"),
            "adjacent": (m.report.get("test") or {}).get("adjacent_accuracy"),
            "precision": m.precision,
            "created": local(m.created_at),
        }
        for m in registry
    ]
)
st.dataframe(table, hide_index=True, column_config=MODEL_COLUMNS)

st.subheader("Compare runs")
by_id = {m.id: m for m in registry}
picked = st.multiselect(
    "Models side by side",
    list(by_id),
    default=compare.default_selection(registry),
    format_func=lambda i: compare.label(by_id[i]),
    help="by default the newest model of each architecture on the newest snapshot",
)
if picked:
    chosen_models = [by_id[i] for i in picked]
    st.dataframe(
        pd.DataFrame(compare.summary_rows(chosen_models)),
        hide_index=True,
        column_config=COMPARE_COLUMNS,
    )
    if not compare.same_split(chosen_models):
        st.caption(
            "These models were not cross-validated on the same folds (snapshot, folds and"
            " seed differ): their CV means are not side by side."
        )
    # Every chart's Vega-Lite spec is kept by its data (charts.spec): Altair built and
    # validated the page's nine charts again on every rerun, most of its time (issue 29).
    metrics_col, moods_col = st.columns(2)
    if rows := compare.metric_rows(chosen_models):
        metrics_col.vega_lite_chart(
            charts.spec(
                charts.grouped_bars,
                rows,
                x="metric",
                group="model",
                value="value",
                title="Scores",
                sort=list(compare.METRICS),
            ),
            width="stretch",
        )
    if rows := compare.recall_rows(chosen_models):
        moods_col.vega_lite_chart(
            charts.spec(
                charts.grouped_bars,
                rows,
                x="mood",
                group="model",
                value="recall",
                title="Test recall per mood",
                sort=moods.names(),
            ),
            width="stretch",
        )
    if rows := compare.fold_rows(chosen_models):
        st.caption("Validation accuracy per fold")
        st.vega_lite_chart(charts.spec(charts.fold_accuracy, rows, group="model"), width="stretch")

st.subheader("Report")
chosen = st.selectbox("Report of model", list(by_id), format_func=lambda i: compare.label(by_id[i]))
with session.database().session() as db:
    model = get_model(session=db, actor=actor, model_id=chosen)  # this one's whole report
above_chance, chance_note = chance_check(model)
if above_chance is False:
    st.warning(chance_note, icon=":material/casino:")
if not model.active:
    # A model not clearly above chance is activated only after the lead confirms.
    confirmed = above_chance is not False or st.checkbox(
        "Use it for videos anyway",
        key=f"confirm-{model.id}",
        help="its videos' moods would be close to guesses",
    )
    if st.button("Activate for videos", icon=":material/check_circle:", disabled=not confirmed):
        with session.database().session() as db:
            activate(session=db, actor=actor, model_id=model.id, force=above_chance is False)
        st.rerun()

folds = model.report.get("folds", [])
if folds:
    st.markdown("**Cross-validation** (as the paper's Table 3)")
    scores = [f["accuracy"] for f in folds]
    rows = [{"fold": f["fold"], "accuracy": f"{f['accuracy']:.3f}"} for f in folds]
    rows.append({"fold": "mean ± std", "accuracy": f"{model.cv_mean:.3f} ± {model.cv_std:.3f}"})
    st.dataframe(pd.DataFrame(rows).astype(str), hide_index=True)
    st.vega_lite_chart(
        charts.spec(
            charts.fold_accuracy, [{"fold": f["fold"], "accuracy": f["accuracy"]} for f in folds]
        ),
        width="stretch",
    )
checked = out_of_fold.review(model.report, settings.data_dir)
if checked:
    st.markdown(
        "**Out-of-fold review** (each training image scored by the fold that did not train on it)"
    )
    ece_col, issues_col = st.columns(2)
    ece_col.metric(
        "Expected calibration error",
        f"{checked['ece']:.3f}",
        help="share-weighted gap between confidence and accuracy, 10 bins",
    )
    issues_col.metric(
        "Labels disputed",
        f"{len(checked['issues'])} of {checked['images']}",
        help="cleanlab's find_label_issues (confident learning) on the out-of-fold probabilities",
    )
    st.caption(
        "Reliability: accuracy against confidence per bin (a calibrated model is on the"
        " diagonal; a larger point holds more images)"
    )
    st.vega_lite_chart(charts.spec(charts.reliability, checked["reliability"]), width="content")
    if checked["note"]:
        st.caption(plain(f"Label review: {checked['note']}."))
    if checked["issues"]:
        st.page_link(
            "pages/datasets.py",
            icon=":material/dataset:",
            label="Review the disputed labels on the Datasets page",
            help="thumbnails, votes, probabilities; exclude an image or send it back for new votes",
        )
test = model.report.get("test")
if test:
    accuracy, f1, adjacent = st.columns(3)
    accuracy.metric("Test accuracy", f"{test['accuracy']:.3f}")
    f1.metric("Macro-F1", f"{test['macro_f1']:.3f}")
    adjacent.metric(
        "Adjacent accuracy",
        f"{test['adjacent_accuracy']:.3f}",
        help="the true mood or one of its two neighbours on the circle",
    )
    names = moods.names()
    counts = test["confusion_matrix"]
    rows_norm = [[c / max(1, sum(row)) for c in row] for row in counts]
    left, right = st.columns(2)
    title = "Confusion (counts): true x predicted"
    left.vega_lite_chart(
        charts.spec(charts.heatmap, counts, names, names, title=title, value="images"),
        width="stretch",
    )
    right.vega_lite_chart(
        charts.spec(
            charts.heatmap,
            rows_norm,
            names,
            names,
            title="Confusion (row-normalised)",
            value="share",
        ),
        width="stretch",
    )
history = model.report.get("final_history", [])
if history:
    st.markdown("**Training curve** (final model)")
    loss_col, accuracy_col = st.columns(2)
    loss_col.vega_lite_chart(charts.spec(charts.training_curve, history, "loss"), width="stretch")
    accuracy_col.vega_lite_chart(
        charts.spec(charts.training_curve, history, "accuracy"), width="stretch"
    )
