"""Datasets (lead): preview the train and test sets, break ties, review labels, freeze, export."""

import pandas as pd
import streamlit as st

from moodlab.core import moods
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Role
from moodlab.core.text import plural
from moodlab.datasets import snapshots as datasets
from moodlab.datasets import ties, wording
from moodlab.datasets.actions import start_export
from moodlab.datasets.datasheet import snapshot_datasheet
from moodlab.datasets.export import ExportParams, export_path
from moodlab.ui import access, charts, forms, label_review, session
from moodlab.ui.files import export_url, thumbnail_url
from moodlab.ui.gallery import pager
from moodlab.ui.text import plain
from moodlab.ui.times import local

actor = access.require_role(Role.LEAD)
settings = session.settings()

st.title("Datasets")
st.caption(
    f"Train: a unique top mood with {settings.train_quorum}+ of {settings.annotators_per_item}"
    f" votes. Test: a unique top mood with {settings.test_quorum}, train-tier images the cap"
    " leaves out, and ties you break below."
)

fields = forms.Kept("datasets", actor)
cap_col, test_col, seed_col = st.columns(3)
uncapped = st.session_state.get("datasets_uncapped", False)
balance = cap_col.checkbox(
    "Balance to the smallest mood", disabled=uncapped, **fields("balance", True)
)
cap = (
    None
    if balance
    else cap_col.number_input("Train images per mood", 0, 1_000_000, **fields("cap", 100))
)
if uncapped:
    cap_col.caption("Uncapped: every train-tier image, unbalanced.")
    if cap_col.button("Cap again"):
        st.session_state["datasets_uncapped"] = False
        st.rerun()
limit_test = test_col.checkbox(
    "Limit test images per mood", help="the paper used 20", **fields("limit_test", False)
)
test_per_mood = (
    test_col.number_input("Test images per mood", 0, 100_000, **fields("test_per_mood", 20))
    if limit_test
    else None
)
seed = seed_col.number_input(
    "Seed",
    0,
    2**31 - 1,
    help="the same seed, votes and rules give the same set",
    **fields("seed", 0),
)
rules = datasets.Rules(
    per_mood_cap=None if cap is None else int(cap),
    test_per_mood=None if test_per_mood is None else int(test_per_mood),
    seed=int(seed),
    uncapped=uncapped,
)

with session.database().session() as db:
    preview = datasets.plan(session=db, actor=actor, settings=settings, rules=rules)
    disputed = ties.disputed_images(session=db, actor=actor, settings=settings)
    snapshots = datasets.list_snapshots(session=db, actor=actor)

st.subheader("Preview")
for warning in preview.warnings:
    st.warning(warning, icon=":material/warning:")
if preview.low_cap and not uncapped:
    uncapped_total = sum(preview.uncapped_train.values())
    if st.button(f"Use every train-tier image instead ({uncapped_total}, unbalanced)"):
        st.session_state["datasets_uncapped"] = True
        st.rerun()
counts = pd.DataFrame(
    [
        {"mood": m, "set": split, "images": n}
        for split in ("train", "test")
        for m, n in preview.counts(split).items()
    ]
)
# Kept by its counts (charts.spec): a rerun, or a vote that moves no image between the
# sets, draws the same chart without Altair building and validating it again.
st.vega_lite_chart(
    charts.spec(charts.mood_bars, counts.to_dict("records"), value="images", group="set"),
    width="stretch",
)
train_total, test_total = (
    sum(preview.counts("train").values()),
    sum(preview.counts("test").values()),
)
st.caption(
    f"{train_total} train and {plural(test_total, 'test image')};"
    f" {plural(preview.disputed, 'disputed image')}"
    f" {'waits' if preview.disputed == 1 else 'wait'} for a decision; cap per mood:"
    f" {preview.cap}; manifest {preview.manifest_sha256[:12]}…"
    + (f"; {preview.rules['excluded']} excluded by you" if preview.rules["excluded"] else "")
)
if preview.unanimous_in_test:
    st.caption(
        f"Balancing puts {plural(preview.unanimous_in_test, 'unanimous image')} (all"
        f" {settings.annotators_per_item} annotators agreeing) in the test set: train-tier"
        " images the cap leaves out are tested on, not trained on."
    )
