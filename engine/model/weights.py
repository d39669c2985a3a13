"""Shipped weights: ``<name>.safetensors`` + ``<name>.json`` manifest. Never pickle; sha256 checked on load."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from engine.data.atomic import atomic_path, atomic_write_bytes
from engine.errors import DataError
from engine.model.config import ModelConfig, UNetConfig
from engine.model.manifest import DEFAULT_WEIGHTS, checked_manifest, sha256_file
from engine.model.network import PostProcessor
from engine.model.unet import UNet


def save_weights(path: str | Path, model: torch.nn.Module, manifest: dict) -> dict:
    """Write the tensors and the manifest (with ``file`` and ``sha256``) atomically; returns the manifest."""
    path = Path(path)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"format": "pt"})
    manifest = {**manifest, "file": path.name, "sha256": sha256_file(path)}
    atomic_write_bytes(path.with_suffix(".json"), (json.dumps(manifest, indent=2) + "\n").encode())
    return manifest


def update_manifest(path: str | Path, manifest: dict) -> dict:
    """Rewrite the manifest beside unchanged weights (say, a decision tuned after they shipped), atomically; refuses
    a manifest whose ``file`` or ``sha256`` is not the weights' own."""
    path = Path(path)
    current = checked_manifest(path)
    if (manifest.get("file"), manifest.get("sha256")) != (current["file"], current["sha256"]):
        raise DataError("the new manifest names other weights than the file beside it", path.with_suffix(".json"))
    atomic_write_bytes(path.with_suffix(".json"), (json.dumps(manifest, indent=2) + "\n").encode())
    return manifest


def load_model(path: str | Path = DEFAULT_WEIGHTS) -> tuple[torch.nn.Module, dict]:
    """Build the network the manifest describes and load its weights, refusing a sha256 mismatch."""
    path = Path(path)
    manifest = checked_manifest(path)
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
