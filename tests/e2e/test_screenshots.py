"""Every page, as the lead and as an annotator, at 1280 px and 390 px wide (a laptop and a
phone): saved to test-artifacts/screens-*.png, and failed on horizontal overflow or on
text cut off by its container. Look at the pictures too: a test cannot say "looks wrong".
"""

from __future__ import annotations

import pytest

from moodlab.ui.navigation import pages_for
from tests import media
from tests.conftest import PASSWORD, add_user, run_job
from tests.e2e.conftest import log_in, screenshot, wait_for_idle
from tests.e2e.test_annotate_page import LAPTOP, PHONE, check_fit

# Every page twice for two roles, with the Pool page: about 5 minutes on 2 busy cores.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

WIDTHS = (1280, 390)

# What the page shows past its overflow: the document wider than the window, and text
# elements (headings, buttons, labels, metrics, captions) whose text is clipped.
LAYOUT_PROBLEMS = """
() => {
  const problems = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > window.innerWidth + 1) {
    problems.push(`page scrolls sideways: ${doc.scrollWidth} px in ${window.innerWidth} px`);
  }
  const main = document.querySelector('[data-testid="stMain"]') || document.body;
  const texts = 'h1, h2, h3, h4, button, label, [data-testid="stMetricLabel"],'
    + ' [data-testid="stMetricValue"], [data-testid="stCaptionContainer"],'
    + ' [data-testid="stMarkdownContainer"] p, [data-testid="stPageLink"] a';
  for (const el of main.querySelectorAll(texts)) {
    if (!el.offsetParent || el.closest('[hidden], [aria-hidden="true"]')) continue;
    for (const box of [el, ...el.querySelectorAll('*')]) {
      const style = getComputedStyle(box);
      const clips = ['hidden', 'clip'].includes(style.overflowX)
        || style.textOverflow === 'ellipsis';
      if (clips && box.clientWidth > 0 && box.scrollWidth > box.clientWidth + 1
          && box.textContent.trim()) {
        problems.push(`cut off (${box.scrollWidth} > ${box.clientWidth} px):`
          + ` ${el.tagName.toLowerCase()} "${el.textContent.trim().slice(0, 60)}"`);
        break;
      }
    }
  }
  // Charts: a drawing wider than its box is cut off; one under 100 px tall does not read.
  for (const chart of main.querySelectorAll('[data-testid="stVegaLiteChart"]')) {
    if (!chart.offsetParent) continue;
    const drawing = chart.querySelector('canvas, svg');
    if (!drawing) continue;
    const box = chart.getBoundingClientRect(), drawn = drawing.getBoundingClientRect();
    const title = (chart.closest('[data-testid="stVerticalBlock"]') || chart).innerText
      .trim().slice(0, 40);
    if (drawn.right > box.right + 1 || chart.scrollWidth > chart.clientWidth + 1) {
      problems.push(`chart cut off (${Math.round(drawn.width)} px in ${Math.round(box.width)} px)`
        + ` near "${title}"`);
    }
    if (drawn.height < 100) {
      problems.push(`chart too flat to read (${Math.round(drawn.height)} px) near "${title}"`);
    }
  }
  // Tables on a laptop: every column in view, no sideways scrolling inside the table.
  if (window.innerWidth >= 1200) {
    for (const table of main.querySelectorAll('[data-testid="stDataFrame"]')) {
      const scroller = table.querySelector('.dvn-scroller');
      if (table.offsetParent && scroller && scroller.scrollWidth > scroller.clientWidth + 1) {
        problems.push(`table scrolls sideways (${scroller.scrollWidth} px in`
          + ` ${scroller.clientWidth} px): ${table.innerText.trim().slice(0, 60)}`);
      }
    }
  }
  return problems;
}
"""


