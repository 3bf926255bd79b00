"""Dataset snapshots: tiers into train and test, balancing, ties, freezing, export."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from sqlalchemy import select

from moodlab.core.auth import Actor
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Role, SnapshotMember
from moodlab.datasets import snapshots as datasets
from moodlab.datasets import ties
from moodlab.datasets.export import export
from moodlab.datasets.snapshots import Rules
from moodlab.images.intake import Intake, Provenance
from moodlab.votes import annotation
from tests import media
from tests.conftest import add_user, run_cli


@pytest.fixture
def four(database):
    return [add_user(database, f"a{i}", Role.ANNOTATOR) for i in range(1, 5)]


class Lab:
    def __init__(self, database, settings, annotators):
        self.database, self.settings, self.annotators = database, settings, annotators
        self.intake = Intake(settings, database)
        self.seed = 0

    def image(self, *answers) -> int:
        """A new real image with these answers from a1..a4 (None skips, absent: no answer)."""
        self.seed += 1
        image_id = self.intake.add_bytes(media.jpeg(2000 + self.seed), Provenance(source="t"))
        for person, mood in zip(self.annotators, answers, strict=False):
            with self.database.session() as session:
                annotation.answer(session=session, actor=person, image_id=image_id, mood=mood)
        return image_id

    def plan(self, lead, **rules):
        with self.database.session() as session:
            return datasets.plan(
                session=session, actor=lead, settings=self.settings, rules=Rules(**rules)
            )

    def freeze(self, lead, **rules):
        with self.database.session() as session:
            snapshot = datasets.freeze(
                session=session, actor=lead, settings=self.settings, rules=Rules(**rules)
            )
            return snapshot.id, snapshot.manifest_sha256


@pytest.fixture
def lab(database, settings, four):
    return Lab(database, settings, four)


def train(lab, mood, n):
    return [lab.image(mood, mood, mood, "Tired" if mood != "Tired" else "Happy") for _ in range(n)]


def test_default_cap_balances_to_the_smallest_mood_and_overflow_goes_to_test(lab, lead):
    happy = train(lab, "Happy", 5)
    tired = train(lab, "Tired", 2)
    two = lab.image("Peaceful", "Peaceful", "Happy", "Angry")  # 2-1-1: test tier
    built = lab.plan(lead, seed=1)
    assert built.cap == 2
    assert built.counts("train")["Happy"] == 2 and built.counts("train")["Tired"] == 2
    assert built.counts("test")["Happy"] == 3  # the capped train-tier images
    assert built.counts("test")["Peaceful"] == 1
    by_id = {m.image_id: m for m in built.members}
    assert by_id[two].tier == "test" and by_id[two].split == "test"
    assert {by_id[i].split for i in tired} == {"train"}
    assert sum(by_id[i].split == "train" for i in happy) == 2
    assert "no train-tier images yet for" in built.warnings[0]


def test_same_votes_and_seed_give_the_same_manifest(lab, lead):
    train(lab, "Happy", 6)
    train(lab, "Tired", 3)
    first, again = lab.plan(lead, seed=7), lab.plan(lead, seed=7)
    assert first.manifest_sha256 == again.manifest_sha256
    assert [m.image_id for m in first.members] == [m.image_id for m in again.members]
    others = {lab.plan(lead, seed=s).manifest_sha256 for s in range(8)}
    assert len(others) > 1, "the seed should change which capped images are chosen"


def test_explicit_cap_and_test_count(lab, lead):
    train(lab, "Happy", 5)
    built = lab.plan(lead, per_mood_cap=4, test_per_mood=1, seed=0)
    assert built.counts("train")["Happy"] == 4 and built.counts("test")["Happy"] == 1
    short = lab.plan(lead, per_mood_cap=4, test_per_mood=3)
    assert "Happy: only 1 test images for the 3 asked" in short.warnings


def test_ties_are_left_out_until_the_lead_breaks_them(lab, lead, settings, database):
    tie = lab.image("Angry", "Angry", "Anxiety", "Anxiety")
    assert lab.plan(lead).disputed == 1
    with database.session() as session:
        [disputed] = ties.disputed_images(session=session, actor=lead, settings=settings)
    assert disputed.tied == ["Angry", "Anxiety"] and disputed.decision is None
    with (
        pytest.raises(MoodlabError, match="Happy is not one of the tied moods"),
        database.session() as s,
    ):
        ties.break_tie(session=s, actor=lead, settings=settings, image_id=tie, mood="Happy")
    with database.session() as session:
        decision = ties.break_tie(
            session=session, actor=lead, settings=settings, image_id=tie, mood="Anxiety"
        )
        assert decision.decided_by_id == lead.id and decision.decided_at is not None
    built = lab.plan(lead)
    assert built.disputed == 0
    [member] = [m for m in built.members if m.image_id == tie]
    assert (member.label, member.split, member.tier) == ("Anxiety", "test", "tie_break")
    with database.session() as session:
        ties.break_tie(session=session, actor=lead, settings=settings, image_id=tie, mood=None)
    assert not [m for m in lab.plan(lead).members if m.image_id == tie]
    assert lab.plan(lead).disputed == 0


def test_a_frozen_snapshot_never_changes(lab, lead, database, four):
    happy = train(lab, "Happy", 3)
    snapshot_id, manifest = lab.freeze(lead)
    with pytest.raises(annotation.FrozenImage), database.session() as session:
        annotation.answer(session=session, actor=four[0], image_id=happy[0], mood="Angry")
    train(lab, "Happy", 3)  # later votes on new images
    with database.session() as session:
        members = datasets.members_of(
            session=session, actor=Actor.command_line(), snapshot_id=snapshot_id
        )
        assert datasets.manifest_hash(members) == manifest
        assert sorted(m.image_id for m in members) == sorted(happy)
    assert lab.freeze(lead)[1] != manifest  # a new snapshot sees the new images


def test_freezing_the_same_manifest_again_returns_that_snapshot(lab, lead, database):
    train(lab, "Happy", 2)
    first_id, manifest = lab.freeze(lead, seed=4)
    assert lab.freeze(lead, seed=4) == (first_id, manifest)
    with database.session() as session:
        again = datasets.freeze_plan(
            session=session, actor=lead, settings=lab.settings, rules=Rules(seed=4)
        )
        assert again.existing and again.snapshot.id == first_id
        assert len(datasets.list_snapshots(session=session, actor=lead)) == 1
    train(lab, "Happy", 1)
    assert lab.freeze(lead, seed=4)[0] != first_id  # a different manifest: a new snapshot


def test_a_cap_below_the_minimum_warns_with_the_numbers(lab, lead):
    train(lab, "Happy", 3)
    train(lab, "Tired", 2)
    balanced = lab.plan(lead)
    assert balanced.low_cap is not None and balanced.low_cap in balanced.warnings
    assert "Tired has only 2 train-tier images (balancing cuts every mood to 2)" in (
        balanced.low_cap
    )
    assert "minimum of 10 per mood" in balanced.low_cap
    assert "the train set would be 4 images" in balanced.low_cap
    assert "Uncapped, it would keep all 5 train-tier images" in balanced.low_cap
    assert balanced.uncapped_train["Happy"] == 3 and balanced.uncapped_train["Tired"] == 2
    uncapped = lab.plan(lead, uncapped=True)
    assert uncapped.counts("train")["Happy"] == 3 and uncapped.counts("train")["Tired"] == 2
    assert "the cap of 1 train images per mood" in (lab.plan(lead, per_mood_cap=1).low_cap or "")
    assert lab.plan(lead, min_per_mood=2).low_cap is None


def test_export_round_trip(lab, lead, database, settings, tmp_path):
    train(lab, "Happy", 2)
    train(lab, "Dynamic", 3)
    snapshot_id, manifest = lab.freeze(lead)
    out = tmp_path / "exports" / "set.zip"
    with database.session() as session:
        report = export(
            session=session, actor=lead, settings=settings, snapshot_id=snapshot_id, out=out
        )
    assert report["members"] == 5
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        rows = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode())))
        meta = json.loads(archive.read("metadata.json"))
        assert all(archive.read(row["path"])[:2] == b"\xff\xd8" for row in rows)  # JPEGs
    assert sum(n.startswith("train/Happy/") for n in names) == 2
    assert sum(n.startswith("train/Dynamic/") for n in names) == 2
    assert sum(n.startswith("test/Dynamic/") for n in names) == 1
    assert meta["manifest_sha256"] == manifest and meta["train"]["Happy"] == 2
    assert datasets.manifest_hash([_Row(r) for r in rows]) == manifest
    assert [p.name for p in out.parent.iterdir()] == ["set.zip"]  # no temp file left


class _Row:
    def __init__(self, row):
        self.sha256, self.label, self.split = row["sha256"], row["label"], row["split"]


def test_nothing_to_freeze_is_a_clear_error(lab, lead):
    with pytest.raises(MoodlabError, match="nothing to freeze"):
        lab.freeze(lead)


def test_annotators_cannot_build_or_export(lab, four, database, settings):
    from moodlab.core.errors import PermissionDenied

    with pytest.raises(PermissionDenied), database.session() as session:
        datasets.plan(session=session, actor=four[0], settings=settings, rules=Rules())


def test_dataset_commands(env, lab, lead, database, tmp_path):
    train(lab, "Happy", 2)
    lab.image("Angry", "Angry", "Anxiety", "Anxiety")
    built = run_cli("dataset", "build", "--seed", "3", "--json")
    assert built.returncode == 0, built.stderr
    report = json.loads(built.stdout)
    assert set(report) >= {"id", "manifest_sha256", "train", "test", "disputed"}
    assert report["train"]["Happy"] == 2 and report["disputed"] == 1
    assert report["existing"] is False
    [low] = [w for w in report["warnings"] if w.startswith("Too few train images")]
    assert "Happy has only 2 train-tier images" in low and "minimum of 10" in low
    assert "moodlab: warning: Too few train images" in built.stderr
    same = json.loads(run_cli("dataset", "build", "--seed", "3", "--json").stdout)
    assert (same["id"], same["existing"]) == (report["id"], True)
    listed = json.loads(run_cli("dataset", "list", "--json").stdout)
    assert [s["id"] for s in listed["snapshots"]] == [report["id"]]
    out = tmp_path / "out.zip"
    exported = run_cli("dataset", "export", str(report["id"]), str(out), "--json")
    assert exported.returncode == 0, exported.stderr
    assert zipfile.is_zipfile(out)
    disputed = json.loads(run_cli("dataset", "disputed", "--json").stdout)["disputed"]
    assert disputed[0]["tied"] == ["Angry", "Anxiety"]
    broken = run_cli("dataset", "break-tie", str(disputed[0]["image_id"]), "Angry", "--json")
    assert broken.returncode == 0, broken.stderr
    bad = run_cli("dataset", "export", "999", str(out))
    assert bad.returncode == 1 and "no dataset snapshot with id 999" in bad.stderr
    with database.session() as session:
        assert session.scalars(select(SnapshotMember)).first() is not None


def _freeze_at_once(database, lead, settings, racers: int = 2) -> list[tuple[int, bool]]:
    """The same plan frozen by ``racers`` threads released together: (id, existing) each."""
    import threading

    start = threading.Barrier(racers)
    frozen: list[tuple[int, bool]] = []
    errors: list[BaseException] = []

    def freeze() -> None:
        try:
            with database.session() as session:
                start.wait()
                done = datasets.freeze_plan(
                    session=session, actor=lead, settings=settings, rules=Rules(seed=1)
                )
                frozen.append((done.snapshot.id, done.existing))
        except BaseException as exc:  # noqa: BLE001 (the test reports it)
            errors.append(exc)

    threads = [threading.Thread(target=freeze) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return frozen


def test_two_leads_freezing_the_same_plan_at_once_get_one_snapshot(lab, lead, database):
    """Before the manifest was unique, 4 runs in 5 made two snapshots of one set."""
    train(lab, "Happy", 2)
    for round_ in range(4):
        lab.image("Tired", "Tired", "Tired")  # a new set each round: a new manifest
        frozen = _freeze_at_once(database, lead, lab.settings)
        assert len({snapshot_id for snapshot_id, _ in frozen}) == 1, f"round {round_}: {frozen}"
        assert sorted(existing for _, existing in frozen) == [False, True]
    with database.session() as session:
        assert len(datasets.list_snapshots(session=session, actor=lead)) == 4


def test_the_database_refuses_a_second_snapshot_of_one_manifest(lab, lead, database):
    from sqlalchemy.exc import IntegrityError

    from moodlab.core.models import Snapshot

    train(lab, "Happy", 2)
    _, manifest = lab.freeze(lead)
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(
            Snapshot(
                rules={}, manifest_sha256=manifest, train_counts={}, test_counts={}, disputed=0
            )
        )
