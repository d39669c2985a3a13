"""A weights file's manifest (``<name>.json`` beside ``<name>.safetensors``): read, checked, named. No torch here,
so what only reads the manifest (the model card, a cached prediction's key) starts without importing it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from engine.errors import DataError

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "lite.safetensors"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(path: str | Path) -> dict:
    path = Path(path)
    man_path = path.with_suffix(".json")
    if not path.exists():
        raise DataError("weights file not found", path)
    if not man_path.exists():
        raise DataError("no manifest (.json) beside the weights file", path)
    try:
        manifest = json.loads(man_path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"manifest is not valid JSON: {exc}", man_path) from exc
    for key in ("sha256", "architecture", "model_config", "normalisation"):
        if key not in manifest:
            raise DataError(f"manifest lacks {key!r}", man_path)
    return manifest


FULL_METHOD = "pretrained_continuous"  # the full method's name in the evaluations, before any recipe suffix


def fair_unet(method: str) -> str:
    """The U-Net trained as ``method`` was (``unet_grid2`` for ``pretrained_continuous_grid2``): its fair baseline."""
    return method.replace(FULL_METHOD, "unet", 1)


def shipped_method(manifest: dict) -> str | None:
    """The method shipped weights hold, as the evaluation tables name it (``python -m training ship`` records it);
    weights shipped before it was recorded hold their training config's ``ship``."""
    return manifest.get("shipped_method") or (manifest.get("training_config") or {}).get("ship")


def checked_manifest(path: str | Path = DEFAULT_WEIGHTS) -> dict:
    """The manifest, refusing weights whose file's sha256 is not the one it records (~20 ms for the lite file)."""
    path = Path(path)
    manifest = read_manifest(path)
    actual = sha256_file(path)
    if actual != manifest["sha256"]:
        raise DataError(f"sha256 {actual[:12]}... does not match the manifest's {manifest['sha256'][:12]}...", path)
    return manifest
