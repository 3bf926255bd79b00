"""Which image files a user may open in the browser (the file route, moodlab/ui/files.py).

Stored images (display copies and 128 px thumbnails) are named by their sha256 and open
to every logged-in user: annotators vote on them. A near-duplicate an intake job held is
the lead's, like the job's report (docs/security.md, "Files by URL").
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy.orm import Session

from moodlab.core.auth import Actor, require_role
from moodlab.core.config import Settings
from moodlab.core.errors import NotFound
from moodlab.core.models import Job, Role
from moodlab.core.storage import ContentStore, file_within
from moodlab.images.intake import display_path, thumbnail_path
from moodlab.images.report import IntakeResult

SHA256 = re.compile(r"[0-9a-f]{64}")
SIZES = {"display": display_path, "thumb": thumbnail_path}


def image_file(*, actor: Actor, settings: Settings, sha256: str, size: str) -> Path:
    """The display copy (``size="display"``) or thumbnail (``"thumb"``) of image ``sha256``."""
    require_role(actor, Role.LEAD, Role.ANNOTATOR, action="see images")
    if size not in SIZES or not SHA256.fullmatch(sha256):
        raise NotFound(f"no image file {size}/{sha256[:64]}")
    path = SIZES[size](ContentStore(settings.data_dir), sha256)
    return file_within(settings.data_dir, path)


def held_file(
    *, session: Session, actor: Actor, settings: Settings, job_id: int, sha256: str
) -> Path:
    """The display copy of the near-duplicate ``sha256`` that intake job ``job_id`` held."""
    require_role(actor, Role.LEAD, action="see held near-duplicates")
    job = session.get(Job, job_id)
    entries = IntakeResult.from_json(job.result).near_duplicates if job is not None else []
    entry = next((e for e in entries if e.get("sha256") == sha256 and e.get("preview")), None)
    if entry is None:
        raise NotFound(f"job {job_id} holds no near-duplicate {sha256[:12]}")
    return file_within(settings.data_dir, settings.data_dir / entry["preview"])
