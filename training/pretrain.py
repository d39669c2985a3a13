"""Self-supervised pre-training: reconstruct the 16 normalised channels under random 3-D patch masking."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch.utils.data import ConcatDataset, Dataset

from engine.channels import BY_NAME
from engine.data.atomic import atomic_path
from engine.errors import DataError
from engine.model.network import PostProcessor
from engine.model.patch_embed import random_token_mask, token_mask_to_pixels
from training import distributed
from training.config import TrainConfig
from training.loop import StoreDataset, fit, random_crop
from training.losses import masked_mse, patch_normalised
from training.provenance import data_changes
from training.store import Store


def backbone_path(
    cfg: TrainConfig,
    mask_ratio: float,
    epochs: int | None = None,
    rain_ratio: float | None = None,
    seed: int = 0,
    norm_pix: bool = False,
    tube: bool = False,
) -> Path:
    longer = f"_ep{epochs}" if epochs not in (None, cfg.pretrain.epochs) else ""
    rain = f"_rain{round(100 * rain_ratio)}" if rain_ratio is not None else ""
    norm = "_normpix" if norm_pix else ""
    tubes = "_tube" if tube else ""
    again = f"_seed{seed}" if seed else ""
    return cfg.out_dir / f"pretrain_mask{round(100 * mask_ratio)}{rain}{norm}{tubes}{longer}{again}.safetensors"


def pretraining_data(cfg: TrainConfig) -> dict[str, str]:
    """What a pre-training reads, as a backbone records it (safetensors metadata, all strings): the training
    store's archive fingerprint and, with unlabelled data, its fingerprint and runs (a JSON list)."""
    data = {"data_fingerprint": Store(cfg.data.store).meta["fingerprint"]}
    if cfg.data.unlabelled is not None:
        path = Path(cfg.data.unlabelled.store)
        if not (path / "store.json").exists():
            raise DataError("missing: the config's unlabelled store; `python -m training prepare` builds it", path)
        extra = Store(path)
        data["unlabelled_fingerprint"] = extra.meta["fingerprint"]
        data["unlabelled_runs"] = json.dumps(extra.runs("unlabelled"))
    return data


def unlabelled_read(data: dict[str, str]) -> tuple[str | None, list[str] | None]:
    """The unlabelled data's fingerprint and runs in a ``pretraining_data`` record (None, None without any)."""
    runs = data.get("unlabelled_runs")
    return data.get("unlabelled_fingerprint"), None if runs is None else json.loads(runs)


def backbone_data(path: Path) -> dict[str, str]:
    """The data a backbone recorded when it was written (empty for backbones written before it was recorded)."""
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    return {k: v for k, v in meta.items() if k in ("data_fingerprint", "unlabelled_fingerprint", "unlabelled_runs")}


def require_same_data(path: Path, now: dict[str, str]) -> None:
    """Refuse to reuse a backbone pre-trained on other data than the config names now (another archive, another
    ``before`` cut-off): fine-tuning on it would record data it never read."""
    changed = data_changes(backbone_data(path), now)
    if changed:
        raise DataError(
            f"pre-trained on other data than the config names now ({', '.join(changed)} differ): delete it and "
            f"{path.with_suffix('.ckpt').name} to pre-train again",
            path,
        )


def group_ratios(cfg: TrainConfig, mask_ratio: float, rain_ratio: float | None) -> float | list[float]:
    """One masking ratio for all variable groups, or per group with the NWP-rain group's own."""
    if rain_ratio is None:
        return mask_ratio
    ratios = [mask_ratio] * cfg.model_config.groups_of_variables
    ratios[BY_NAME["tp"].group] = rain_ratio
    return ratios