def build_lab(tmp_path) -> None:
    """A lab with something on every page: images and votes in every tier, tracks, a
    snapshot, a model with its report, a video, and finished, failed and running jobs."""
    from moodlab.core.config import Settings
    from moodlab.core.db import Database
    from moodlab.core.models import Job, JobStatus, Role, TrainedModel, Video
    from moodlab.datasets import snapshots
    from moodlab.images.crawl import CrawlParams
    from moodlab.images.importer import ImportParams
    from moodlab.images.intake import Intake, Provenance
    from moodlab.jobs.actions import start_check
    from moodlab.music.votes import vote_track
    from moodlab.votes import annotation, guidelines
    from tests.video_media import SHOTS, add_track, clip

    settings = Settings.from_env()
    database = Database(settings.database_url)
    lead = add_user(database, "lena", Role.LEAD)
    people = [add_user(database, name, Role.ANNOTATOR) for name in ("ana", "ben", "cai", "dana")]
    intake = Intake(settings, database)
    images = [intake.add_bytes(media.jpeg(900 + i), Provenance(source=f"p{i}")) for i in range(14)]
    patterns = [
        ["Happy", "Happy", "Happy", "Tired"],
        ["Tired", "Tired", "Tired", "Happy"],
        ["Angry", "Angry", "Angry", "Angry"],
        ["Peaceful", "Peaceful", "Peaceful", "Happy"],
        ["Dynamic", "Dynamic", "Happy", "Angry"],
        ["Anxiety", "Anxiety", "Angry", "Angry"],
        ["Withered", "Depressed", "Tired", "Happy"],
        ["Depressed", "Depressed", "Depressed", None],
    ]
    for image, pattern in zip(images, patterns, strict=False):
        for person, mood in zip(people, pattern, strict=True):
            with database.session() as session:
                annotation.answer(session=session, actor=person, image_id=image, mood=mood)
    with database.session() as session:
        annotation.answer(session=session, actor=people[0], image_id=images[9], mood="Happy")
        # Everyone has read the guidelines: Annotate shows its widget, not them first.
        for reader in (lead, *people):
            guidelines.mark_read(session=session, actor=reader)
    tracks = [add_track(database, settings, mood, "candidate") for mood in ("Happy", "Tired")]
    for person in people[:3]:
        with database.session() as session:
            vote_track(
                session=session, actor=person, settings=settings, track_id=tracks[0], mood="Happy"
            )
    with database.session() as session:
        snapshot = snapshots.freeze(
            session=session, actor=lead, settings=settings, rules=snapshots.Rules(per_mood_cap=1)
        )
        snapshot_id = snapshot.id
    history = [
        {
            "loss": 2.1 - 0.3 * e,
            "accuracy": 0.15 + 0.08 * e,
            "val_loss": 2.2 - 0.2 * e,
            "val_accuracy": 0.12 + 0.06 * e,
        }
        for e in range(6)
    ]
    confusion = [
        [(3 if i == j else (1 if abs(i - j) == 1 else 0)) for j in range(8)] for i in range(8)
    ]
    with database.session() as session:
        model = TrainedModel(
            arch="deep",
            path="models/none.keras",
            snapshot_id=snapshot_id,
            image_size=128,
            active=True,
            params=1234,
            cv_scores={"scores": [0.6, 0.66, 0.63]},
            cv_mean=0.63,
            cv_std=0.025,
            test_accuracy=0.58,
            precision="float32",
            report={
                "folds": [
                    {"fold": k + 1, "accuracy": a, "history": history}
                    for k, a in enumerate([0.6, 0.66, 0.63])
                ],
                "final_history": history,
                # Out-of-fold probabilities: the reliability plot and the label review.
                "out_of_fold": [
                    {
                        "image": f"{k:064x}",
                        "label": k % 8,
                        "probs": [
                            (
                                0.3 + 0.06 * (k % 10)
                                if j == (k % 8 if k % 3 else (k + 1) % 8)
                                else (0.7 - 0.06 * (k % 10)) / 7
                            )
                            for j in range(8)
                        ],
                    }
                    for k in range(40)
                ],
                "test": {
                    "accuracy": 0.58,
                    "macro_f1": 0.55,
                    "adjacent_accuracy": 0.83,
                    "confusion_matrix": confusion,
                },
            },
        )
        session.add(model)
        session.flush()
        model_id = model.id
        session.add(
            Job(
                kind="train",
                status=JobStatus.SUCCEEDED,
                progress=1.0,
                message="done",
                created_by_id=lead.id,
                params={"snapshot_id": snapshot_id},
                result={
                    "model_id": model_id,
                    "arch": "deep",
                    "cv_mean": 0.63,
                    "test_accuracy": 0.58,
                },
            )
        )
    movie = clip(tmp_path / "beach day.mp4", [(SHOTS[0], 3), (SHOTS[1], 3)], size="320x180")
    timeline = [
        {
            "t": t,
            "mood": "Happy",
            "probs": {
                m: (0.5 if m == "Happy" else 0.5 / 7)
                for m in (
                    "Happy",
                    "Dynamic",
                    "Angry",
                    "Anxiety",
                    "Withered",
                    "Depressed",
                    "Tired",
                    "Peaceful",
                )
            },
        }
        for t in (0.0, 2.0, 4.0, 6.0)
    ]
    with database.session() as session:
        for owner in (lead, people[0]):
            session.add(
                Video(
                    kind="video",
                    path=str(movie),
                    title="beach day.mp4",
                    mood="Happy",
                    confidence=0.5,
                    duration_s=6.0,
                    seconds=4.2,
                    model_id=model_id,
                    snapshot_id=snapshot_id,
                    created_by_id=owner.id,
                    inputs={"files": []},
                    report={
                        "timeline": timeline,
                        "tracks": [],
                        "segments": [],
                        "frames": [],
                        "warnings": ["no accepted track for Happy: the video has no music"],
                    },
                )
            )
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(media.jpeg(950))
    (folder / "b.jpg").write_bytes(media.jpeg(900))  # a duplicate
    (folder / "c.jpg").write_text("not a picture")
    run_job(settings, database, lead, ImportParams(path=str(folder)))
    run_job(settings, database, lead, CrawlParams(seeds=["http://127.0.0.1:9/"], delay=0))
    with database.session() as session:
        start_check(session=session, actor=lead, settings=settings)  # queued: a live card
    database.dispose()


