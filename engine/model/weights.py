"""Shipped weights: ``<name>.safetensors`` + ``<name>.json`` manifest. Never pickle; sha256 checked on load."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from engine.data.atomic import atomic_path, atomic_write_bytes
from engine.errors import DataError
from engine.model.config import ModelConfig, UNetConfig
from engine.model.network import PostProcessor
from engine.model.unet import UNet

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "lite.safetensors"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_weights(path: str | Path, model: torch.nn.Module, manifest: dict) -> dict:
    """Write the tensors and the manifest (with ``file`` and ``sha256``) atomically; returns the manifest."""
    path = Path(path)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"format": "pt"})
    manifest = {**manifest, "file": path.name, "sha256": sha256_file(path)}
    atomic_write_bytes(path.with_suffix(".json"), (json.dumps(manifest, indent=2) + "\n").encode())
    return manifest


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


def load_model(path: str | Path = DEFAULT_WEIGHTS) -> tuple[torch.nn.Module, dict]:
    """Build the network the manifest describes and load its weights, refusing a sha256 mismatch."""
    path = Path(path)
    manifest = read_manifest(path)
    actual = sha256_file(path)
    if actual != manifest["sha256"]:
        raise DataError(f"sha256 {actual[:12]}... does not match the manifest's {manifest['sha256'][:12]}...", path)
    try:
        state = load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types for malformed headers
        raise DataError(f"not a safetensors file: {exc}", path) from exc
    model = build_model(manifest)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise DataError(f"weights do not fit the manifest's model: {str(exc).splitlines()[0]}", path) from exc
    return model.eval(), manifest


def build_model(manifest: dict) -> torch.nn.Module:
    arch = manifest["architecture"]
    if arch == "postprocessor":
        return PostProcessor(ModelConfig.from_dict(manifest["model_config"]), manifest.get("task", "segment"))
    if arch == "unet":
        return UNet(UNetConfig.from_dict(manifest["model_config"]))
    raise DataError(f"unknown architecture {arch!r} in manifest")
