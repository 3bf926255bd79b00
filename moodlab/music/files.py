"""Which track files a user may open in the browser (the file route, moodlab/ui/files.py).

Every logged-in user may play every track (the Music page lists them all), but votes on
tracks are blind (moodlab/music/blind.py): a track's address must not carry its id or
its file name, which name its mood. So a track's key is the user's own code for it
(``blind.listen_code``, a digest of their blind seed and the track id): the same track
has another address for each user, and only the user it was made for can open it. Music
votes plays its tracks from the same addresses.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from moodlab.core.auth import Actor, require_role
from moodlab.core.config import Settings
from moodlab.core.errors import NotFound
from moodlab.core.models import Role, Track
from moodlab.core.storage import file_within
from moodlab.music.blind import listen_code, seed_of


def track_keys(*, session: Session, actor: Actor) -> dict[int, str]:
    """Every track's key for ``actor``, by track id (one query, for a page of players)."""
    seed = seed_of(session, actor)
    return {track_id: listen_code(seed, track_id) for track_id in session.scalars(select(Track.id))}


def track_file(*, session: Session, actor: Actor, settings: Settings, key: str) -> Path:
    """The file of the track whose key for ``actor`` is ``key``."""
    require_role(actor, Role.LEAD, Role.ANNOTATOR, action="play tracks")
    seed = seed_of(session, actor)
    for track_id, path in session.execute(select(Track.id, Track.path)):
        if listen_code(seed, track_id) == key:
            return file_within(settings.music_dir, settings.music_dir / path)
    raise NotFound("no such track")
