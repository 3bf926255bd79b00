"""Agreement (lead): how far the annotators agree, per tier, per mood and per person."""

import pandas as pd
import streamlit as st

from moodlab.core import moods
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Role
from moodlab.core.text import label, plural
from moodlab.training.queue_scores import QueueScoreParams, start_queue_scoring
from moodlab.ui import access, charts, guidelines_view, session
from moodlab.ui.text import plain
from moodlab.ui.times import local
from moodlab.votes import guidelines, order
from moodlab.votes.agreement import agreement_report, dawid_skene_estimate

actor = access.require_role(Role.LEAD)
settings = session.settings()
with session.database().session() as db:
    # The Dawid-Skene estimate is asked for below, only while its section is open.
    report = agreement_report(session=db, actor=actor, settings=settings, dawid_skene=False)
    guideline_versions = guidelines.versions_in_use(db)


def shown(value) -> str:
    return "–" if value is None else f"{value:.3f}"


st.title("Agreement")
st.caption(
    f"{plural(report['votes'], 'vote')} and {plural(report['skips'], 'skip')} on"
    f" {plural(report['images_with_votes'], 'image')}. Train: {settings.train_quorum}+ of"
    f" {settings.annotators_per_item} agree;"
    f" test: a unique top mood with {settings.test_quorum}."
)
kappa, alpha, circular = st.columns(3)
kappa.metric("Fleiss' kappa", shown(report["fleiss_kappa"]), help="over images with all votes in")
alpha.metric("Krippendorff's alpha", shown(report["krippendorff_alpha"]), help="nominal")
circular.metric(
    "Circular alpha",
    shown(report["circular_alpha"]),
    help="Krippendorff's alpha with the angular distance between moods on the circle:"
    " neighbouring moods disagree less than opposite ones",
)

if len([v for v in guideline_versions if v.version]) > 1:
    newest, before = guideline_versions[0], guideline_versions[1]
    compared = (
        f" Votes agreeing with the others' majority: {newest.agreement:.0%} under it,"
        f" {before.agreement:.0%} under version {before.version}."
        if newest.agreement is not None and before.agreement is not None
        else ""
    )
    st.info(
        plain(
            f"The guidelines changed: version {newest.version} since"
            f" {local(newest.created_at)}"
            + (f" ({', '.join(newest.changed)})" if newest.changed else "")
            + f", with {plural(newest.votes, 'vote')} under it so far."
            + compared
            + " The votes per version are under Guidelines versions below."
        ),
        icon=":material/menu_book:",
    )

st.subheader("Tiers")
st.dataframe(
    pd.DataFrame([{label(tier): n for tier, n in report["tiers"].items()}]), hide_index=True
)
per_mood = pd.DataFrame(
    [
        {"mood": m, "tier": label(t), "images": n[t]}
        for m, n in report["per_mood"].items()
        for t in n
    ]
)
st.vega_lite_chart(
    charts.spec(charts.mood_bars, per_mood.to_dict("records"), value="images", group="tier"),
    width="stretch",
)
st.caption(
    f"Votes saved: {plural(report['votes_saved'], 'answer')} not asked for."
    f" {plural(report['decided_early'], 'image')} left every queue as soon as the answers"
    " so far decided the tier (early stop: the answers to come could not change it)."
)

st.subheader("Queue order")
with session.database().session() as db:
    choice = order.current_order(db)
st.caption(
    ("Each annotator's own order" if choice.kind == order.OWN else "The model's order")
    + (f", chosen by {choice.chosen_by}" if choice.chosen_by else "")
    + ". Images closest to a decision come first in either; annotators never see a score."
)
if choice.kind == order.MODEL:
    with session.database().session() as db:
        scoring = order.active_scoring(db)
    if scoring.model_id is None:
        st.warning("No model is active: each annotator's own order holds until one is.")
    elif not scoring.scored:
        st.info(
            f"The active model #{scoring.model_id} has not scored the waiting images yet"
            " (a queue scoring job does: see Jobs); until it has, each annotator's own"
            " order holds."
        )
    else:
        st.caption(
            f"{plural(scoring.scored, 'image')} scored by the active model"
            f" #{scoring.model_id} ({local(scoring.scored_at)}); images"
            " added since take random places."
        )
