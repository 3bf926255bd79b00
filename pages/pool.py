"""Pool (lead): every stored image by page, filtered and searched; one in full with its
votes and provenance; exclude, send back, delete or keep many at once."""

import pandas as pd
import streamlit as st

from moodlab.core import moods
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Role
from moodlab.datasets import pool
from moodlab.datasets.pool import PoolFilter, Source
from moodlab.ui import access, session
from moodlab.ui.files import held_url, image_url, thumbnail_url
from moodlab.ui.gallery import pager
from moodlab.ui.text import plain
from moodlab.ui.times import local
from moodlab.votes.quorum import Tier

actor = access.require_role(Role.LEAD)
settings = session.settings()
database = session.database()
ANY = "any"
PAGE_KEY = "pool-page"
COLUMNS = 6  # thumbnails a row at 1280 px; Streamlit stacks them on a phone
# The 128 px thumbnail copy, at most a little larger: stretched to a phone's width it
# was blurred and made the page 9,000 px long.
THUMBNAIL_WIDTH = 160


def first_page() -> None:
    st.session_state[PAGE_KEY] = 1


st.title("Pool")
st.caption(
    "Every stored image, newest first. Filter, search, open one to see its votes and where"
    " it came from; tick images to act on them together. `moodlab pool` does the same."
)
held_mode = st.segmented_control(
    "Show", ["Stored images", "Held near-duplicates"], default="Stored images", key="pool-mode"
)

if held_mode == "Held near-duplicates":
    held_job = st.number_input(
        "Job", 0, 2**31 - 1, key="pool-held-job", help="0: any crawl or import", width=180
    )
    with database.session() as db:
        held = pool.held_images(
            session=db, actor=actor, settings=settings, job_id=int(held_job) or None
        )
    if not held:
        st.caption("No near-duplicate is held: intake jobs kept or stored every one.")
    held = held[pager(total=len(held), per_page=pool.PER_PAGE, key="pool-held-page")]
    cells = st.columns(COLUMNS)
    for n, item in enumerate(held):
        cell = cells[n % COLUMNS]
        cell.image(held_url(item.job_id, item.sha256), width="stretch")
        cell.checkbox(
            "keep",
            key=f"pool-held-{item.job_id}-{item.sha256}",
            help=plain(f"{item.source}: {item.reason} (like image {item.duplicate_of})"),
        )
        cell.caption(plain(f"job {item.job_id} · like #{item.duplicate_of}"))
    picked = [
        (item.job_id, item.sha256)
        for item in held
        if st.session_state.get(f"pool-held-{item.job_id}-{item.sha256}")
    ]
    if st.button(f"Keep {len(picked)} after all", disabled=not picked, type="primary"):
        done = pool.keep_held(database=database, actor=actor, settings=settings, held=picked)
        st.toast(plain(done.summary()))
        st.rerun()
    st.stop()

search = st.text_input(
    "Search",
    placeholder="file name, URL, alt text or sha256",
    key="pool-search",
    on_change=first_page,
)
tier_col, mood_col, source_col, excluded_col = st.columns(4)
tier = tier_col.selectbox(
    "Tier", [ANY, *(t.value for t in Tier)], key="pool-tier", on_change=first_page
)
mood = mood_col.selectbox("Mood", [ANY, *moods.names()], key="pool-mood", on_change=first_page)
source = source_col.selectbox(
    "Source",
    [ANY, *(s.value for s in Source), "a host"],
    key="pool-source",
    on_change=first_page,
    help="web: crawled or Openverse; files: imported or uploaded",
)
excluded = excluded_col.selectbox(
    "Excluded", [ANY, "excluded", "not excluded"], key="pool-excluded", on_change=first_page
)
host_col, job_col, dates_col = st.columns([2, 1, 2])
host = (
    host_col.text_input("Host", placeholder="example.org", key="pool-host", on_change=first_page)
    if source == "a host"
    else ""
)
job_id = job_col.number_input(
    "Job", 0, 2**31 - 1, key="pool-job", on_change=first_page, help="0: any crawl or import"
)
dates = dates_col.date_input(
    "Added", value=(), key="pool-dates", on_change=first_page, help="a day or a range (UTC)"
)
since = dates[0] if len(dates) >= 1 else None
until = dates[1] if len(dates) == 2 else since

where = PoolFilter(
    tier=None if tier == ANY else tier,
    mood=None if mood == ANY else mood,
    source=host.strip() or None if source == "a host" else None if source == ANY else source,
    job_id=int(job_id) or None,
    since=since,
    until=until,
    excluded=None if excluded == ANY else excluded == "excluded",
    search=search,
    page=int(st.session_state.get(PAGE_KEY, 1)),
)
try:
    with database.session() as db:
        found = pool.browse(session=db, actor=actor, settings=settings, where=where)
