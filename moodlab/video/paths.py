"""Which files a video job may read and write (docs/security.md, "Paths from users").

A person in the browser names no path on the server: a video's inputs come from
their uploads (``data/uploads``), the music library, or a folder the lead
configured (``MOODLAB_VIDEO_INPUT_DIRS``), and its output goes under the data
folder. The command line acts as the machine's own user, who may name any file
(docs/security.md, "Roles"). Nobody's output may replace another video's file.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from moodlab.core.auth import Actor
from moodlab.core.config import Settings
from moodlab.core.errors import PermissionDenied
from moodlab.core.models import Video


def input_roots(settings: Settings) -> list[Path]:
    """The folders a logged-in user's video inputs may come from."""
    roots = [settings.data_dir / "uploads", settings.music_dir, *settings.video_input_folders]
    return [root.expanduser().resolve() for root in roots]


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def check_inputs(inputs: list[str], shown: dict[str, str], *, actor: Actor, settings: Settings):
    """Refuse an input outside the allowed folders (symbolic links are followed first)."""
    if actor.id is None:
        return
    roots = input_roots(settings)
    for given in inputs:
        resolved = Path(given).expanduser().resolve()
        if not _inside(resolved, roots):
            name = shown.get(given) or Path(given).name
            raise PermissionDenied(
                f"{name}: {actor.name} may make videos only from uploads, the music library"
                " or the folders the lead configured (MOODLAB_VIDEO_INPUT_DIRS)"
            )


def check_output(
    out: str | None,
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    job_id: int | None = None,
    fresh: bool = True,
) -> None:
    """Refuse an output outside the data folder (for users), or over another job's video.

    ``fresh``: when the job is queued, the file must not exist yet; when it runs
    again after a crash, its own half-made output may be there.
    """
    if not out:
        return
    target = Path(out).expanduser().resolve()
    data = settings.data_dir.expanduser().resolve()
    if actor.id is not None and not target.is_relative_to(data):
        raise PermissionDenied(
            f"{out}: {actor.name} may write videos only under the data folder ({data})"
        )
    for path, owner in session.execute(select(Video.path, Video.job_id)):
        stored = Path(path) if Path(path).is_absolute() else data / path
        if stored.resolve() == target and (job_id is None or owner != job_id):
            raise PermissionDenied(f"{out}: that is another job's video; choose another name")
    if fresh and target.exists() and target.is_relative_to(data):
        raise PermissionDenied(f"{out}: a file of moodlab's is there already; choose another name")
