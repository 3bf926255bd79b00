"""Generated files kept for reuse: what the same code and the same inputs make again.

Rendering a default track or a demo picture is deterministic: the same synthesiser
or picture code with the same mood and seed makes the same file. A kept file is
named by a key over the code that made it (the sha256 of its modules' source) and
its inputs, so changing that code makes new keys and the old files are never used
again. Each file has a record beside it (JSON) with its size, sha256 and whatever its
maker needs back (a track's loudness and tempo), whose fields and types the maker
declares. A kept file is used only when all of it holds: a regular file (never a
symbolic link), a record that parses with exactly the declared fields, the size and
sha256 the record says, and the maker's check of the content (a track decodes as the
MP3 it should be, a picture as the JPEG). Anything else is discarded with a warning
and made again, and the new file replaces it. Keeping is best effort: a cache folder
that cannot be written costs the reuse, never the work. The folder is
``MOODLAB_CACHE_DIR``, safe to delete at any time (docs/architecture.md, "Generated
files kept for reuse"; docs/security.md, "Kept files").
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import re
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from moodlab.core.errors import MoodlabError
from moodlab.core.storage import StorageError, atomic_path, atomic_write

log = logging.getLogger("moodlab.reuse")

# A record is a few fields: anything longer is not one of moodlab's.
MAX_RECORD_BYTES = 64 * 1024
# The largest file kept (a default track is about 1 MB, a demo picture 30 kB): a record
# claiming more is refused before the file is read.
MAX_KEPT_BYTES = 200_000_000
_SHA256 = re.compile(r"[0-9a-f]{64}")

# What a maker's check of a kept file's content raises when it is not what it claims.
NotAsKept = (ValueError, MoodlabError)


class _Discard(Exception):
    """A kept file (or its record) that must not be used; the message says why."""


@functools.cache
def _source_digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def code_fingerprint(*modules: ModuleType) -> str:
    """A digest of these modules' source files: it changes when any of them does."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update(_source_digest(str(module.__file__)).encode())
    return digest.hexdigest()


def _read_regular(path: Path, limit: int) -> bytes:
    """At most ``limit`` + 1 bytes of ``path``, which must be a regular file.

    ``O_NOFOLLOW``: a symbolic link is refused, never followed (a kept file swapped for a
    link to a system file must not become a library track); ``O_NONBLOCK``: a FIFO
    cannot hang the open. FileNotFoundError when there is nothing there.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise  # nothing kept: not worth a warning
    except OSError as exc:
        if path.is_symlink():
            raise _Discard(f"{path.name} is a symbolic link") from None
        raise _Discard(f"{path.name} cannot be read: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise _Discard(f"{path.name} is not a regular file")
        return handle.read(limit + 1)


def _is_a(value: object, kind: type) -> bool:
    if isinstance(value, bool):
        return kind is bool
    if kind is float:
        return isinstance(value, int | float) and math.isfinite(value)
    return isinstance(value, kind)


def _plain(value: object) -> str:
    """A record's value in a message, cut short."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


