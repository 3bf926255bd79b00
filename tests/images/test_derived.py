"""Derived copies cut short (as a power cut may leave them) are rebuilt at start."""

from __future__ import annotations

from PIL import Image as PILImage
from sqlalchemy import select

from moodlab.core.models import Image
from moodlab.core.storage import ContentStore
from moodlab.images.derived import repair_derived
from moodlab.images.intake import Intake, Provenance, display_path, thumbnail_path
from tests import media
from tests.conftest import run_cli


def test_empty_or_missing_derived_copies_are_rebuilt(settings, database):
    intake = Intake(settings, database)
    for n, data in enumerate([media.jpeg(1, (300, 200)), media.png(2, (300, 200))]):
        intake.stage(intake.check(data), Provenance(source=f"t{n}"))
    intake.flush()
    assert intake.report.stored == 2
    store = ContentStore(settings.data_dir)
    with database.session() as session:
        images = session.scalars(select(Image).order_by(Image.id)).all()
    jpeg, png = (image.sha256 for image in images)
    # The JPEG that fits is its own display copy: a link to the original, not re-encoded.
    assert display_path(store, jpeg).read_bytes() == store.read_bytes(jpeg, ".jpg")
    assert repair_derived(settings, database) == 0
    thumbnail_path(store, jpeg).write_bytes(b"")  # what a power cut may leave
    display_path(store, png).write_bytes(b"\0" * 4096)
    thumbnail_path(store, png).unlink()
    assert repair_derived(settings, database) == 2
    for sha in (jpeg, png):
        with PILImage.open(thumbnail_path(store, sha)) as thumb:
            thumb.load()
            assert thumb.size == (128, 128)
        with PILImage.open(display_path(store, sha)) as display:
            display.load()
            assert display.size == (300, 200)
    assert repair_derived(settings, database) == 0


def test_moodlab_worker_repairs_them_when_it_starts(settings, database):
    intake = Intake(settings, database)
    intake.stage(intake.check(media.png(3, (300, 200))), Provenance(source="t"))
    intake.flush()
    store = ContentStore(settings.data_dir)
    with database.session() as session:
        sha256 = session.scalars(select(Image.sha256)).one()
    thumbnail_path(store, sha256).write_bytes(b"")  # what a power cut may leave
    assert run_cli("worker", "--once").returncode == 0  # the command hands it the repair
    with PILImage.open(thumbnail_path(store, sha256)) as thumb:
        thumb.load()


def test_staged_rows_are_committed_in_batches_and_duplicates_caught_before(settings, database):
    intake = Intake(settings, database)
    first = intake.check(media.jpeg(5, (300, 200)))
    assert intake.stage(first, Provenance(source="a")) is True
    assert intake.stage(first, Provenance(source="again")) is False  # pending, still caught
    assert intake.pending == 1 and intake.report.stored == 0
    with database.session() as session:
        assert session.scalars(select(Image)).all() == []  # not committed yet
    intake.flush()
    assert intake.pending == 0 and intake.report.stored == 1
    assert intake.report.duplicate_sources[0]["reason"].endswith("(same bytes)")


def test_the_duplicate_index_grows_without_copying_on_every_add():
    from moodlab.images.intake import ImageIndex

    index = ImageIndex([])
    for i in range(3000):
        index.add(i + 1, f"{i:064x}", f"{i * 7919:016x}")
    assert len(index) == 3000 and index.nearest(f"{5 * 7919:016x}") == (6, 0)
    index.settle(5, f"{5:064x}", None)  # a pending image that was dropped
    assert index.nearest(f"{5 * 7919:016x}")[0] != 6
