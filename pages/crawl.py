"""Crawl & import (lead): fill the candidate pool and watch it arrive."""

import pandas as pd
import streamlit as st

from moodlab.core.errors import MoodlabError
from moodlab.core.models import Role
from moodlab.core.text import label
from moodlab.images import duplicates
from moodlab.images.actions import start_crawl, start_import, start_openverse
from moodlab.images.crawl import CrawlParams
from moodlab.images.formats import READABLE_NAMES
from moodlab.images.importer import ImportParams
from moodlab.images.intake import IntakeResult, recent_images
from moodlab.images.openverse import OpenverseParams
from moodlab.images.uploads import ACCEPTED, start_upload_import
from moodlab.job_kinds import KINDS
from moodlab.jobs import queue as jobs
from moodlab.ui import access, charts, forms, jobs_view, layout, session, uploads
from moodlab.ui.files import held_url, image_url, thumbnail_url
from moodlab.ui.text import plain
from moodlab.ui.times import local

actor = access.require_role(Role.LEAD)
settings = session.settings()
INTAKE_KINDS = ("crawl", "import", "openverse")

st.title("Crawl & import")


def start(action) -> None:
    try:
        with session.database().session() as db:
            st.session_state["intake_job"] = action(db).id
    except MoodlabError as exc:
        st.error(plain(exc))


crawl_tab, upload_tab, folder_tab, openverse_tab = st.tabs(
    ["Crawl the web", "Upload files", "Import a folder", "Openverse"]
)

with crawl_tab:
    crawl_fields = forms.Kept("crawl", actor)
    default = CrawlParams.default
    seeds = st.text_area(
        "Seed pages, one URL per line",
        placeholder="https://example.org/gallery",
        **crawl_fields("seeds", ""),
    )
    pages_col, images_col, depth_col, delay_col = st.columns(4)
    max_pages = pages_col.number_input(
        "Max pages", 1, 100_000, **crawl_fields("max_pages", default("max_pages"))
    )
    max_images = images_col.number_input(
        "Max images", 1, 1_000_000, **crawl_fields("max_images", default("max_images"))
    )
    depth = depth_col.number_input(
        "Link depth",
        0,
        20,
        help="links followed from a seed",
        **crawl_fields("depth", default("depth")),
    )
    delay = delay_col.number_input(
        "Delay per host (s)",
        0.0,
        60.0,
        step=0.5,
        help="least time between two requests to one host; robots.txt may ask for more",
        **crawl_fields("delay", float(settings.crawl_delay_seconds)),
    )
    allow_private = st.checkbox(
        "The seeds are on a private network (allow private addresses for the seed hosts only)",
        **crawl_fields("allow_private", False),
    )
    if st.button("Start crawl", type="primary", icon=":material/travel_explore:"):
        start(
            lambda db: start_crawl(
                session=db,
                actor=actor,
                settings=settings,
                params=CrawlParams(
                    seeds=seeds.splitlines(),
                    max_pages=int(max_pages),
                    max_images=int(max_images),
                    depth=int(depth),
                    delay=float(delay),
                    allow_private=allow_private,
                ),
            )
        )

with upload_tab, st.form("upload", clear_on_submit=True):
    files = uploads.file_uploader(
        "Images or a .zip of images",
        max_bytes=settings.upload_max_bytes,
        type=[suffix.lstrip(".") for suffix in ACCEPTED],
        help=f"{READABLE_NAMES} pictures; several files may include zips, which are unpacked",
        accept_multiple_files=True,
    )
    if st.form_submit_button("Import", type="primary", icon=":material/upload:"):
        start(
            lambda db: start_upload_import(
                session=db,
                actor=actor,
                settings=settings,
                files=[(f.name, f) for f in files or []],
            )
        )

with folder_tab:
    folder = st.text_input(
        "A folder or .zip on the server",
        placeholder="/data/public/emotion6",
        **forms.Kept("folder", actor)("path", ""),
    )
    if st.button("Import", type="primary", icon=":material/folder_open:", key="import-folder"):
        start(
            lambda db: start_import(
                session=db, actor=actor, settings=settings, params=ImportParams(path=folder)
            )
        )

with openverse_tab:
    if not settings.openverse_url:
        st.caption(
            "Keyword search of openly licensed images on Openverse is off. To turn it on, start"
            " moodlab with `MOODLAB_OPENVERSE_URL=https://api.openverse.org/v1/images/`."
        )
    else:
        openverse_fields = forms.Kept("openverse", actor)
        with st.container():
            query = st.text_input(
                "Keywords", placeholder="calm lake at dusk", **openverse_fields("query", "")
            )
            count_col, licence_col = st.columns(2)
            count = count_col.number_input(
                "Max images",
                1,
                10_000,
                **openverse_fields("max_images", OpenverseParams.default("max_images")),
            )
            licences = licence_col.text_input(
                "Licences (optional)", placeholder="cc0,by", **openverse_fields("licences", "")
            )
            if st.button("Search and import", type="primary", icon=":material/search:"):
                start(
                    lambda db: start_openverse(
                        session=db,
                        actor=actor,
                        settings=settings,
                        params=OpenverseParams(
                            query=query, max_images=int(count), licenses=licences.strip() or None
                        ),
                    )
                )