kind = st.radio(
    "Order images reach annotators",
    order.KINDS,
    index=order.KINDS.index(choice.kind),
    format_func=lambda k: (
        "each annotator's own" if k == order.OWN else "the active model's least sure first"
    ),
    horizontal=True,
    key="queue-order",
)
share = st.number_input(
    "Share of places drawn at random (model order)",
    min_value=0.0,
    max_value=1.0,
    value=choice.random_share,
    step=0.05,
    key="queue-share",
    disabled=kind != order.MODEL,
)
if st.button("Apply", key="queue-apply"):
    try:
        with session.database().session() as db:
            job = None
            if kind == order.MODEL:
                job = start_queue_scoring(
                    session=db, actor=actor, settings=settings, params=QueueScoreParams()
                )
            order.choose_order(session=db, actor=actor, kind=kind, random_share=share)
    except MoodlabError as exc:
        st.error(plain(exc))
    else:  # drawn again, so the lines above show the new choice
        st.toast(
            f"Job #{job.id} scores the waiting images with the active model."
            if job
            else "Each annotator gets their own order."
        )
        st.rerun()

st.subheader("Annotators")
people = pd.DataFrame.from_dict(report["annotators"], orient="index").rename_axis("annotator")
st.dataframe(
    people.reset_index(),
    hide_index=True,
    column_config={
        "agreement_with_majority": st.column_config.ProgressColumn(
            "agrees with the others' majority", min_value=0.0, max_value=1.0, format="percent"
        ),
        "valence_bias": st.column_config.NumberColumn("valence bias", format="%+.2f"),
        "arousal_bias": st.column_config.NumberColumn("arousal bias", format="%+.2f"),
    },
)
left, right = st.columns(2)
names = list(report["annotator_matrix"])
if names:
    # Each annotator agrees with themself: the diagonal's 1s say nothing, so it stays blank.
    matrix = [[None if a == b else report["annotator_matrix"][a][b] for b in names] for a in names]
    left.vega_lite_chart(
        charts.spec(
            charts.heatmap,
            matrix,
            names,
            names,
            title="Cohen's kappa between annotators",
            value="kappa",
        ),
        width="stretch",
    )
confusion = report["confusion"]
right.vega_lite_chart(
    charts.spec(
        charts.heatmap,
        confusion["counts"],
        confusion["moods"],
        confusion["moods"],
        title="Which moods annotators give the same image",
        value="pairs",
        sort=moods.names(),
    ),
    width="stretch",
)

st.subheader("Guidelines versions")
st.caption(
    "Every vote records the version of the guidelines it was given under (the votes CSV"
    " says which). Version 'none': votes from before versions were kept, or imported."
    " Agreement: of a version's votes whose image's other votes have a unique top mood,"
    " the share that gave it."
)
st.dataframe(
    guidelines_view.versions_rows(guideline_versions),
    hide_index=True,
)

st.subheader("Dawid-Skene estimate")
st.caption(
    "Each annotator's confusion matrix and each image's most likely mood, estimated together"
    " by EM (Dawid and Skene, 1979) from every vote, weighting reliable annotators more."
    " It is shown beside the tiers: the paper's rule above still decides the data sets."
)
# EM over every vote (0.4 s at 20,000 images, again after each new vote):
# it runs only while this section is open.
estimate = st.expander("The estimate", key="agreement-ds", on_change="rerun")
if estimate.open:
    with session.database().session() as db:
        ds = dawid_skene_estimate(session=db, actor=actor)
    with estimate:
        if ds["images"]:
            agreed = ds["agrees_with_majority"]
            em_col, conv_col = st.columns(2)
            em_col.metric(
                "Agrees with the unique majority",
                "–" if agreed is None else f"{agreed:.1%}",
                help="over images whose votes have a unique top mood",
            )
            conv_col.metric(
                "EM iterations",
                f"{ds['iterations']}" + ("" if ds["converged"] else " (not converged)"),
            )
            reliability = pd.DataFrame(
                [
                    {"annotator": name, "accuracy": a["accuracy"]}
                    for name, a in ds["annotators"].items()
                ]
            )
            st.dataframe(
                reliability,
                hide_index=True,
                column_config={
                    "accuracy": st.column_config.ProgressColumn(
                        "estimated chance of naming the true mood",
                        min_value=0.0,
                        max_value=1.0,
                        format="percent",
                    )
                },
            )
            if ds["annotators"]:
                who = st.selectbox(
                    "Confusion matrix of", list(ds["annotators"]), key="ds-annotator"
                )
                st.altair_chart(
                    charts.heatmap(
                        ds["annotators"][who]["confusion"],
                        ds["moods"],
                        ds["moods"],
                        title=f"{who}: true mood (rows) against the mood given",
                        value="probability",
                        sort=moods.names(),
                    ),
                    width="stretch",
                )
            unsure = sorted(ds["images"], key=lambda row: row["probability"])[:20]
            st.caption("The images the estimate is least sure of")
            st.dataframe(pd.DataFrame(unsure), hide_index=True)
        else:
            st.info("No votes yet.")
