"""Agreement (lead): how far the annotators agree, per tier, per mood and per person."""

import pandas as pd
import streamlit as st

from moodlab.core import moods
from moodlab.core.models import Role
from moodlab.core.text import label, plural
from moodlab.ui import charts, session
from moodlab.votes.agreement import agreement_report

actor = session.require_role(Role.LEAD)
settings = session.settings()
with session.database().session() as db:
    report = agreement_report(session=db, actor=actor, settings=settings)


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
    "Circular alpha", shown(report["circular_alpha"]),
    help="Krippendorff's alpha with the angular distance between moods on the circle:"
    " neighbouring moods disagree less than opposite ones",
)  # fmt: skip

st.subheader("Tiers")
st.dataframe(
    pd.DataFrame([{label(tier): n for tier, n in report["tiers"].items()}]), hide_index=True
)
per_mood = pd.DataFrame(  # fmt: skip
    [
        {"mood": m, "tier": label(t), "images": n[t]}
        for m, n in report["per_mood"].items()
        for t in n
    ]
)
st.bar_chart(per_mood, x="mood", y="images", color="tier", sort=False, height=260)

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
    left.altair_chart(
        charts.heatmap(
            matrix, names, names, title="Cohen's kappa between annotators", value="kappa"
        ),
        width="stretch",
    )
confusion = report["confusion"]
right.altair_chart(
    charts.heatmap(
        confusion["counts"],
        confusion["moods"],
        confusion["moods"],
        title="Which moods annotators give the same image",
        value="pairs",
        sort=moods.names(),
    ),  # fmt: skip
    width="stretch",
)
