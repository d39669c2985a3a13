"""Atomic file writes: write to a temporary file in the same folder, fsync, then rename over the target."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from engine.errors import DataError

_UMASK = os.umask(0)
os.umask(_UMASK)


def _temp_beside(target: Path) -> Path:
    """An empty temporary file in ``target``'s folder (made if missing), or a DataError naming the folder."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise DataError(f"cannot write here: {exc.strerror or exc}", target.parent) from exc
    os.close(fd)
    return Path(tmp)


def check_writable(target: str | Path) -> None:
    """Fail now where ``atomic_path(target)`` would fail, before work whose result would have nowhere to go."""
    _temp_beside(Path(target)).unlink()


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target``, on error it is removed.

    Readers never see a half-written file, and a crash or a full disk leaves the old file (or none) behind.
    """
    target = Path(target)
    tmp_path = _temp_beside(target)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; a published file should be readable like any other
        os.replace(tmp_path, target)
    except BaseException as exc:
        tmp_path.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise DataError(f"write failed: {exc.strerror or exc}", target) from exc
        raise


def atomic_write_bytes(target: str | Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
