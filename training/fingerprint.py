"""The training archive's fingerprint: which data a store was built from and a network learnt from.

A sha256 over the archive's description (``archive.json``) and every data file's name and bytes, written
``sha256:<hex>``. It is recorded in each store (``store.json``) and in each network's manifest
(``data_fingerprint``). Stores and manifests written before 2026-11-30 hold the older *listing* fingerprint, bare hex
over the file names and sizes only: blind to a file rewritten at the same size, which for simple-packed GRIB is any
change of an NWP field. It is still computed where one has to be compared with such a record.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from tqdm import tqdm

CONTENT = "sha256:"
DATA_SUFFIXES = (".grib2", ".nc")


def _data_files(archive: Path) -> list[Path]:
    return [p for p in sorted(archive.rglob("*")) if p.is_file() and p.suffix in DATA_SUFFIXES]


def fingerprint(archive: Path, progress: bool = False) -> str:
    """``sha256:`` + sha256 over ``archive.json`` and each data file's relative name and content digest."""
    h = hashlib.sha256()
    meta = archive / "archive.json"
    if meta.exists():
        h.update(meta.read_bytes())
    for p in tqdm(_data_files(archive), desc="fingerprint", unit="file", disable=not progress):
        with p.open("rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
        h.update(f"{p.relative_to(archive).as_posix()}:{digest}\n".encode())
    return CONTENT + h.hexdigest()


def listing_fingerprint(archive: Path) -> str:
    """The older fingerprint: sha256 over ``archive.json`` and each data file's name and size (no content)."""
    h = hashlib.sha256()
    meta = archive / "archive.json"
    if meta.exists():
        h.update(meta.read_bytes())
    for p in _data_files(archive):
        h.update(f"{p.relative_to(archive)}:{p.stat().st_size}\n".encode())
    return h.hexdigest()


def is_listing(fp: str) -> bool:
    """Whether ``fp`` is an older listing fingerprint (names and sizes only)."""
    return not fp.startswith(CONTENT)


def short(fp: str) -> str:
    """The first 8 hex digits, whatever the kind: how tables name an archive."""
    return fp.removeprefix(CONTENT)[:8]