def wait_for_page(page, key: str) -> None:
    path = "/" if key == "home" else f"/{key}"
    page.wait_for_function(f"() => window.location.pathname.endsWith({path!r})")
    page.locator('[data-testid="stMainBlockContainer"] > div').first.wait_for()
    wait_for_idle(page)
    # Charts drawn, fragments (running jobs) filled in, images loaded.
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=\"stVegaLiteChart\"]')]"
        ".every(c => c.querySelector('canvas, svg'))"
        " && !document.querySelector('[data-testid=\"stSkeleton\"]')"
    )
    page.wait_for_timeout(800)  # the last layout pass after those


def full_screenshot(page, name: str, width: int) -> None:
    """The whole page: Streamlit scrolls inside its main block, so the window is made as
    tall as the content (a full-page screenshot alone stops at the window)."""
    height = page.evaluate(
        '() => Math.max(...[...document.querySelectorAll(\'[data-testid="stMain"],'
        ' [data-testid="stAppViewContainer"]\')].map(e => e.scrollHeight), 600)'
    )
    page.set_viewport_size({"width": width, "height": min(int(height) + 40, 12_000)})
    page.wait_for_timeout(600)
    screenshot(page, name)
    page.set_viewport_size({"width": width, "height": 900})


def visit_every_page(page, server: str, name: str, role_label: str, roles) -> dict[str, list]:
    log_in(page, server, name, PASSWORD)
    page.get_by_text("What to do next").wait_for()
    found: dict[str, list] = {}
    for spec in pages_for(roles):
        page.set_viewport_size({"width": 1280, "height": 900})
        page.get_by_role("link", name=spec.title, exact=True).first.click()
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            wait_for_page(page, spec.key)
            shot = f"screens-{role_label}-{spec.key}-{width}"
            if problems := page.evaluate(LAYOUT_PROBLEMS):
                found[shot] = problems
            if spec.key == "annotate":  # the image and all ten actions on one screen
                check_fit(page, PHONE if width == 390 else LAPTOP, f"screens-{role_label}-annotate")
            full_screenshot(page, shot, width)
    return found


def test_every_page_fits_a_laptop_and_a_phone(tmp_path, env, server, browser_page):
    from moodlab.core.models import Role

    build_lab(tmp_path)
    found = visit_every_page(browser_page, server, "lena", "lead", Role.LEAD)
    browser_page.set_viewport_size({"width": 1280, "height": 900})
    browser_page.get_by_role("button", name="Log out").click()
    # What a person sees before going on: opening the app while the logout's run is still
    # under way would keep the session (seen once on PostgreSQL under load).
    browser_page.get_by_text("You are logged out.").wait_for()
    browser_page.wait_for_timeout(500)
    found |= visit_every_page(browser_page, server, "ana", "annotator", Role.ANNOTATOR)
    assert not found, "\n".join(
        f"{shot}: {p}" for shot, problems in found.items() for p in problems
    )
