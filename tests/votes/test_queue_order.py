"""The queue's order: each annotator's own, early stop, and the lead's model order."""

from __future__ import annotations

import pytest
from scipy.stats import spearmanr
from sqlalchemy import insert, select

from moodlab.core.errors import MoodlabError, PermissionDenied
from moodlab.core.models import Image, QueueScore, Role, TrainedModel, User
from moodlab.votes import annotation, csv_votes, order, rounds
from moodlab.votes.agreement import agreement_report
from moodlab.votes.quorum import Tier, decide
from tests.conftest import add_user
from tests.votes.test_annotation import add_images, next_for, vote


@pytest.fixture
def four(database):
    """Four annotators with fixed seeds, so that every run checks the same orders."""
    people = [add_user(database, name, Role.ANNOTATOR) for name in ("ana", "ben", "cai", "dana")]
    with database.session() as session:
        for person in people:
            session.get(User, person.id).blind_seed = f"seed of {person.name}"
    return people


def queue_of(database, settings, actor, limit=1000):
    with database.session() as session:
        images = annotation.next_images(
            session=session, actor=actor, settings=settings, limit=limit
        )
        return [image.id for image in images]


def left_for(database, settings, actor):
    with database.session() as session:
        return annotation.progress(session=session, actor=actor, settings=settings).left


def test_four_annotators_start_on_different_images_and_keep_their_own_order(
    database, settings, four
):
    ids = add_images(database, 60)
    queues = [queue_of(database, settings, person) for person in four]
    assert len({queue[0] for queue in queues}) == 4
    for queue in queues:
        assert sorted(queue) == ids  # every image, once
    # Unlike one another and unlike the images' age: no shared sequence.
    for i, queue in enumerate(queues):
        assert abs(spearmanr(queue, ids)[0]) < 0.5
        for other in queues[i + 1 :]:
            assert abs(spearmanr(queue, other)[0]) < 0.5
    # Stable: the same order on the next visit, from a new session.
    assert queues == [queue_of(database, settings, person) for person in four]


