"""Guidelines: what each mood means, with examples; the lead edits and publishes versions."""

import streamlit as st

from moodlab.core import moods
from moodlab.core.models import Image, Role
from moodlab.core.storage import ContentStore
from moodlab.images.intake import thumbnail_path
from moodlab.ui import access, guidelines_view, layout, session
from moodlab.ui.files import thumbnail_url
from moodlab.ui.text import plain
from moodlab.votes import guidelines

actor = access.require_role(Role.ANNOTATOR, Role.LEAD)
settings = session.settings()
with session.database().session() as db:
    current = guidelines.current(db)
    examples = guidelines.example_images(db, current)
    versions = guidelines.versions_in_use(db) if actor.is_lead else []

st.title("Guidelines")
st.caption(plain(guidelines_view.version_line(current)))
guidelines_view.show(current, examples, settings)

if actor.is_lead:
    st.subheader("Edit and publish a new version")
    st.caption(
        "Every vote records the version it was given under; annotators are shown a new"
        " version before their next vote, and Agreement lists the versions with their votes."
    )
    store = ContentStore(settings.data_dir)
    with session.database().session() as db:
        candidates = guidelines.example_candidates_of(session=db, actor=actor, names=moods.names())
    quorum = settings.annotators_per_item

    def answered(image: Image) -> str:
        """``"image 12 · 4 of 4 answers"``: an example still short of answers is not blind."""
        return f"image {image.id} · {image.response_count} of {quorum} answers"

    st.caption(
        "Annotators see each example with its mood: prefer images whose answers are"
        f" complete ({quorum} of {quorum}), so no one votes on an example they were shown."
    )
    intro = st.text_area("Introduction", value=current.intro, height=160)
    definitions, texts, chosen = {}, {}, {}
    for mood in moods.all_moods():
        guide = current.moods[mood.name]
        with st.expander(f"{mood.name}: {guide.definition}"):
            definitions[mood.name] = st.text_input(
                "One-line definition (on the mood's key)",
                value=guide.definition,
                max_chars=guidelines.MAX_DEFINITION,
                key=f"guide-def-{mood.name}",
            )
            texts[mood.name] = st.text_area(
                "Explanation", value=guide.text, key=f"guide-text-{mood.name}"
            )
            pool = {image.id: image for image in candidates[mood.name] + examples[mood.name]}
            if pool:
                st.image(
                    [
                        thumbnail_url(image.sha256)
                        for image in pool.values()
                        if thumbnail_path(store, image.sha256).exists()
                    ],
                    caption=[
                        answered(image)
                        for image in pool.values()
                        if thumbnail_path(store, image.sha256).exists()
                    ],
                    width=96,
                )
            chosen[mood.name] = st.multiselect(
                f"Example images (up to {guidelines.MAX_EXAMPLES}): those most voted"
                f" {mood.name} are offered first, then the newest",
                options=list(pool),
                default=[i for i in guide.examples if i in pool],
                format_func=lambda image_id, pool=pool: answered(pool[image_id]),
                max_selections=guidelines.MAX_EXAMPLES,
                key=f"guide-examples-{mood.name}",
            )
    note = st.text_input("What changed (shown on Agreement)", key="guide-note")
    if st.button("Publish a new version", type="primary", icon=":material/publish:"):
        layout.act(
            lambda db: guidelines.publish(
                session=db,
                actor=actor,
                intro=intro,
                definitions=definitions,
                texts=texts,
                examples=chosen,
                note=note,
            ),
            f"Version {current.version + 1} of the guidelines is published",
        )

    st.subheader("Versions")
    st.dataframe(guidelines_view.versions_rows(versions), hide_index=True)
