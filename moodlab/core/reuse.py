"""Generated files kept for reuse: what the same code and the same inputs make again.

Rendering a default track or a demo picture is deterministic: the same synthesiser
or picture code with the same mood and seed makes the same file. A kept file is
named by a key over the code that made it (the sha256 of its modules' source) and
its inputs, so changing that code makes new keys and the old files are never used
again. Each file has a sidecar with its size, sha256 and whatever its maker needs
back (a track's loudness and tempo); a file that does not match its sidecar is not
used. Keeping is best effort: a cache folder that cannot be written costs the reuse,
never the work. The folder is ``MOODLAB_CACHE_DIR``, safe to delete at any time
(docs/architecture.md, "Generated files kept for reuse").
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from pathlib import Path
from types import ModuleType
from typing import Any

from moodlab.core.storage import StorageError, atomic_write

log = logging.getLogger("moodlab.reuse")


@functools.cache
def _source_digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def code_fingerprint(*modules: ModuleType) -> str:
    """A digest of these modules' source files: it changes when any of them does."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update(_source_digest(str(module.__file__)).encode())
    return digest.hexdigest()


class KeptFiles:
    """One kind of generated file (``kind``, a folder of its own) under the cache dir."""

    def __init__(self, cache_dir: Path, kind: str, *makers: ModuleType):
        self.folder = Path(cache_dir) / kind
        self.fingerprint = code_fingerprint(*makers)

    def key(self, *inputs: object) -> str:
        text = json.dumps([self.fingerprint, *[str(value) for value in inputs]])
        return hashlib.sha256(text.encode()).hexdigest()[:40]

    def _paths(self, key: str, suffix: str) -> tuple[Path, Path]:
        file = self.folder / key[:2] / f"{key}{suffix}"
        return file, file.with_name(f"{key}.json")

    def get(self, key: str, suffix: str) -> tuple[bytes, dict[str, Any]] | None:
        """The kept file's bytes and what was kept with it, or None (missing, or not whole)."""
        file, sidecar = self._paths(key, suffix)
        try:
            meta = json.loads(sidecar.read_text())
            content = file.read_bytes()
            if (
                len(content) != meta["size"]
                or hashlib.sha256(content).hexdigest() != meta["sha256"]
            ):
                log.warning("kept file %s does not match its record: made again", file)
                return None
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("kept file %s unreadable (%s): made again", file, exc)
            return None
        return content, meta.get("extra", {})

    def copy_to(self, key: str, suffix: str, target: Path) -> dict[str, Any] | None:
        """Write the kept file to ``target`` (written whole, then renamed); what was kept
        with it, or None when there is no kept file."""
        found = self.get(key, suffix)
        if found is None:
            return None
        content, extra = found
        with atomic_write(target) as handle:
            handle.write(content)
        return extra

    def keep(
        self, key: str, suffix: str, data: bytes | Path, extra: dict[str, Any] | None = None
    ) -> None:
        """Keep ``data`` (bytes or a file's path) under ``key``, with ``extra`` (JSON) beside
        it for ``get`` to give back; failures are only logged."""
        file, sidecar = self._paths(key, suffix)
        try:
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