if st.button("Freeze snapshot", type="primary", icon=":material/ac_unit:", disabled=preview.empty):
    try:
        with session.database().session() as db:
            frozen = datasets.freeze_plan(session=db, actor=actor, settings=settings, rules=rules)
            number = frozen.snapshot.id
        if frozen.existing:
            st.toast(f"Snapshot #{number} already holds exactly this set: nothing new frozen")
        else:
            st.toast(f"Froze snapshot #{number}")
        st.rerun()
    except MoodlabError as exc:
        st.error(plain(exc))

st.subheader(f"Disputed images ({sum(d.decision is None for d in disputed)} undecided)")
if not disputed:
    st.caption("No 2-2 ties.")
for tie in disputed[pager(total=len(disputed), per_page=24, key="ties-page")]:
    picture, votes, choice = st.columns([1, 2, 3])
    picture.image(thumbnail_url(tie.sha256), width=128)
    votes.write(", ".join(f"{mood} {n}" for mood, n in tie.votes.items()))
    votes.caption(f"decision: {tie.decision or 'none yet'}")
    buttons = choice.container(horizontal=True)
    for mood in [*tie.tied, None]:
        label = mood or "Leave out"
        if buttons.button(label, key=f"tie-{tie.image_id}-{label}"):
            with session.database().session() as db:
                ties.break_tie(
                    session=db, actor=actor, settings=settings, image_id=tie.image_id, mood=mood
                )
            st.rerun()

label_review.section(actor, settings)

st.subheader("Snapshots")
if not snapshots:
    st.caption("None frozen yet.")
for snapshot in snapshots:
    with st.container(border=True):
        head, action = st.columns([4, 1])
        n_train, n_test = sum(snapshot.train_counts.values()), sum(snapshot.test_counts.values())
        head.markdown(
            f"**#{snapshot.id}** · {local(snapshot.created_at)}"
            f" · train {n_train} · test {n_test}"
            f" · manifest `{snapshot.manifest_sha256[:16]}…`"
        )
        out = export_path(settings, snapshot.id)
        if out.exists():
            # A link, not the zip's bytes: the browser fetches it from the file route
            # only when clicked (moodlab/ui/files.py).
            action.link_button("Download zip", export_url(snapshot.id), icon=":material/download:")
        elif action.button("Export", key=f"export-{snapshot.id}", icon=":material/archive:"):
            try:
                with session.database().session() as db:
                    params = ExportParams(snapshot_id=snapshot.id, out=str(out))
                    start_export(session=db, actor=actor, settings=settings, params=params)
                st.toast("Export queued: see the Jobs page; the download appears here when done.")
            except MoodlabError as exc:
                st.error(plain(exc))
        with st.expander("Rules and counts"):
            st.caption(wording.rules_text(snapshot.rules or {}))
            moods_in = [
                m
                for m in moods.names()
                if snapshot.train_counts.get(m) or snapshot.test_counts.get(m)
            ]
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "mood": m,
                            "train": snapshot.train_counts.get(m, 0),
                            "test": snapshot.test_counts.get(m, 0),
                        }
                        for m in moods_in
                    ]
                ),
                hide_index=True,
            )
            st.caption(
                f"{plural(snapshot.disputed, 'disputed image')} left out ·"
                f" manifest sha256 `{snapshot.manifest_sha256}`"
            )
        with st.expander("Datasheet"):
            st.caption(
                "The export's datasheet.md (the zip also holds labels.csv and labels.json with"
                " each image's provenance, and votes.csv with who voted what, when)."
            )
            if st.toggle("Show the datasheet", key=f"sheet-{snapshot.id}"):
                with session.database().session() as db:
                    text = snapshot_datasheet(session=db, actor=actor, snapshot_id=snapshot.id)
                # Plain text: licences and hosts in it come from the web (no Markdown).
                st.code(text, language=None, wrap_lines=True)