with session.database().session() as db:
    intake_jobs = jobs.list_jobs(session=db, actor=actor, kinds=list(INTAKE_KINDS), limit=50)
if not intake_jobs:
    st.info("No crawls or imports yet.")
    st.stop()


@st.fragment(run_every="2s")
def job_selector() -> None:
    """The intake job to show; its labels' statuses re-read every 2 s, so the selector
    says what the card below it says. A new choice reruns the page."""
    with session.database().session() as db:
        listed = jobs.list_jobs(session=db, actor=actor, kinds=list(INTAKE_KINDS), limit=50)
    labels = {
        j.id: f"#{j.id} {KINDS[j.kind].title} · {j.status} · started {local(j.created_at)}"
        for j in listed
    }
    current = st.session_state.get("intake_job")
    current = current if current in labels else next(iter(labels))
    picked = st.selectbox(
        "Show", list(labels), format_func=labels.get, index=list(labels).index(current)
    )
    if picked != current:
        st.session_state["intake_job"] = picked
        st.rerun()


job_selector()
chosen = st.session_state.get("intake_job")
if chosen not in {j.id for j in intake_jobs}:
    chosen = intake_jobs[0].id


def near_duplicates_view(job) -> None:
    """Each held near-duplicate beside the stored image it resembles, with "Keep both".

    A page at a time, each row keyed by the candidate (so an open row stays itself when
    the list changes); the stored images of a page come in one query."""
    page_key = f"held-page-{job.id}"
    with session.database().session() as db:
        held = duplicates.held_page(
            session=db,
            actor=actor,
            settings=settings,
            job=job,
            page=st.session_state.get(page_key, 1) - 1,
        )
    if not held.total:
        return
    with st.expander(f"Near-duplicates ({held.total}, {held.waiting} not kept)"):
        st.caption(
            "Each candidate was left out because a stored image is near in structure and"
            " colour. Compare them; keep both when they are different pictures."
        )
        if held.pages > 1:
            st.number_input(f"Page (of {held.pages})", 1, held.pages, key=page_key)
        for item in held.items:
            row = st.container(key=f"held-{job.id}-{item.sha256[:16]}")
            new_col, old_col, action = row.columns([2, 2, 3])
            if item.kept_as is None and item.preview.exists():
                new_col.image(held_url(job.id, item.sha256), width=180)
            if (stored := held.resembles.get(item.kept_as or item.duplicate_of)) is not None:
                old_col.image(image_url(stored), width=180)
            action.text(f"{item.source}\n{item.reason}")
            if item.kept_as is not None:
                action.caption(f"kept as image #{item.kept_as}")
            elif action.button("Keep both", key=f"keep-{job.id}-{item.sha256}"):
                try:
                    with session.database().session() as db:
                        image_id = duplicates.keep_both(
                            session=db,
                            actor=actor,
                            settings=settings,
                            database=session.database(),
                            job_id=job.id,
                            sha256=item.sha256,
                        )
                    st.toast(f"Kept both: stored as image #{image_id}")
                    st.rerun()
                except MoodlabError as exc:
                    st.error(plain(exc))


@st.fragment(run_every="2s")
def intake_progress(job_id: int) -> None:
    with session.database().session() as db:
        job = jobs.get_job(session=db, actor=actor, job_id=job_id)
        arrived = recent_images(session=db, job_id=job_id, limit=24)
    jobs_view.job_card(job, actor)
    report = IntakeResult.from_json(job.result)
    by_reason = report.rejected_by_reason
    found = report.images_found if report.images_found is not None else report.files
    layout.metric_row(
        [
            ("Pages fetched", "–" if report.pages_fetched is None else report.pages_fetched),
            ("Images found", "–" if found is None else found),
            ("Stored", report.stored),
            ("Duplicates", report.duplicates),
            ("Rejected", report.rejected_count),
        ]
    )
    if by_reason:
        st.markdown("**Rejected, by reason**")
        shown = {label(reason): n for reason, n in by_reason.items()}
        st.vega_lite_chart(
            charts.spec(charts.bars_by, shown, label="reason", value="rejected"), width="stretch"
        )
        with st.expander("Every rejection"):
            rows = [{**row, "kind": label(row.get("kind", ""))} for row in report.rejected]
            st.dataframe(pd.DataFrame(rows), hide_index=True)
    near_duplicates_view(job)
    st.markdown(f"**Arrived** ({report.stored}; newest first)")
    st.page_link("pages/pool.py", label="Every image, with search and filters: Pool")
    if not arrived:
        st.caption("Nothing stored yet.")
    grid = st.columns(6)
    for i, image in enumerate(arrived):
        caption = image.alt_text or (image.source_url or "").rsplit("/", 1)[-1]
        cell = grid[i % 6]
        cell.image(thumbnail_url(image.sha256), width="stretch")
        cell.text(caption[:40])  # plain text: a caption= would be Markdown (moodlab/ui/text.py)


intake_progress(chosen)
