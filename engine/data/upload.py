"""Files a user uploads (the app's "score my own run" box): checked byte by byte before any decoder sees them,
then staged as a data folder of their own, beside (never inside) the configured data root.

The structural check walks GRIB2 section 0 of every message: ``GRIB`` magic, edition 2, the 8-byte total length,
and ``7777`` where that length says the message ends. Only then does eccodes read the run's analysis time.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

import eccodes

from engine.data.atomic import atomic_write_bytes
from engine.errors import DataError

MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_FILES = 200
SUFFIXES = (".grib2", ".grb2", ".grib")
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,120}$")


def safe_name(name: str) -> str:
    """The file's own name if it is a plain GRIB2 file name; no folders, no hidden files, no odd characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    if base != name or not SAFE_NAME.match(base) or not base.lower().endswith(SUFFIXES):
        raise DataError(
            f"file name {name!r} refused: letters, digits and ._+- only, ending in {', '.join(SUFFIXES)}", None
        )
    return base


def check_grib2(name: str, data: bytes, max_bytes: int = MAX_FILE_BYTES) -> int:
    """Raise :class:`DataError` unless ``data`` is a sequence of complete GRIB2 messages; returns their count."""
    if len(data) > max_bytes:
        raise DataError(f"{len(data) / 2**20:.0f} MB is over the {max_bytes / 2**20:.0f} MB limit", name)
    offset, count = 0, 0
    while offset < len(data):
        head = data[offset : offset + 16]
        if head[:4] != b"GRIB":
            what = "does not start with 'GRIB'" if count == 0 else f"junk after message {count}"
            raise DataError(f"not GRIB2: {what}", name)
        if len(head) < 16:
            raise DataError(f"message {count + 1} is truncated ({len(head)} bytes)", name)
        if head[7] != 2:
            raise DataError(f"message {count + 1} is GRIB edition {head[7]}, only GRIB2 is read", name)
        length = int.from_bytes(head[8:16], "big")
        end = offset + length
        if length < 16 + 4 or end > len(data):
            raise DataError(f"message {count + 1} is truncated ({len(data) - offset} of {length} bytes)", name)
        if data[end - 4 : end] != b"7777":
            raise DataError(f"message {count + 1} does not end with '7777' (corrupt)", name)
        offset, count = end, count + 1
    if count == 0:
        raise DataError("empty file", name)
    return count


def _run_of(data: bytes, name: str) -> str:
    handle = eccodes.codes_new_from_message(data)
    try:
        date = eccodes.codes_get_long(handle, "dataDate")
        time = eccodes.codes_get_long(handle, "dataTime")
    except eccodes.CodesInternalError as exc:
        raise DataError(f"cannot read the analysis time: {exc}", name) from exc
    finally:
        eccodes.codes_release(handle)
    if time % 100:
        raise DataError(f"analysis time {time:04d} is not on the hour", name)
    return f"{date:08d}{time // 100:02d}"


def stage_run(files: Sequence[tuple[str, bytes]], uploads: Path, data_root: Path | None = None) -> tuple[Path, str]:
    """Check every file, then write them as ``uploads/<digest>/nwp/<run>/`` (one run per upload) with a link to
    ``data_root/qpe`` so the run is scored against the observations already there. Returns (folder, run)."""
    if not files:
        raise DataError("no files uploaded")
    if len(files) > MAX_FILES:
        raise DataError(f"{len(files)} files: at most {MAX_FILES} per upload")
    checked = []
    for name, data in files:
        base = safe_name(name)
        check_grib2(base, data)
        checked.append((base, data, _run_of(data, base)))
    runs = sorted({run for _, _, run in checked})
    if len(runs) != 1:
        raise DataError(f"an upload holds one run; these files hold {', '.join(runs)}")
    digest = hashlib.sha256(b"".join(hashlib.sha256(d).digest() for _, d, _ in sorted(checked))).hexdigest()[:16]
    folder = Path(uploads) / digest
    for base, data, run in checked:
        atomic_write_bytes(folder / "nwp" / run / base, data)
    qpe = folder / "qpe"
    if data_root is not None and (Path(data_root) / "qpe").is_dir() and not qpe.exists():
        qpe.symlink_to((Path(data_root) / "qpe").resolve(), target_is_directory=True)
    return folder, runs[0]
