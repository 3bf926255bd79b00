"""`moodlab import PATH`: images from a folder or a .zip (public data sets, uploads).

Zip members are read into memory, checked and stored by content hash: their
names never become paths on disk, so a member called ../../etc/x cannot land
anywhere (it is reported as unsafe all the same). Member count and total size
are capped before anything is read, against zip bombs.
"""

from __future__ import annotations

import os
import stat
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from moodlab.core.config import Settings
from moodlab.core.db import Database
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Role
from moodlab.images.checks import Rejected
from moodlab.images.formats import IMAGE_EXTENSIONS
from moodlab.images.intake import Intake, IntakeReport, Provenance, job_result
from moodlab.jobs.context import JobContext, JobParams

# (source name, a function returning the bytes or raising Rejected)
Candidate = tuple[str, Callable[[], bytes]]


@dataclass
class ImportParams(JobParams):
    """An import of a folder or a .zip on the server (uploads land in one first)."""

    KIND = "import"
    TITLE = "image import"
    ROLE = Role.LEAD
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


# Kinds a person may expect to import that moodlab does not read: listed as rejected
# with the reason, never skipped silently. Other files (notes, CSVs) are not pictures.
UNSUPPORTED_KINDS = {
    ".svg": "an SVG drawing (vector graphics): export it as PNG or JPEG to import it",
    ".svgz": "an SVG drawing (vector graphics): export it as PNG or JPEG to import it",
    ".heic": "a HEIC/HEIF photo, which moodlab cannot decode: convert it to JPEG",
    ".heif": "a HEIC/HEIF photo, which moodlab cannot decode: convert it to JPEG",
    ".hif": "a HEIC/HEIF photo, which moodlab cannot decode: convert it to JPEG",
    ".avif": "an AVIF picture, not among the formats moodlab stores: convert it to JPEG",
    ".jxl": "a JPEG XL picture, which moodlab cannot decode: convert it to JPEG",
    ".psd": "a Photoshop document: export it as PNG or JPEG",
    ".dng": "a camera raw file: develop it to JPEG first",
    ".cr2": "a camera raw file: develop it to JPEG first",
    ".nef": "a camera raw file: develop it to JPEG first",
    ".arw": "a camera raw file: develop it to JPEG first",
    ".tar": "an archive of a kind moodlab does not unpack (only .zip)",
    ".tgz": "an archive of a kind moodlab does not unpack (only .zip)",
    ".gz": "an archive of a kind moodlab does not unpack (only .zip)",
    ".7z": "an archive of a kind moodlab does not unpack (only .zip)",
    ".rar": "an archive of a kind moodlab does not unpack (only .zip)",
}
NESTED_ZIP = "a zip inside a zip: unpack the outer one and import the inner zip on its own"
SYMLINK = "a symbolic link: not followed"


def import_path(
    path: Path,
    settings: Settings,
    database: Database,
    *,
    job_id: int | None = None,
    on_progress: Callable[[int, int, IntakeReport], None] | None = None,
    source_label: Callable[[str], str] | None = None,
) -> IntakeReport:
    """Check and store every image file under ``path`` (a folder or a .zip).

    A folder's zips are unpacked too (uploads of images and zips together land in one
    folder). Each file and each zip member is read on its own: whatever goes wrong with
    one (not a regular file, a corrupt or unsupported compression, a bad image) rejects
    that one with its reason, and the rest go on.
    """
    path = Path(path)
    intake = Intake(settings, database, job_id=job_id)
    label = source_label or (lambda name: name)
    if path.is_dir():
        candidates = list(_folder_candidates(path, settings, intake, label))
    elif path.is_file() and zipfile.is_zipfile(path):
        archive = _open_zip(path, settings)
        candidates = list(_zip_candidates(archive, label(path.name), settings, intake))
    elif path.exists():
        raise MoodlabError(f"{path} is neither a folder nor a .zip file")
    else:
        raise MoodlabError(f"{path} does not exist")
    intake.report.extra["files"] = len(candidates)
    # Files as each image is checked, rows committed in batches, as a crawl stores them
    # (a transaction and a folder sync per image were a third of an import's time).
    try:
        for done, (name, read) in enumerate(candidates, start=1):
            try:
                checked = intake.check(read())
            except Rejected as rejected:
                intake.reject(name, rejected)
            else:
                intake.stage(checked, Provenance(source=name))
            if on_progress:
                on_progress(done, len(candidates), intake.report)
    finally:
        intake.flush()  # what was staged is whole: its files are written
    return intake.report


def _folder_candidates(
    root: Path, settings: Settings, intake: Intake, label: Callable[[str], str]
) -> Iterator[Candidate]:
    for folder, subfolders, files in os.walk(root, followlinks=False):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for name in [d for d in subfolders if (Path(folder) / d).is_symlink()]:
            subfolders.remove(name)  # os.walk would not enter it: said so, not passed over
            intake.reject(label(str(Path(folder) / name)), Rejected("not_regular", SYMLINK))
        for name in sorted(files):
            file = Path(folder) / name
            suffix = file.suffix.lower()
            if name.startswith("."):
                continue
            source = label(str(file))
            if file.is_symlink():
                # Never followed: a link may point anywhere on the server (a private
                # file, a FIFO). Listed, so the person sees what was not imported.
                intake.reject(source, Rejected("not_regular", SYMLINK))
                continue
            if suffix in IMAGE_EXTENSIONS:
                yield source, _file_reader(file, settings.max_image_bytes)
            elif suffix == ".zip":
                yield from _folder_zip(file, source, settings, intake)
            elif suffix in UNSUPPORTED_KINDS:
                intake.reject(source, Rejected("unsupported", UNSUPPORTED_KINDS[suffix]))