class KeptFiles:
    """One kind of generated file (``kind``, a folder of its own) under the cache dir.

    ``record``: the fields (name -> type: str, int or float) its maker keeps beside each
    file and gets back; a record with a field missing, extra or of another type is
    discarded.
    """

    def __init__(
        self,
        cache_dir: Path,
        kind: str,
        *makers: ModuleType,
        record: Mapping[str, type] | None = None,
    ):
        self.cache_dir = Path(cache_dir)
        self.folder = self.cache_dir / kind
        self.fingerprint = code_fingerprint(*makers)
        self.record = dict(record or {})

    def key(self, *inputs: object) -> str:
        text = json.dumps([self.fingerprint, *[str(value) for value in inputs]])
        return hashlib.sha256(text.encode()).hexdigest()[:40]

    def paths(self, key: str, suffix: str) -> tuple[Path, Path]:
        """The kept file under ``key`` and its record."""
        file = self.folder / key[:2] / f"{key}{suffix}"
        return file, file.with_name(f"{key}.json")

    # -- reading -------------------------------------------------------------------------------

    def get(
        self,
        key: str,
        suffix: str,
        check: Callable[[bytes, dict[str, Any]], None] | None = None,
    ) -> tuple[bytes, dict[str, Any]] | None:
        """The kept file's bytes and what was kept with it, or None: missing, or not
        whole, or not what ``check`` (which raises ValueError or MoodlabError) says the
        content must be; such a file is discarded with a warning."""
        try:
            found = self._found(key, suffix)
            if found is not None and check is not None:
                self._checked(check, *found)
        except _Discard as bad:
            self.discard(key, suffix, str(bad))
            return None
        return found

    def copy_to(
        self,
        key: str,
        suffix: str,
        target: Path,
        check: Callable[[Path, dict[str, Any]], None] | None = None,
    ) -> dict[str, Any] | None:
        """Write the kept file to ``target`` (written whole, then renamed); what was kept
        with it, or None when there is no usable kept file (``target`` untouched).

        ``check`` gets the written file before the rename (a decoder reads a path, and
        reads the very bytes that will be used); when it raises ValueError or
        MoodlabError, the kept file is discarded and nothing is renamed.
        """
        try:
            found = self._found(key, suffix)
            if found is None:
                return None
            content, extra = found
            with atomic_path(target) as temporary:
                temporary.write_bytes(content)
                if check is not None:
                    self._checked(check, temporary, extra)
        except _Discard as bad:
            self.discard(key, suffix, str(bad))
            return None
        return extra

    @staticmethod
    def _checked(check: Callable[[Any, dict[str, Any]], None], content: Any, extra: dict) -> None:
        try:
            check(content, extra)
        except NotAsKept as exc:
            raise _Discard(f"it is not what it should be: {exc}") from None

    def recorded_sha256(self, key: str, suffix: str) -> str | None:
        """The sha256 the record under ``key`` gives its file (None: no usable record),
        without reading the file; ``get`` and ``copy_to`` still check the file against it."""
        file, sidecar = self.paths(key, suffix)
        try:
            if not self._real_folders(file):
                return None
            return self._parse(_read_regular(sidecar, MAX_RECORD_BYTES))[1]
        except FileNotFoundError:
            return None
        except _Discard as bad:
            self.discard(key, suffix, str(bad))
            return None

    def _found(self, key: str, suffix: str) -> tuple[bytes, dict[str, Any]] | None:
        """The file and its record when both are whole; raises _Discard when not."""
        file, sidecar = self.paths(key, suffix)
        if not self._real_folders(file):
            return None
        try:
            size, sha256, extra = self._parse(_read_regular(sidecar, MAX_RECORD_BYTES))
            content = _read_regular(file, size)
        except FileNotFoundError:
            return None
        if len(content) != size or hashlib.sha256(content).hexdigest() != sha256:
            raise _Discard("it does not match its record")
        return content, extra

    def _parse(self, text: bytes) -> tuple[int, str, dict[str, Any]]:
        """The record's size, sha256 and extra fields; _Discard names what is wrong."""
        if len(text) > MAX_RECORD_BYTES:
            raise _Discard(f"its record is over {MAX_RECORD_BYTES:,} bytes")
        try:
            record = json.loads(text)
        except ValueError as exc:  # also bytes that are not UTF-8
            raise _Discard(f"its record is not JSON ({exc})") from None
        if not isinstance(record, dict):
            raise _Discard("its record is not a JSON object")
        size, sha256, extra = record.get("size"), record.get("sha256"), record.get("extra")
        if not (isinstance(size, int) and _is_a(size, int) and 0 <= size <= MAX_KEPT_BYTES):
            raise _Discard(f"its record's size {_plain(size)} is not a size")
        if not (isinstance(sha256, str) and _SHA256.fullmatch(sha256)):
            raise _Discard(f"its record's sha256 {_plain(sha256)} is not a sha256")
        if not isinstance(extra, dict):
            raise _Discard("its record's extra fields are not a JSON object")
        if set(extra) != set(self.record):
            missing, unknown = set(self.record) - set(extra), set(extra) - set(self.record)
            named = ", ".join(
                [f"{name} missing" for name in sorted(missing)]
                + [f"{_plain(name)} unknown" for name in sorted(unknown)]
            )
            raise _Discard(f"its record's fields are wrong ({named})")
        for name, kind in self.record.items():
            if not _is_a(extra[name], kind):
                raise _Discard(
                    f"its record's {name} {_plain(extra[name])} is not a {kind.__name__}"
                )
        return size, sha256, {name: kind(extra[name]) for name, kind in self.record.items()}

    def _real_folders(self, file: Path) -> bool:
        """Whether ``file``'s folders below the cache dir are no symbolic links: a link
        where the kind's folder or a shard folder should be is removed (the link only),
        so that nothing is read or kept through it; False when one cannot be removed."""
        for folder in (self.folder, file.parent):
            if folder.is_symlink():
                try:
                    folder.unlink()
                except OSError as exc:
                    log.warning(
                        "kept-file folder %s is a symbolic link: not used (%s)", folder, exc
                    )
                    return False
                log.warning("kept-file folder %s is a symbolic link: removed (the link)", folder)
        return True

    def discard(self, key: str, suffix: str, why: str) -> None:
        """Remove a kept file and its record (links themselves, never what they point
        to), with a warning that says why; the caller makes the file again."""
        file, sidecar = self.paths(key, suffix)
        log.warning("kept file %s: %s: discarded, made again", file, why)
        for path in (file, sidecar):
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:  # IsADirectoryError, say: keep() cannot write there either
                log.warning("could not remove %s: %s", path, exc)

    # -- keeping -------------------------------------------------------------------------------

    def keep(
        self, key: str, suffix: str, data: bytes | Path, extra: dict[str, Any] | None = None
    ) -> None:
        """Keep ``data`` (bytes or a file's path) under ``key``, with ``extra`` (JSON) beside
        it for ``get`` to give back; failures are only logged.

        Both are written to temp names and renamed over what was there, so a symbolic link
        in their place is replaced by the file, and what it pointed to is left alone.
        """
        file, sidecar = self.paths(key, suffix)
        try:
            if not self._real_folders(file):
                return
            content = data.read_bytes() if isinstance(data, Path) else data
            with atomic_write(file, durable=False) as handle:
                handle.write(content)
            record = {
                "size": len(content),
                "sha256": hashlib.sha256(content).hexdigest(),
                "extra": extra or {},
            }
            with atomic_write(sidecar, durable=False) as handle:
                handle.write(json.dumps(record).encode())
        except (OSError, StorageError) as exc:
            log.warning("could not keep %s for reuse: %s", file, exc)
