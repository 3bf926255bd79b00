"""The votes as arrays: the kept copy follows added, changed and removed votes."""

from __future__ import annotations

import numpy as np
from sqlalchemy import delete

from moodlab.core.models import ImageVote, Role
from moodlab.images.intake import Intake, Provenance
from moodlab.votes import annotation, arrays
from tests import media
from tests.conftest import add_user


def as_set(votes: arrays.VoteArrays) -> set[tuple[int, int, int]]:
    ids, who, mood = votes.image_ids.tolist(), votes.annotator_ids.tolist(), votes.mood_idx.tolist()
    rows = zip(ids, who, mood, strict=True)
    return set(rows)


def test_kept_votes_follow_every_change(database, settings):
    intake = Intake(settings, database)
    images = [intake.add_bytes(media.jpeg(1200 + i), Provenance(source=f"t{i}")) for i in range(3)]
    people = [add_user(database, f"a{i}", Role.ANNOTATOR) for i in range(3)]

    def vote(person, image, mood):
        with database.session() as session:
            annotation.answer(session=session, actor=person, image_id=image, mood=mood)

    def loaded():
        with database.session() as session:
            kept = arrays.load_votes(session)
        arrays.forget_votes()
        with database.session() as session:
            fresh = arrays.load_votes(session)
        assert as_set(kept) == as_set(fresh) and len(kept.image_ids) == len(fresh.image_ids)
        with database.session() as session:  # keep the fresh copy for the next change
            arrays.load_votes(session)
        return as_set(kept)

    arrays.forget_votes()
    vote(people[0], images[0], "Happy")
    vote(people[1], images[0], "Tired")
    first = loaded()
    vote(people[2], images[1], None)  # added (a skip)
    assert len(loaded()) == len(first) + 1
    vote(people[0], images[0], "Angry")  # changed
    assert (images[0], people[0].id, 2) in loaded()
    with database.session() as session:  # removed
        session.execute(delete(ImageVote).where(ImageVote.annotator_id == people[1].id))
    assert all(who != people[1].id for _, who, _ in loaded())
    vote(people[1], images[2], "Peaceful")
    vote(people[2], images[1], "Peaceful")  # added and changed since the last read
    final = loaded()
    assert (images[2], people[1].id, 7) in final and (images[1], people[2].id, 7) in final
    assert np.unique([(i, w) for i, w, _ in final], axis=0).shape[0] == len(final)
    arrays.forget_votes()