def _not_regular(mode: int) -> str | None:
    """What a file that is not a regular file is, or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    kinds = [
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISLNK, "a symbolic link"),
    ]
    return next((what for test, what in kinds if test(mode)), "not a regular file")


def _read_regular(file: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file; anything else is refused by its name, never opened.

    The file is checked before it is opened (a FIFO's open blocks until a writer comes),
    then opened without following links and without blocking, and checked again on the
    open descriptor, so a file swapped for a FIFO in between cannot hang the worker.
    """
    try:
        what = _not_regular(os.lstat(file).st_mode)
        if what:
            raise Rejected("not_regular", f"not a regular file: {what}; not read")
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise Rejected("unreadable", f"cannot read the file: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        what = _not_regular(info.st_mode)
        if what:
            raise Rejected("not_regular", f"not a regular file: {what}; not read")
        if info.st_size > max_bytes:
            raise Rejected(
                "too_large", f"file too large: {info.st_size:,} bytes (limit {max_bytes:,})"
            )
        try:
            data = handle.read(max_bytes + 1)
        except OSError as exc:
            raise Rejected("unreadable", f"cannot read the file: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise Rejected("too_large", f"file too large: over {max_bytes:,} bytes")
    return data


def _file_reader(file: Path, max_bytes: int) -> Callable[[], bytes]:
    return lambda: _read_regular(file, max_bytes)


def _folder_zip(file: Path, source: str, settings: Settings, intake: Intake) -> Iterator[Candidate]:
    """The members of a zip found in a folder; a zip that cannot be read is rejected."""
    try:
        what = _not_regular(os.lstat(file).st_mode)
        if what:
            raise Rejected("not_regular", f"not a regular file: {what}; not read")
        archive = _open_zip(file, settings)
    except Rejected as rejected:
        intake.reject(source, rejected)
        return
    except (MoodlabError, OSError) as exc:
        kind = "too_large" if "more than the limit" in str(exc) else "corrupt"
        intake.reject(source, Rejected(kind, str(exc)))
        return
    yield from _zip_candidates(archive, source, settings, intake)


def _open_zip(path: Path, settings: Settings) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError) as exc:
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
    return archive


def _zip_candidates(
    archive: zipfile.ZipFile, label: str, settings: Settings, intake: Intake
) -> Iterator[Candidate]:
    for info in archive.infolist():
        if info.is_dir():
            continue
        name = info.filename
        suffix = PurePosixPath(name).suffix.lower()
        source = f"{label}:{name}"
        if suffix not in IMAGE_EXTENSIONS:
            if suffix == ".zip":
                intake.reject(source, Rejected("unsupported", NESTED_ZIP))
            elif suffix in UNSUPPORTED_KINDS:
                intake.reject(source, Rejected("unsupported", UNSUPPORTED_KINDS[suffix]))
            continue
        if _unsafe(name):
            intake.reject(source, Rejected("unsafe_name", f"unsafe path in the zip: {name!r}"))
            continue
        yield source, _member_reader(archive, info, settings.max_image_bytes)


def _unsafe(name: str) -> bool:
    posix = PurePosixPath(name.replace("\\", "/"))
    return posix.is_absolute() or ".." in posix.parts or ":" in posix.parts[0]


def _member_reader(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, max_bytes: int
) -> Callable[[], bytes]:
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
        except NotImplementedError as exc:  # Deflate64, PPMd, ...: zipfile cannot unpack it
            raise Rejected("unsupported", f"unsupported zip compression: {exc}") from None
        except Exception as exc:  # a corrupt deflate, bzip2 or LZMA stream, a bad CRC, ...
            raise Rejected(
                "corrupt", f"unreadable zip member ({type(exc).__name__}: {exc})"
            ) from None
        if len(data) > max_bytes:
            raise Rejected("too_large", f"file too large: over {max_bytes:,} bytes")
        return data

    return read


def run_import(ctx: JobContext, params: ImportParams) -> dict:
    path = Path(params.path)
    ctx.log(f"importing {params.label or path}")
    names = params.names

    def on_progress(done: int, total: int, report: IntakeReport) -> None:
        ctx.progress(
            done / max(total, 1),
            f"{done} of {total} files, {report.stored} stored",
            result=report.as_dict(ctx.job_id),
        )

    report = import_path(
        path,
        ctx.settings,
        ctx.database,
        job_id=ctx.job_id,
        on_progress=on_progress,
        source_label=lambda name: names.get(Path(name).name, name) if names else name,
    )
    ctx.log(f"done: {report.stored} stored of {report.extra.get('files', 0)} files")
    return job_result(report, ctx.job_id, what="file")
