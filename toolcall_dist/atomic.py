"""Atomic file writes: a file is either absent (or its previous version) or complete, never half-written.

Every write goes to a temporary name in the same directory, is flushed to disk, and is then renamed over the target
(``os.replace`` is atomic on POSIX within one filesystem). A process killed mid-write leaves at most a ``.tmp-``
file, which no reader looks for; the stage cache (``pipeline.Stage``) only accepts a stage whose ``done.json``
exists, and that file is itself written this way, last.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

TMP_MARK = ".tmp-"


def _fsync_dir(directory: Path) -> None:
    # the rename itself must reach the disk, or a power cut could bring the old name back
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` for writing; on a clean exit it replaces ``path``, on an exception it
    is removed and ``path`` is left as it was. ``mode`` is ``"w"`` or ``"wb"``."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files: mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TMP_MARK}", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; results are meant to be shared like any other output
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_open(path) as f:
        f.write(text)


def write_json(path: str | Path, obj: Any, **dumps_kwargs) -> None:
    """Write ``obj`` as JSON to ``path`` atomically (``dumps_kwargs`` go to ``json.dumps``)."""
    write_text(path, json.dumps(obj, **dumps_kwargs))


def leftovers(directory: str | Path) -> list[Path]:
    """Temporary files of interrupted writes under ``directory`` (for cleaning up and for tests)."""
    return sorted(p for p in Path(directory).rglob(f"*{TMP_MARK}*") if p.is_file())
