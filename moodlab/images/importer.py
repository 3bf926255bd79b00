"""`moodlab import PATH`: images from a folder or a .zip (public data sets, uploads).

Zip members are read into memory, checked and stored by content hash: their
names never become paths on disk, so a member called ../../etc/x cannot land
anywhere (it is reported as unsafe all the same). Member count and total size
are capped before anything is read, against zip bombs.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from moodlab.core.config import Settings
from moodlab.core.db import Database
from moodlab.core.errors import MoodlabError
from moodlab.images.checks import Rejected
from moodlab.images.intake import Intake, IntakeReport, Provenance, job_result
from moodlab.images.links import IMAGE_EXTENSIONS
from moodlab.jobs.context import JobContext, JobParams

# (source name, a function returning the bytes or raising Rejected)
Candidate = tuple[str, Callable[[], bytes]]


@dataclass
class ImportParams(JobParams):
    """An import of a folder or a .zip on the server (uploads land in one first)."""

    KIND = "import"
    path: str = ""
    names: dict[str, str] = field(default_factory=dict)  # stored file name -> name shown
    label: str = ""  # how the log names the source

    def validate(self, settings: Settings) -> None:
        if not self.path:
            raise MoodlabError("give a folder or a .zip to import")
        path = Path(self.path).expanduser()
        if not path.exists():
            raise MoodlabError(f"{self.path} does not exist on the server")
        self.label = self.label or self.path
        self.path = str(path.resolve())


def import_path(
    path: Path,
    settings: Settings,
    database: Database,
    *,
    job_id: int | None = None,
    on_progress: Callable[[int, int, IntakeReport], None] | None = None,
    source_label: Callable[[str], str] | None = None,
) -> IntakeReport:
    """Check and store every image file under ``path`` (a folder or a .zip)."""
    path = Path(path)
    intake = Intake(settings, database, job_id=job_id)
    if path.is_dir():
        candidates = list(_folder_candidates(path, settings))
    elif path.is_file() and zipfile.is_zipfile(path):
        candidates = list(_zip_candidates(path, settings, intake))
    elif path.exists():
        raise MoodlabError(f"{path} is neither a folder nor a .zip file")
    else:
        raise MoodlabError(f"{path} does not exist")
    intake.report.extra["files"] = len(candidates)
    label = source_label or (lambda name: name)
    for done, (name, read) in enumerate(candidates, start=1):
        try:
            data = read()
        except Rejected as rejected:
            intake.reject(label(name), rejected)
        else:
            intake.add_bytes(data, Provenance(source=label(name)))
        if on_progress:
            on_progress(done, len(candidates), intake.report)
    return intake.report


def _folder_candidates(root: Path, settings: Settings) -> Iterator[Candidate]:
    for folder, subfolders, files in os.walk(root, followlinks=False):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for name in sorted(files):
            file = Path(folder) / name
            if name.startswith(".") or file.is_symlink():
                continue
            if file.suffix.lower() in IMAGE_EXTENSIONS:
                yield str(file), _file_reader(file, settings.max_image_bytes)


def _file_reader(file: Path, max_bytes: int) -> Callable[[], bytes]:
    def read() -> bytes:
        size = file.stat().st_size
        if size > max_bytes:
            raise Rejected("too_large", f"file too large: {size:,} bytes (limit {max_bytes:,})")
        return file.read_bytes()

    return read


def _zip_candidates(path: Path, settings: Settings, intake: Intake) -> Iterator[Candidate]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise MoodlabError(f"{path} is not a readable zip file: {exc}") from None
    members = [info for info in archive.infolist() if not info.is_dir()]
    if len(members) > settings.import_max_members:
        raise MoodlabError(
            f"{path} holds {len(members):,} files, more than the limit of"
            f" {settings.import_max_members:,} (MOODLAB_IMPORT_MAX_MEMBERS)"
        )
    total = sum(info.file_size for info in members)
    if total > settings.import_max_total_bytes:
        raise MoodlabError(
            f"{path} would unpack to {total:,} bytes, more than the limit of"
            f" {settings.import_max_total_bytes:,} (MOODLAB_IMPORT_MAX_TOTAL_BYTES)"
        )
    for info in members:
        name = info.filename
        if PurePosixPath(name).suffix.lower() not in IMAGE_EXTENSIONS:
            continue
        source = f"{path.name}:{name}"
        if _unsafe(name):
            intake.reject(source, Rejected("unsafe_name", f"unsafe path in the zip: {name!r}"))
            continue
        yield source, _member_reader(archive, info, settings.max_image_bytes)


def _unsafe(name: str) -> bool:
    posix = PurePosixPath(name.replace("\\", "/"))
    return posix.is_absolute() or ".." in posix.parts or ":" in posix.parts[0]


def _member_reader(archive: zipfile.ZipFile, info: zipfile.ZipInfo, max_bytes: int):
    def read() -> bytes:
        if info.flag_bits & 0x1:
            raise Rejected("unreadable", "encrypted zip member")
        if info.file_size > max_bytes:
            raise Rejected(
                "too_large", f"file too large: {info.file_size:,} bytes (limit {max_bytes:,})"
            )
        try:
            with archive.open(info) as member:
                data = member.read(max_bytes + 1)  # never more, whatever the header claims
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise Rejected("corrupt", f"unreadable zip member: {exc}") from None
        if len(data) > max_bytes:
            raise Rejected("too_large", f"file too large: over {max_bytes:,} bytes")
        return data

    return read


def run_import(ctx: JobContext, params: ImportParams) -> dict:
    path = Path(params.path)
    ctx.log(f"importing {params.label or path}")
    names = params.names

    def on_progress(done: int, total: int, report: IntakeReport) -> None:
        ctx.progress(done / max(total, 1), f"{done} of {total} files, {report.stored} stored",
                     result=report.as_dict(ctx.job_id))  # fmt: skip

    report = import_path(
        path, ctx.settings, ctx.database, job_id=ctx.job_id, on_progress=on_progress,
        source_label=lambda name: names.get(Path(name).name, name),
    )  # fmt: skip
    ctx.log(f"done: {report.stored} stored of {report.extra.get('files', 0)} files")
    return job_result(report, ctx.job_id, what="file")