except MoodlabError as exc:
    st.error(plain(exc))
    st.stop()

head, pages = st.columns([3, 1], vertical_alignment="bottom")
head.caption(f"{found.total} images match · page {found.page} of {found.pages}")
if found.pages > 1:
    st.session_state[PAGE_KEY] = found.page
    pages.number_input(f"Page (of {found.pages})", 1, found.pages, key=PAGE_KEY)


@st.dialog("Image", width="large")
def show(image_id: int) -> None:
    try:
        with database.session() as db:
            seen = pool.pool_image(session=db, actor=actor, settings=settings, image=image_id)
    except MoodlabError as exc:
        st.error(plain(exc))
        return
    st.image(image_url(seen.item.sha256), width="stretch")
    item = seen.item
    st.text(
        f"#{item.id} · {item.width}x{item.height} · tier {item.tier}"
        + (f" · {item.mood}" if item.mood else "")
        + f" · round {seen.round} of votes"
        + (
            f" · in snapshots {', '.join(f'#{s}' for s in seen.snapshots)}"
            if seen.snapshots
            else ""
        )
    )
    if seen.exclusion_reason is not None:
        st.text(f"Excluded from new snapshots: {seen.exclusion_reason}")
    votes = [
        {
            "annotator": v.annotator or "(deleted)",
            "mood": v.mood,
            "at": local(v.at),
        }
        for v in seen.votes
    ]
    if votes:
        st.dataframe(pd.DataFrame(votes), hide_index=True)
    else:
        st.caption("No votes yet.")
    provenance = [
        {"what": k, "value": "" if v is None else str(v)} for k, v in seen.provenance().items()
    ]
    st.dataframe(pd.DataFrame(provenance), hide_index=True, width="stretch")


picked_keys = {item.id: f"pool-pick-{item.id}" for item in found.items}


def pick_all(ticked: bool) -> None:
    # A callback runs before the checkboxes are drawn, so it may set their state.
    for key in picked_keys.values():
        st.session_state[key] = ticked


if found.items:
    picks = st.container(horizontal=True)
    picks.button(
        f"Pick all {len(found.items)} on this page", on_click=pick_all, args=(True,), key="pool-all"
    )
    picks.button("Pick none", on_click=pick_all, args=(False,), key="pool-none")
cells = st.columns(COLUMNS)
for n, item in enumerate(found.items):
    cell = cells[n % COLUMNS].container(border=True)
    if item.thumbnail.is_file():
        cell.image(thumbnail_url(item.sha256), width=THUMBNAIL_WIDTH)
    label = item.tier.replace("_", " ") + (f" · {item.mood}" if item.mood else "")
    cell.text(f"#{item.id} {label}" + (" · excluded" if item.excluded else ""))
    cell.caption(plain(item.name))
    # A wrapping row, not columns: two columns in a sixth of 1280 px cut "pick" and "View".
    row = cell.container(horizontal=True, gap="small")
    row.checkbox("pick", key=picked_keys[item.id])
    if row.button("View", key=f"pool-view-{item.id}"):
        show(item.id)

picked = [image_id for image_id, key in picked_keys.items() if st.session_state.get(key)]
st.subheader(f"With the {len(picked)} picked on this page")
reason = st.text_input("Reason", placeholder="why (kept with your name and the time)")
buttons = st.container(horizontal=True)
pressed = {
    "exclude": buttons.button(
        "Exclude from new snapshots", disabled=not picked, icon=":material/block:"
    ),
    "include": buttons.button("Include again", disabled=not picked, icon=":material/undo:"),
    "send back": buttons.button(
        "Send back for new votes", disabled=not picked, icon=":material/replay:"
    ),
}
sure = buttons.checkbox("I mean delete", key="pool-sure")
pressed["delete"] = buttons.button(
    "Delete", disabled=not (picked and sure), icon=":material/delete:"
)
done = None
if pressed["exclude"]:
    done = pool.exclude_images(database=database, actor=actor, images=picked, reason=reason)
elif pressed["include"]:
    done = pool.include_images(database=database, actor=actor, images=picked)
elif pressed["send back"]:
    done = pool.send_back_images(database=database, actor=actor, images=picked, reason=reason)
elif pressed["delete"]:
    done = pool.delete_images(database=database, actor=actor, settings=settings, images=picked)
if done is not None:
    for refused in done.refused:
        st.error(plain(f"image {refused['image']}: {refused['reason']}"))
    if done.done:
        for key in picked_keys.values():
            st.session_state.pop(key, None)
        st.toast(plain(done.summary()))
        if not done.refused:
            st.rerun()