def pretrain_step(cfg: TrainConfig, mask_ratio: float | list[float], norm_pix: bool = False, tube: bool = False):
    model_cfg = cfg.model_config

    def step(model: torch.nn.Module, batch: tuple, gen: torch.Generator) -> torch.Tensor:
        x, _, offset = random_crop(batch[0], None, cfg.crop, model_cfg.patch, gen)
        n, _, h, w = x.shape
        shape = (model_cfg.groups_of_variables, h // model_cfg.patch, w // model_cfg.patch)
        tokens = random_token_mask(n, shape, mask_ratio, gen, tube=tube).to(x.device)
        recon = model(x, tokens, offset)
        per_group = model_cfg.in_channels // model_cfg.groups_of_variables
        target = patch_normalised(x, model_cfg.patch, model_cfg.groups_of_variables) if norm_pix else x
        return masked_mse(recon, target, token_mask_to_pixels(tokens, model_cfg.patch, per_group))

    return step


def pretrain(
    cfg: TrainConfig,
    mask_ratio: float | None = None,
    resume: bool = True,
    progress: bool = True,
    epochs: int | None = None,
    rain_ratio: float | None = None,
    seed: int = 0,
    norm_pix: bool = False,
    tube: bool = False,
) -> Path:
    """Pre-train (or resume) and write the reconstruction network as safetensors; returns their path.
    ``epochs`` overrides the config's (the pre-training-length ablation); ``rain_ratio`` masks the variable group
    that holds NWP rain at its own ratio (the per-group masking ablation); ``seed`` (added to the config's) repeats
    the pre-training from other random numbers; ``norm_pix`` reconstructs each patch standardised by its own mean and
    variance (MAE's normalised-pixel target) instead of the normalised fields; ``tube`` masks the same locations in
    every variable group."""
    ratio = cfg.pretrain.mask_ratio if mask_ratio is None else mask_ratio
    epochs = cfg.pretrain.epochs if epochs is None else epochs
    out = backbone_path(cfg, ratio, epochs, rain_ratio, seed, norm_pix, tube)
    if out.exists():
        require_same_data(out, pretraining_data(cfg))
        return out
    _rank, _, device = distributed.setup()
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed + zlib.crc32(out.name.encode()) % 1000)
    store = Store(cfg.data.store)
    model = distributed.wrap(PostProcessor(cfg.model_config, "pretrain").to(device), device)
    p = cfg.pretrain
    opt = torch.optim.AdamW(model.parameters(), lr=p.lr, betas=p.betas, weight_decay=p.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=p.restart_epochs or epochs)
    # Pre-training needs no labels: train and validation runs (never test runs) are all unlabelled input here,
    # with the optional unlabelled archive's runs.
    idx = np.concatenate([store.indices("train"), store.indices("val")])
    data: Dataset = StoreDataset(store, idx, labels=False)
    if cfg.data.unlabelled is not None:
        extra = Store(cfg.data.unlabelled.store)
        data = ConcatDataset([data, StoreDataset(extra, np.arange(len(extra.meta["samples"])), labels=False)])
    fit(
        model,
        data,
        pretrain_step(cfg, group_ratios(cfg, ratio, rain_ratio), norm_pix, tube),
        opt,
        sched,
        epochs,
        p.batch,
        out.with_suffix(".ckpt"),
        cfg.out_dir / "train_log.jsonl",
        cfg.seed + seed,
        device,
        f"pretrain mask {ratio:.0%}"
        + ("" if rain_ratio is None else f", rain group {rain_ratio:.0%}")
        + (", per-patch normalised targets" if norm_pix else "")
        + (", tubes across variables" if tube else "")
        + (f", seed {cfg.seed + seed}" if seed else ""),
        resume,
        progress,
        workers=cfg.data.loader_workers,
        data=pretraining_data(cfg),
    )
    if distributed.is_main():
        # The whole reconstruction network: fine-tuning loads what its method inherits (`network.inherited`),
        # `training probe` the rest.
        state = {k: v.detach().cpu().contiguous() for k, v in distributed.unwrap(model).state_dict().items()}
        with atomic_path(out) as tmp:
            save_file(state, str(tmp), metadata=pretraining_data(cfg))
    distributed.barrier()
    return out
