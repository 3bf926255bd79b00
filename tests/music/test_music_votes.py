"""Music votes stay blind: no counts, status or mood of a track for an annotator before
their vote on it is final; a final vote never changes; an order and names of one's own."""

from __future__ import annotations

from dataclasses import fields

import pytest

from moodlab.core import moods
from moodlab.core.models import Role, TrackStatus
from moodlab.music import blind, library
from moodlab.music import votes as track_votes
from tests.conftest import add_user
from tests.music.test_music_library import make_track


@pytest.fixture
def library_by_mood(database, settings) -> list[int]:
    """Two generated tracks per mood, made mood by mood like the default library."""
    return [
        make_track(database, settings, f"{m}-{n}.wav", TrackStatus.GENERATED, m, generated=True)
        for m in moods.names()
        for n in (1, 2)
    ]


def vote(database, settings, actor, track_id, mood="Happy"):
    with database.session() as session:
        return track_votes.vote_track(
            session=session, actor=actor, settings=settings, track_id=track_id, mood=mood
        )


def undo(database, settings, actor, previous):
    with database.session() as session:
        track_votes.undo_track_vote(
            session=session, actor=actor, settings=settings, previous=previous
        )


def test_an_annotator_gets_no_counts_status_or_mood_of_a_track_before_their_final_vote(
    database, settings, library_by_mood
):
    anna, ben = (add_user(database, n, Role.ANNOTATOR) for n in ("anna", "ben"))
    happy = library_by_mood[0]
    vote(database, settings, ben, happy)
    with database.session() as session:
        shelf = library.shelf(session=session, actor=anna)
        assert shelf.known == [] and shelf.votes == {}
        assert {t.id for t in shelf.waiting} == set(library_by_mood)
        shown = {f.name for f in fields(blind.BlindTrack)}
        assert not shown & {"mood", "status", "title", "intended_mood"}
        assert all(t.name.startswith("Track ") for t in shelf.waiting)
        assert all(t.name != f"Track {t.id}" for t in shelf.waiting)
    vote(database, settings, anna, happy)  # voted, still on the track: not final
    with database.session() as session:
        assert library.visible_votes(session=session, actor=anna) == {}
        assert track_votes.final_track_ids(session=session, actor=anna) == set()
    with database.session() as session:  # the Music page: her vote becomes final first
        shelf = library.shelf(session=session, actor=anna)
        assert [t.id for t in shelf.known] == [happy]
        assert shelf.votes == {happy: {"Happy": 2}}
        assert happy not in {t.id for t in shelf.waiting}


def test_a_vote_left_behind_or_whose_results_were_seen_cannot_change(
    database, settings, library_by_mood
):
    """Before, an annotator could vote, see the counts, undo and vote with the majority."""
    anna = add_user(database, "anna", Role.ANNOTATOR)
    first, second, third = library_by_mood[:3]
    on_first = vote(database, settings, anna, first, "Tired")
    vote(database, settings, anna, first, "Happy")  # still on it: she may change it
    on_second = vote(database, settings, anna, second, "Angry")  # she left the first
    with pytest.raises(track_votes.FinalVote, match="is final.*can no longer be undone"):
        undo(database, settings, anna, on_first)
    with pytest.raises(track_votes.FinalVote, match="can no longer be changed"):
        vote(database, settings, anna, first, "Peaceful")
    undo(database, settings, anna, on_second)  # the track she is on: undone
    on_third = vote(database, settings, anna, third, "Dynamic")
    with database.session() as session:
        assert track_votes.can_undo(session=session, actor=anna, previous=on_third)
        library.shelf(session=session, actor=anna)  # she sees the results
    with database.session() as session:
        assert not track_votes.can_undo(session=session, actor=anna, previous=on_third)
    with pytest.raises(track_votes.FinalVote):
        undo(database, settings, anna, on_third)
    with pytest.raises(track_votes.FinalVote):
        vote(database, settings, anna, third, "Happy")
    with database.session() as session:
        assert library.visible_votes(session=session, actor=anna) == {
            first: {"Happy": 1},
            third: {"Dynamic": 1},
        }


def offered(database, settings, actor) -> list[tuple[int, str]]:
    """The tracks as Music votes offers them to ``actor``, voting through: (id, name) each."""
    seen = []
    while True:
        with database.session() as session:
            track = track_votes.next_track(session=session, actor=actor)
        if track is None:
            return seen
        seen.append((track.id, track.name))
        vote(database, settings, actor, track.id)


def test_each_annotator_gets_an_order_and_names_of_their_own(database, settings, library_by_mood):
    """Before, everyone got id order ("Track 1-4" were the Happy tracks) and id names."""
    anna, ben = (add_user(database, n, Role.ANNOTATOR) for n in ("anna", "ben"))
    annas, bens = offered(database, settings, anna), offered(database, settings, ben)
    assert sorted(i for i, _ in annas) == sorted(i for i, _ in bens) == library_by_mood
    assert [i for i, _ in annas] != library_by_mood and [i for i, _ in bens] != library_by_mood
    assert [i for i, _ in annas] != [i for i, _ in bens]
    assert all(annas_name != dict(bens)[i] for i, annas_name in annas)
    assert all(name != f"Track {i}" for i, name in annas + bens)
    with database.session() as session:  # stable: the same annotator, the same order
        seed = blind.seed_of(session, anna)
    assert sorted(library_by_mood, key=lambda i: blind.order_key(seed, i)) == [i for i, _ in annas]


def test_four_annotators_start_on_different_tracks(database, settings, library_by_mood):
    """Issue 28: as with images, four annotators do not start on one track (fixed seeds,
    so every run checks the same orders)."""
    from moodlab.core.models import User

    people = [add_user(database, name, Role.ANNOTATOR) for name in ("ana", "ben", "cai", "dana")]
    with database.session() as session:
        for person in people:
            session.get(User, person.id).blind_seed = f"seed of {person.name}"
    firsts = []
    for person in people:
        with database.session() as session:
            firsts.append(track_votes.next_track(session=session, actor=person).id)
    assert len(set(firsts)) == 4
    assert firsts != library_by_mood[:4]
