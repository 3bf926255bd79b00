"""What an annotator sees of a track before their vote on it is final: nothing that hints
at its mood.

The default library is generated mood by mood, so track ids run in mood order
("Track 1-4" were the Happy tracks) and titles name the mood ("Happy 2"). An
annotator is therefore never shown a track's id or title before voting, nor offered
tracks in id order: each user has a random secret seed (``users.blind_seed``), and a
hash of that seed and the track id gives both the track's place in that user's queue
and the name it shows them ("Track K3F9Q"). Two annotators get different orders and
names; one annotator always gets the same (docs/music.md, "Music votes").
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from sqlalchemy.orm import Session

from moodlab.core.auth import Actor, user_id
from moodlab.core.errors import NotFound
from moodlab.core.models import Track, User
from moodlab.core.models.users import new_blind_seed

NAME_CHARS = 5  # base32: 32^5, about 33 million names, so two tracks rarely share one
# A track's key in its address on the file route (moodlab/music/files.py): 32^20 codes,
# never guessed, and one user's code for a track is not another's.
CODE_CHARS = 20


@dataclass(frozen=True)
class BlindTrack:
    """A track as an annotator sees it before their vote on it is final."""

    id: int  # for the vote buttons only: never shown
    name: str
    code: str  # its key on the file route: moodlab.ui.files.track_url(code)
    path: str
    duration_s: float
    license: str | None


def seed_of(session: Session, actor: Actor) -> str:
    """``actor``'s own blind seed (made now for a user row that has none)."""
    user = session.get(User, user_id(actor, action="vote on music"))
    if user is None:
        raise NotFound(f"no user {actor.name!r}")
    if not user.blind_seed:
        user.blind_seed = new_blind_seed()
        session.flush()
    return user.blind_seed


def order_key(seed: str, track_id: int) -> bytes:
    """Where the track stands in the queue of the user with ``seed``: stable, per user."""
    return hashlib.sha256(f"{seed}:{track_id}".encode()).digest()


def blind_name(seed: str, track_id: int) -> str:
    """The name the track shows the user with ``seed``: neither its title nor its id."""
    code = base64.b32encode(hashlib.sha256(f"name:{seed}:{track_id}".encode()).digest())
    return f"Track {code[:NAME_CHARS].decode()}"


def listen_code(seed: str, track_id: int) -> str:
    """The code of the track's audio address for the user with ``seed``: neither its id
    nor its title, so the request the browser makes gives no mood away either."""
    code = base64.b32encode(hashlib.sha256(f"listen:{seed}:{track_id}".encode()).digest())
    return code[:CODE_CHARS].decode().lower()


def blind(track: Track, seed: str) -> BlindTrack:
    return BlindTrack(
        id=track.id,
        name=blind_name(seed, track.id),
        code=listen_code(seed, track.id),
        path=track.path,
        duration_s=track.duration_s,
        license=track.license,
    )