def test_a_large_pool_is_served_whole_block_by_block_in_each_annotators_order(
    database, settings, four
):
    with database.session() as session:
        session.execute(
            insert(Image), [{"sha256": f"{i:064x}", "width": 9, "height": 9} for i in range(2500)]
        )
        ids = sorted(session.scalars(select(Image.id)))
    assert ids[-1] // order.BLOCK >= 2  # three blocks at least
    queues = [queue_of(database, settings, person, limit=3000) for person in four]
    for queue in queues:
        assert sorted(queue) == ids
        blocks = [i // order.BLOCK for i in queue]
        runs = [b for n, b in enumerate(blocks) if n == 0 or b != blocks[n - 1]]
        assert sorted(runs) == sorted(set(blocks))  # a block at a time
        first_block = queue[: blocks.count(blocks[0])]
        assert abs(spearmanr(first_block, sorted(first_block))[0]) < 0.5
    assert len({queue[0] // order.BLOCK for queue in queues}) > 1  # not all on one block
    assert len({tuple(queue[:50]) for queue in queues}) == 4


def test_own_order_still_finishes_nearly_complete_images_first(database, settings, four):
    ana, ben, cai, dana = four
    ids = add_images(database, 30)
    first = queue_of(database, settings, ana)[0]
    vote(database, ana, first, "Happy")
    # ana's first image now has an answer: it comes first for everyone else.
    assert [next_for(database, settings, p) for p in (ben, cai, dana)] == [first] * 3
    vote(database, ben, first, "Tired")
    vote(database, cai, ids[5] if ids[5] != first else ids[6], "Angry")
    assert queue_of(database, settings, dana)[:1] == [first]


def test_three_agreeing_votes_leave_every_queue_at_once(database, settings, four):
    ana, ben, cai, dana = four
    [decided, open_one] = add_images(database, 2)
    for person in (ana, ben, cai):
        vote(database, person, decided, "Happy")
    for person, mood in ((ana, "Happy"), (ben, "Happy"), (cai, "Tired")):
        vote(database, person, open_one, mood)
    # The 4th answer cannot change "train, Happy" on the first; it could on the second.
    assert queue_of(database, settings, dana) == [open_one]
    assert left_for(database, settings, dana) == 1
    # An undo reopens it.
    with database.session() as session:
        annotation.undo(session=session, actor=cai, image_id=decided)
    assert decided in queue_of(database, settings, dana)


def test_three_skips_leave_the_queue_as_no_consensus(database, settings, four, lead):
    ana, ben, cai, dana = four
    [image] = add_images(database, 1)
    for person in (ana, ben, cai):
        vote(database, person, image, "skip")
    assert queue_of(database, settings, dana) == []
    assert decide([None, None, None], settings).tier == Tier.NO_CONSENSUS
    with database.session() as session:
        report = agreement_report(session=session, actor=lead, settings=settings)
    assert report["tiers"]["no_consensus"] == 1 and report["tiers"]["pending"] == 0
    assert report["votes_saved"] == 1


def test_a_decided_image_still_takes_an_answer_already_on_its_way(database, settings, four):
    """A browser holds its next images: a 4th answer on a decided image is stored (it
    cannot change the tier), never refused as if the quorum were full."""
    ana, ben, cai, dana = four
    [image] = add_images(database, 1)
    for person in (ana, ben, cai):
        vote(database, person, image, "Happy")
    vote(database, dana, image, "Tired")
    with database.session() as session:
        assert session.get(Image, image).response_count == 4


def test_votes_imported_from_csv_and_sent_back_keep_the_early_stop(
    database, settings, four, lead, tmp_path
):
    ana, ben, cai, dana = four
    [image, open_one] = add_images(database, 2)
    with database.session() as session:
        sha, open_sha = (session.get(Image, i).sha256 for i in (image, open_one))
    rows = "".join(f"{sha},{name},Peaceful\n" for name in ("ana", "ben", "cai"))
    # 2-1: the 4th answer decides between train and test, so it stays in the queue.
    rows += "".join(
        f"{open_sha},{name},{mood}\n"
        for name, mood in (("ana", "Peaceful"), ("ben", "Peaceful"), ("cai", "Tired"))
    )
    path = tmp_path / "votes.csv"
    path.write_text("image,annotator,mood\n" + rows)
    with database.session() as session:
        report = csv_votes.import_votes(session=session, actor=lead, settings=settings, path=path)
    assert report.imported == 6
    assert queue_of(database, settings, dana) == [open_one]
    with database.session() as session:
        kept = session.get(Image, open_one)
        assert (kept.response_count, kept.top_votes, kept.second_votes) == (3, 2, 1)
    with database.session() as session:
        rounds.send_back(session=session, actor=lead, image=image, reason="a new look")
    assert sorted(queue_of(database, settings, dana)) == [image, open_one]


def make_model(database) -> int:
    with database.session() as session:
        model = TrainedModel(
            arch="plain", path="models/x.keras", active=True, cv_scores={}, report={}
        )
        session.add(model)
        session.flush()
        return model.id


def score(database, model_id, ranks: dict[int, float]):
    with database.session() as session:
        session.add_all(
            QueueScore(image_id=i, model_id=model_id, uncertainty=1 - r, rank=r)
            for i, r in ranks.items()
        )


def test_model_order_serves_the_least_sure_first_with_a_random_share(
    database, settings, four, lead
):
    ids = add_images(database, 400)
    model_id = make_model(database)
    # The model is least sure of the images with the highest ids.
    score(database, model_id, {i: 1 - n / (len(ids) - 1) for n, i in enumerate(ids)})
    with database.session() as session:
        choice = order.choose_order(session=session, actor=lead, kind="model", random_share=0.25)
    assert (choice.kind, choice.random_share, choice.chosen_by) == ("model", 0.25, "lena")
    queues = [queue_of(database, settings, person) for person in four]
    for queue in queues:
        first = queue[:100]
        least_sure = [i for i in first if i > ids[-1] - 130]  # the least sure third
        # About three quarters from the least sure end, a quarter drawn from all of it.
        assert 65 <= len(least_sure) <= 95, len(least_sure)
        assert sum(i <= ids[-1] - 200 for i in first) >= 5  # random picks from the surest half
    assert len({queue[0] for queue in queues}) == 4
    assert len({tuple(queue[:20]) for queue in queues}) == 4
    # Another model activated, not scored yet: no score counts, each their own order again.
    with database.session() as session:
        session.get(TrainedModel, model_id).active = False
    assert abs(spearmanr(queue_of(database, settings, four[0]), ids)[0]) < 0.5


def test_only_the_lead_chooses_the_order_and_bad_choices_are_refused(database, four, lead):
    with database.session() as session:
        with pytest.raises(PermissionDenied):
            order.choose_order(session=session, actor=four[0], kind="model")
        with pytest.raises(MoodlabError, match="random share 1.5 is not between 0 and 1"):
            order.choose_order(session=session, actor=lead, kind="model", random_share=1.5)
        with pytest.raises(MoodlabError, match="queue order 'smart' is not one of: own, model"):
            order.choose_order(session=session, actor=lead, kind="smart")
        assert order.current_order(session).kind == "own"
        order.choose_order(session=session, actor=lead, kind="model")
        order.choose_order(session=session, actor=lead, kind="own")
        assert order.current_order(session).kind == "own"
        assert len(session.scalars(select(order.QueueOrder)).all()) == 2
