"""Content-addressed files under the data dir, and atomic writes for every file.

An object's name is the sha256 of its bytes, sharded two levels deep
(``objects/ab/cd/abcd....jpg``) so no folder grows past a few thousand entries.
Every write goes to a temporary name in the same folder and is renamed into
place, so a crash never leaves a half file under a real name.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

from moodlab.core.errors import MoodlabError, NotFound

_SHA256 = re.compile(r"[0-9a-f]{64}")
_SUFFIX = re.compile(r"\.[a-z0-9]{1,8}")


class StorageError(MoodlabError):
    """A file could not be written or read."""


def _storage_error(exc: OSError, path: Path) -> StorageError:
    if exc.errno == errno.ENOSPC:
        return StorageError(f"no space left on the device writing {path}")
    return StorageError(f"could not write {path}: {exc.strerror or exc}")


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in 1 MiB pieces (videos and tracks can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# An upload as a service takes it: bytes (the command line, tests), or a file object read
# from its start (Streamlit's UploadedFile), copied in chunks rather than copied whole.
Upload = bytes | BinaryIO
UPLOAD_CHUNK = 1 << 20  # 1 MiB


def upload_size(data: Upload) -> int:
    """How many bytes ``data`` holds, without reading it."""
    if isinstance(data, bytes):
        return len(data)
    data.seek(0, os.SEEK_END)
    size = data.tell()
    data.seek(0)
    return size


def copy_upload(data: Upload, handle: BinaryIO) -> None:
    """Write ``data`` to ``handle`` a MiB at a time (a file object from its start)."""
    if isinstance(data, bytes):
        handle.write(data)
        return
    data.seek(0)
    shutil.copyfileobj(data, handle, UPLOAD_CHUNK)


def file_within(root: Path, path: Path) -> Path:
    """``path``, resolved, when it is a regular file inside ``root``; else NotFound.

    For files served to a browser (moodlab/ui/files.py): a stored path that leads out of
    the data or music dir (``..``, an absolute path, a symbolic link pointing elsewhere)
    is refused as if the file did not exist, so an answer never tells what lies outside.
    """
    try:
        resolved = path.resolve(strict=True)
        inside = resolved.is_relative_to(root.resolve(strict=True))
        regular = resolved.is_file()
    except (OSError, RuntimeError):  # missing, unreadable, or a link loop
        inside = regular = False
    if not (inside and regular):
        raise NotFound(f"no such file: {path.name}")
    return resolved


@contextmanager
def atomic_write(path: Path, *, durable: bool = True) -> Iterator[BinaryIO]:
    """Open a temp file beside ``path``; on success it is fsynced and renamed to ``path``.

    ``durable=False`` skips the fsync, for files that can be made again from others
    (an image's display copy and thumbnail): still renamed whole, but a power cut may
    leave them empty or short, which the start-up check finds and rebuilds.
    """
    # ".<name>.h<host>p<pid>.<random>.tmp": a worker's start removes those whose process
    # is gone (remove_stale_temp_files).
    try:
        fd, tmp_name = _temp_file(path)
    except FileNotFoundError:  # the folder first: mkdir on every write was 6% of a crawl's CPU
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = _temp_file(path)
    with _renamed_on_success(Path(tmp_name), path), os.fdopen(fd, "wb") as handle:
        yield handle
        handle.flush()
        if durable:
            os.fsync(handle.fileno())


def _temp_file(path: Path) -> tuple[int, str]:
    return tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.{writer_token()}.", suffix=".tmp"
    )


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temp path beside ``path`` for a tool that writes files itself (ffmpeg, Keras).

    On success the file is fsynced, renamed to ``path`` and its folder fsynced, so the
    rename too survives a power cut; on failure it is removed. The temp name ends with
    ``path``'s suffix, for tools that choose the format by it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{writer_token()}.{time.monotonic_ns()}.tmp{path.suffix}")
    with _renamed_on_success(tmp, path):
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """fsync a folder, so that the renames into it last (a file's own fsync does not)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def removed_on_failure(folder: Path) -> Iterator[Path]:
    """``folder``, removed with everything in it when the block fails: a refused batch
    of uploads leaves none of its files (docs/security.md, "What a refusal leaves")."""
    try:
        yield folder
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def touch(path: Path) -> None:
    """Make a file's modification time now, as a file in use again is fresh; best effort."""
    with suppress(OSError):
        os.utime(path)


@contextmanager
def _renamed_on_success(tmp: Path, path: Path) -> Iterator[None]:
    """Rename ``tmp`` to ``path`` when the block succeeds; remove it when it fails."""
    try:
        yield
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _storage_error(exc, path) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# A temp name of moodlab's writes: hidden, ".tmp" then at most a suffix; the writer's
# token (when it put one in) is the part before the last one ahead of ".tmp".
_TEMP_NAME = re.compile(r"^\..+\.tmp(\.[A-Za-z0-9]{1,8})?$")
_TEMP_WRITER = re.compile(r"\.h([0-9a-f]{8})p(\d+)\.[^.]+\.tmp(\.[A-Za-z0-9]{1,8})?$")


def _host_hash() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def writer_token() -> str:
    """ "h<host hash>p<pid>": which process on which machine writes a temp file.

    The data dir may be shared storage that several machines mount (postgresql.md), so
    a pid means something only on the host that wrote it.
    """
    return f"h{_host_hash()}p{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temp_files(
    root: Path, *, older_than_s: float, now: float | None = None
) -> list[Path]:
    """Remove the temp files of writes that never finished (their process was killed).

    A temp file whose name carries this host and a pid (atomic_write, atomic_path) is
    stale when that process no longer exists; any temp file is stale once older than
    ``older_than_s`` (another host's, or one whose writer names no pid).
    Returns what was removed.
    """
    now = time.time() if now is None else now
    host = _host_hash()
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for folder, _dirs, files in os.walk(root):
        for name in files:
            if not _TEMP_NAME.match(name):
                continue
            path = Path(folder) / name
            writer = _TEMP_WRITER.search(name)
            try:
                if writer and writer.group(1) == host and int(writer.group(2)) != os.getpid():
                    stale = not _alive(int(writer.group(2)))
                else:
                    stale = False
                stale = stale or now - path.lstat().st_mtime > older_than_s
                if stale:
                    path.unlink()
                    removed.append(path)
            except (FileNotFoundError, ValueError):
                continue
    return removed


class ContentStore:
    """Files named by the sha256 of their content, under ``root/objects``."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.objects = self.root / "objects"

    def path_for(self, sha256: str, suffix: str = "") -> Path:
        if not _SHA256.fullmatch(sha256):
            raise StorageError(f"{sha256!r} is not a sha256 hex digest")
        if suffix and not _SUFFIX.fullmatch(suffix):
            raise StorageError(f"{suffix!r} is not a file suffix like '.jpg'")
        return self.objects / sha256[:2] / sha256[2:4] / f"{sha256}{suffix}"

    def derived_path(self, sha256: str, kind: str, suffix: str) -> Path:
        """A file made from object ``sha256`` (a thumbnail, a display copy), sharded alike."""
        if not re.fullmatch(r"[a-z0-9_]{1,32}", kind):
            raise StorageError(f"{kind!r} is not a derived-file kind")
        original = self.path_for(sha256, suffix)
        return self.root / kind / original.relative_to(self.objects)

    def write_new(self, path: Path, data: bytes, *, durable: bool = True) -> bool:
        """Write ``data`` to ``path`` atomically unless it exists; True when written."""
        if path.exists():
            return False
        with atomic_write(path, durable=durable) as handle:
            handle.write(data)
        return True

    def link_new(self, source: Path, path: Path) -> bool:
        """``path`` as a hard link to ``source`` (a copy where links fail) unless it exists."""
        if path.exists():
            return False
        if not path.parent.is_dir():  # a stat; mkdir(exist_ok=True) fails and stats too
            path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(
            f".{path.name}.{os.getpid()}.{threading.get_ident()}.{time.monotonic_ns()}.tmp"
        )
        try:
            try:
                os.link(source, tmp)
            except OSError:
                tmp.write_bytes(source.read_bytes())
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise _storage_error(exc, path) from exc
        return True

    def put_bytes(self, data: bytes, suffix: str = "") -> str:
        """Store ``data`` (once: storing the same bytes again is a no-op); return its sha256."""
        sha256 = hashlib.sha256(data).hexdigest()
        path = self.path_for(sha256, suffix)
        if not path.exists():
            with atomic_write(path) as handle:
                handle.write(data)
        return sha256

    def exists(self, sha256: str, suffix: str = "") -> bool:
        return self.path_for(sha256, suffix).exists()

    def read_bytes(self, sha256: str, suffix: str = "") -> bytes:
        path = self.path_for(sha256, suffix)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise StorageError(f"no stored file {sha256}{suffix} under {self.objects}") from None
