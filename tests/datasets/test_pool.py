"""The image pool: filters, search and paging over every image; one image in full; the
lead's bulk actions, each image on its own, from Python and the command line."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from moodlab.core.errors import MoodlabError, PermissionDenied
from moodlab.core.models import Image, ImageVote, Role
from moodlab.core.storage import ContentStore
from moodlab.datasets import pool
from moodlab.datasets.pool import PoolFilter
from moodlab.images.importer import ImportParams
from moodlab.images.intake import Provenance, display_path, thumbnail_path
from tests import media
from tests.conftest import add_user, run_cli, run_job
from tests.datasets.test_datasets import Lab


@pytest.fixture
def lab(database, settings):
    return Lab(
        database, settings, [add_user(database, f"a{i}", Role.ANNOTATOR) for i in range(1, 5)]
    )


def _answer(lab: Lab, image_id: int, *answers: str) -> None:
    from moodlab.votes import annotation

    for person, mood in zip(lab.annotators, answers, strict=False):
        with lab.database.session() as session:
            annotation.answer(session=session, actor=person, image_id=image_id, mood=mood)


@pytest.fixture
def stocked(lab, lead, tmp_path):
    """A crawled image (train, Happy), two imported ones (test, Tired; pending), one more."""
    crawled = lab.intake.add_bytes(
        media.jpeg(8001),
        Provenance(
            source="https://photos.example.net/a/sunny-meadow.jpg",
            source_url="https://photos.example.net/a/sunny-meadow.jpg",
            page_url="https://photos.example.net/a/",
            alt_text="children running in a meadow",
            license="CC0",
        ),
    )
    folder = tmp_path / "fieldwork"
    folder.mkdir()
    (folder / "rainy_day_04.jpg").write_bytes(media.jpeg(8002))
    (folder / "night-bus.jpg").write_bytes(media.jpeg(8003))
    job = run_job(lab.settings, lab.database, lead, ImportParams(path=str(folder)))
    with lab.database.session() as session:
        by_name = {
            image.original_name.rsplit("/", 1)[-1]: image.id
            for image in session.scalars(select(Image).where(Image.job_id == job.id))
        }
    other = lab.image()
    with lab.database.session() as session:  # as stored before images kept their names
        session.get(Image, other).original_name = None
    _answer(lab, crawled, "Happy", "Happy", "Happy", "Peaceful")
    _answer(lab, by_name["rainy_day_04.jpg"], "Tired", "Tired", "Happy", "Depressed")
    _answer(lab, by_name["night-bus.jpg"], "Tired")
    return {
        "crawled": crawled,
        "rainy": by_name["rainy_day_04.jpg"],
        "bus": by_name["night-bus.jpg"],
        "other": other,
        "job": job.id,
    }


def _ids(lab, lead, **where) -> list[int]:
    with lab.database.session() as session:
        found = pool.browse(
            session=session, actor=lead, settings=lab.settings, where=PoolFilter(**where)
        )
    return [item.id for item in found.items]


def test_filters_and_search_find_each_image(lab, lead, stocked):
    s = stocked
    assert _ids(lab, lead) == sorted(s[k] for k in ("crawled", "rainy", "bus", "other"))[::-1]
    assert _ids(lab, lead, tier="train") == [s["crawled"]]
    assert _ids(lab, lead, tier="test", mood="Tired") == [s["rainy"]]
    assert _ids(lab, lead, tier="pending") == sorted([s["bus"], s["other"]], reverse=True)
    assert _ids(lab, lead, mood="Happy") == [s["crawled"]]
    assert _ids(lab, lead, source="web") == [s["crawled"]]
    assert _ids(lab, lead, source="photos.example.net") == [s["crawled"]]
    assert _ids(lab, lead, source="example.net") == [s["crawled"]]  # a subdomain's too
    assert _ids(lab, lead, source="files") == sorted([s["rainy"], s["bus"]], reverse=True)
    assert _ids(lab, lead, source="unknown") == [s["other"]]
    assert _ids(lab, lead, job_id=s["job"]) == sorted([s["rainy"], s["bus"]], reverse=True)
    assert _ids(lab, lead, search="RAINY_day") == [s["rainy"]]  # file name, any case
    assert _ids(lab, lead, search="meadow") == [s["crawled"]]  # URL and alt text
    assert _ids(lab, lead, search="running in") == [s["crawled"]]
    assert _ids(lab, lead, search="100%") == []  # a LIKE wildcard is a plain character
    with lab.database.session() as session:
        sha = session.get(Image, s["bus"]).sha256
    assert _ids(lab, lead, search=sha[:10]) == [s["bus"]]
    today = datetime.now(UTC).date()
    assert len(_ids(lab, lead, since=today, until=today + timedelta(days=1))) == 4
    assert _ids(lab, lead, until=today - timedelta(days=1)) == []


def test_paging_counts_every_match(lab, lead, stocked):
    with lab.database.session() as session:
        seen, page = [], 1
        while True:
            found = pool.browse(
                session=session,
                actor=lead,
                settings=lab.settings,
                where=PoolFilter(per_page=3, page=page),
            )
            seen += [i.id for i in found.items]
            if page == found.pages:
                break
            page += 1
    assert (found.total, found.pages, len(seen), len(set(seen))) == (4, 2, 4, 4)
    assert all(item.thumbnail.is_file() for item in found.items)
    s = stocked
    # Pages by SQL alone (no tier or mood asked) and by the votes (a tier) agree; a page
    # past the end is the last one.
    by_sql = {
        item.id: (item.tier, item.mood)
        for n in (1, 2, 3, 4)
        for item in _page(lab, lead, per_page=1, page=n).items
    }
    assert by_sql == {
        s["crawled"]: ("train", "Happy"),
        s["rainy"]: ("test", "Tired"),
        s["bus"]: ("pending", None),
        s["other"]: ("pending", None),
    }
    last = _page(lab, lead, tier="pending", per_page=1, page=9)
    assert (last.page, last.pages, last.total, [i.id for i in last.items]) == (
        2,
        2,
        2,
        [min(s["bus"], s["other"])],
    )
    last = _page(lab, lead, per_page=3, page=9)
    assert (last.page, last.total, [i.id for i in last.items]) == (2, 4, [min(by_sql)])


def _page(lab, lead, **where) -> pool.PoolPage:
    with lab.database.session() as session:
        return pool.browse(
            session=session, actor=lead, settings=lab.settings, where=PoolFilter(**where)
        )


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ({"tier": "gold"}, "unknown tier 'gold'"),
        ({"mood": "Sleepy"}, "unknown mood 'Sleepy'"),
        ({"page": 0}, "pages count from 1"),
        ({"per_page": 100_000}, "a page holds 1 to 500 images"),
        ({"since": date(2030, 1, 2), "until": date(2030, 1, 1)}, "the wrong way round"),
    ],
)
def test_bad_filters_are_named(lab, lead, where, message):
    with pytest.raises(MoodlabError, match=message):
        _ids(lab, lead, **where)


def test_one_image_in_full_with_votes_and_provenance(lab, lead, stocked):
    with lab.database.session() as session:
        found = pool.pool_image(
            session=session, actor=lead, settings=lab.settings, image=stocked["crawled"]
        )
    assert (found.item.tier, found.item.mood, found.round) == ("train", "Happy", 1)
    assert sorted((v.annotator, v.mood) for v in found.votes) == [
        ("a1", "Happy"),
        ("a2", "Happy"),
        ("a3", "Happy"),
        ("a4", "Peaceful"),
    ]
    assert found.provenance()["page_url"] == "https://photos.example.net/a/"
    assert found.provenance()["license"] == "CC0" and found.display.is_file()
    with pytest.raises(MoodlabError, match="no image with id 999"), lab.database.session() as s:
        pool.pool_image(session=s, actor=lead, settings=lab.settings, image=999)
    with pytest.raises(PermissionDenied), lab.database.session() as s:
        pool.pool_image(session=s, actor=lab.annotators[0], settings=lab.settings, image=1)


def test_bulk_actions_go_on_past_a_refused_image(lab, lead, stocked):
    s = stocked
    done = pool.exclude_images(
        database=lab.database, actor=lead, images=[s["crawled"], 999, s["rainy"]], reason="blurry"
    )
    assert done.done == [s["crawled"], s["rainy"]]
    assert done.refused == [{"image": 999, "reason": "no image with id 999"}]
    assert _ids(lab, lead, excluded=True) == sorted([s["crawled"], s["rainy"]], reverse=True)
    again = pool.exclude_images(
        database=lab.database, actor=lead, images=[s["crawled"]], reason="x"
    )
    assert "already excluded" in again.refused[0]["reason"]
    sent = pool.send_back_images(
        database=lab.database, actor=lead, images=[s["rainy"], s["other"]], reason="unsure"
    )
    assert sent.done == [s["rainy"]] and "has no votes in its current round" in sent.summary()
    assert _ids(lab, lead, tier="test") == []
    with pytest.raises(PermissionDenied):
        pool.delete_images(
            database=lab.database, actor=lab.annotators[0], settings=lab.settings, images=[1]
        )


def test_delete_keeps_snapshot_images_and_removes_the_others_with_their_files(lab, lead, stocked):
    s = stocked
    snapshot_id, _ = lab.freeze(lead)  # holds the crawled (train) and the rainy (test) image
    store = ContentStore(lab.settings.data_dir)
    with lab.database.session() as session:
        bus = session.get(Image, s["bus"])
        files = [
            store.path_for(bus.sha256, bus.original_suffix),
            display_path(store, bus.sha256),
            thumbnail_path(store, bus.sha256),
        ]
    assert all(path.is_file() for path in files)
    done = pool.delete_images(
        database=lab.database, actor=lead, settings=lab.settings, images=[s["crawled"], s["bus"]]
    )
    assert done.done == [s["bus"]]
    assert done.refused[0]["reason"].startswith(
        f"image {s['crawled']} is in snapshot #{snapshot_id}"
    )
    assert not any(path.exists() for path in files)
    with lab.database.session() as session:
        assert session.get(Image, s["bus"]) is None and session.get(Image, s["crawled"])
        assert (
            session.scalar(
                select(func.count()).select_from(ImageVote).where(ImageVote.image_id == s["bus"])
            )
            == 0
        )


def test_pool_commands(env, lab, lead, stocked):
    s = stocked
    listed = run_cli("pool", "list", "--search", "night-bus", "--json")
    assert listed.returncode == 0, listed.stderr
    report = json.loads(listed.stdout)
    assert report["total"] == 1 and report["images"][0]["name"] == "night-bus.jpg"
    shown = json.loads(run_cli("pool", "show", str(s["crawled"]), "--json").stdout)
    assert shown["provenance"]["source_url"].endswith("sunny-meadow.jpg")
    assert len(shown["votes"]) == 4 and shown["tier"] == "train"
    excluded = run_cli("pool", "exclude", str(s["bus"]), "424242", "--reason", "test", "--json")
    assert excluded.returncode == 0, excluded.stderr
    assert json.loads(excluded.stdout)["done"] == [s["bus"]]
    assert "moodlab: image 424242: no image with id 424242" in excluded.stderr
    only_bad = run_cli("pool", "delete", "424242")
    assert only_bad.returncode == 1 and "every image was refused" in only_bad.stderr
    bad_tier = run_cli("pool", "list", "--tier", "gold")
    assert bad_tier.returncode == 1 and "unknown tier 'gold'" in bad_tier.stderr
    deleted = run_cli("pool", "delete", str(s["other"]), "--json")
    assert json.loads(deleted.stdout)["done"] == [s["other"]]


def test_held_near_duplicates_are_listed_and_kept(env, lab, lead, tmp_path):
    folder = tmp_path / "twins"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(media.jpeg(8100, quality=95))
    (folder / "b.jpg").write_bytes(media.jpeg(8100, quality=60))  # the same picture
    run_job(lab.settings, lab.database, lead, ImportParams(path=str(folder)))
    with lab.database.session() as session:
        [held] = pool.held_images(session=session, actor=lead, settings=lab.settings)
    assert held.source.endswith(".jpg") and held.preview.is_file()
    with lab.database.session() as session:
        other_job = pool.held_images(
            session=session, actor=lead, settings=lab.settings, job_id=held.job_id + 1
        )
    assert other_job == []
    assert json.loads(run_cli("pool", "held", "--job", "999", "--json").stdout)["held"] == []
    listed = json.loads(run_cli("pool", "held", "--job", str(held.job_id), "--json").stdout)["held"]
    assert [h["held"] for h in listed] == [f"{held.job_id}:{held.sha256}"]
    kept = run_cli("pool", "keep", listed[0]["held"], f"{held.job_id}:{'0' * 64}", "--json")
    assert kept.returncode == 0, kept.stderr
    assert len(json.loads(kept.stdout)["done"]) == 1 and "holds no near-duplicate" in kept.stderr
    with lab.database.session() as session:
        assert pool.held_images(session=session, actor=lead, settings=lab.settings) == []
        assert session.scalar(select(func.count()).select_from(Image)) == 2
