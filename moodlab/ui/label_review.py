"""The Datasets page's label review: disputed labels and the lead's two decisions.

Each image whose label a model's out-of-fold predictions dispute is shown with its
thumbnail, who voted what in its current round, its label against the model's eight
probabilities, and its history; the lead may leave it out of new snapshots (or undo
that) and send it back for a new round of votes. The services check the role and the
input (moodlab.datasets.review, .exclusions, moodlab.votes.rounds); this draws them.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from moodlab.core.auth import Actor
from moodlab.core.config import Settings
from moodlab.core.storage import ContentStore
from moodlab.datasets import exclusions
from moodlab.datasets import review as label_review
from moodlab.datasets.review import Disputed
from moodlab.images.intake import thumbnail_path
from moodlab.ui import charts, session
from moodlab.ui.files import thumbnail_url
from moodlab.ui.gallery import pager
from moodlab.ui.layout import act
from moodlab.ui.text import plain
from moodlab.ui.times import local
from moodlab.votes import rounds

SHOWN = 12  # disputed images a page; the pager reaches every one


def section(actor: Actor, settings: Settings) -> None:
    st.subheader("Labels a model disputes")
    with session.database().session() as db:
        models = label_review.reviewable_models(session=db, actor=actor)
    if not models:
        st.caption(
            "No cross-validated model yet: train one with 2 or more folds on the Training"
            " page, and its out-of-fold predictions are reviewed here."
        )
        return
    by_id = {m.id: m for m in models}
    chosen = st.selectbox(
        "Out-of-fold predictions of",
        list(by_id),
        key="review-model",
        format_func=lambda i: f"model #{i} ({by_id[i].arch}, snapshot #{by_id[i].snapshot_id})",
    )
    with session.database().session() as db:
        # Kept per model and images (moodlab.datasets.review): a rerun reviews nothing.
        found = label_review.label_review(
            session=db, actor=actor, settings=settings, model_id=chosen, states=False
        )
    if found is None:
        return
    st.caption(
        f"{len(found.disputed)} of {found.images} training images have a label the model"
        " confidently disputes (cleanlab's confident learning), worst first. Exclude one"
        " from new snapshots, or send it back for a new round of votes (its votes are"
        " archived)."
    )
    if found.note:
        st.caption(plain(f"Not reviewed: {found.note}."))
    store = ContentStore(settings.data_dir)
    shown = pager(total=len(found.disputed), per_page=SHOWN, key=f"review-page-{chosen}")
    # Votes, rounds and exclusions: read for the page shown only.
    with session.database().session() as db:
        page = label_review.with_states(session=db, actor=actor, disputed=found.disputed[shown])
    for item in page:
        with st.container(border=True):
            _disputed(item, actor, store)


def _disputed(item: Disputed, actor: Actor, store: ContentStore) -> None:
    picture, facts, chart = st.columns([1, 3, 3])
    path = thumbnail_path(store, item.sha256)
    if path.exists():
        picture.image(thumbnail_url(item.sha256), width=128)
    who = f"image {item.image_id}" if item.image_id is not None else "an image no longer stored"
    facts.markdown(
        f"**{who}** · label **{item.label}** ({item.p_label:.0%}), the model says"
        f" **{item.suggested}** ({item.p_suggested:.0%})"
    )
    votes = " · ".join(f"{name}: {mood}" for name, mood in item.votes) or "none yet"
    facts.caption(plain(f"Votes, round {item.round}: {votes}"))
    if item.excluded is not None:
        by, at = item.excluded.by or "the command line", item.excluded.at
        note = f"Excluded from new snapshots by {by}, {local(at)}"
        facts.caption(plain(f"{note}: {item.excluded.reason}"))
    # The spec is kept per image (charts.spec): twelve Altair charts cost 0.25 s a rerun.
    probs = charts.spec(
        charts.mood_probabilities, item.probs, label=item.label, suggested=item.suggested
    )
    chart.vega_lite_chart(probs, width="stretch")
    if item.image_id is None:
        return
    image_id = item.image_id
    reason = facts.text_input(
        "Reason",
        key=f"review-reason-{image_id}",
        placeholder="why (kept with your name and the time)",
    )
    buttons = facts.container(horizontal=True)
    if item.excluded is not None:
        if buttons.button("Include again", key=f"include-{image_id}", icon=":material/undo:"):
            act(
                lambda db: exclusions.include(session=db, actor=actor, image=image_id),
                f"Image {image_id} may join new snapshots again",
            )
    elif buttons.button(
        "Exclude from new snapshots", key=f"exclude-{image_id}", icon=":material/block:"
    ):
        act(
            lambda db: exclusions.exclude(session=db, actor=actor, image=image_id, reason=reason),
            f"Image {image_id} is left out of new snapshots",
        )
    if buttons.button(
        "Send back for new votes", key=f"send-back-{image_id}", icon=":material/replay:"
    ):
        act(
            lambda db: rounds.send_back(session=db, actor=actor, image=image_id, reason=reason),
            f"Image {image_id} is back in the annotators' queues; its votes are archived",
        )
    # Read only when opened: twelve closed expanders were twelve queries a rerun.
    history = facts.expander("History", key=f"review-history-{image_id}", on_change="rerun")
    if history.open:
        with history:
            _history(actor, image_id)


def _history(actor: Actor, image_id: int) -> None:
    with session.database().session() as db:
        found = label_review.image_history(session=db, actor=actor, image=image_id)
    rows = [
        {
            "round": r.round,
            "annotator": v["annotator"],
            "mood": v["mood"],
            "voted": local(v["at"]),
            "state": "current" if r.closed_at is None else "archived",
        }
        for r in found.rounds
        for v in r.votes
    ]
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True)
    for r in found.rounds:
        if r.closed_at is not None:
            tie = f"; its tie-break: {r.tie_break}" if r.tie_break else ""
            st.caption(
                plain(
                    f"Round {r.round} closed {local(r.closed_at)} by"
                    f" {r.closed_by or 'the command line'}: {r.reason}{tie}"
                )
            )
    for e in found.exclusions:
        lifted = f", lifted {local(e.lifted_at)}" if e.lifted_at else ""
        st.caption(
            plain(f"Excluded {local(e.at)} by {e.by or 'the command line'}: {e.reason}{lifted}")
        )
