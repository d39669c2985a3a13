"""Transfer to 3-class rain segmentation (or a baseline trained from scratch), one method at a time."""

from __future__ import annotations

import zlib
from dataclasses import asdict, replace
from pathlib import Path

import torch
from safetensors.torch import load_file

from engine import trained_area
from engine.errors import DataError
from engine.grid import KOREA
from engine.machine import machine
from engine.model.config import ModelConfig
from engine.model.network import BACKBONE, PostProcessor, inherited
from engine.model.patch_embed import random_token_mask
from engine.model.unet import UNet
from engine.model.weights import load_model, save_weights
from training import distributed
from training.code_version import git_commit, uncommitted
from training.config import TrainConfig
from training.evaluate import validation_score
from training.loop import StoreDataset, fit, random_crop
from training.losses import rain_loss
from training.methods import Method, last_epoch_twin, parse_method, tail_twin
from training.pretrain import pretrain, pretraining_data, unlabelled_read
from training.store import Store


def weights_path(cfg: TrainConfig, method: Method) -> Path:
    return cfg.out_dir / f"{method.name}.safetensors"


def model_config(cfg: TrainConfig, method: Method) -> ModelConfig:
    """The post-processor's configuration for a method: the config's size, with the method's stochastic depth."""
    size = cfg.model_config
    return size if method.drop_path is None else replace(size, drop_path=method.drop_path)


def encoder_depth(name: str, stages: int) -> int:
    """How far below the top a post-processor parameter sits: 0 for the last encoder stage, ``stages`` for the
    patch embedding and stem. A stage's downsampling layer and output norm belong to the stage they feed."""
    parts = name.split(".")
    if parts[0] == "embed" or parts[1] == "stem":
        return stages
    i = int(parts[2])
    return stages - 1 - (i + 1 if parts[1] == "downsamples" else i)


def encoder_groups(core: PostProcessor, lr: float, decay: float) -> list[dict]:
    """Optimiser groups for the patch embedding and encoder: ``lr`` at the last stage, ``lr * decay ** depth``
    below it (layer-wise decay, Bao et al. 2022 BEiT; He et al. 2022 MAE). One group when ``decay`` is 1."""
    back = [(n, p) for n, p in core.named_parameters() if n.startswith(BACKBONE)]
    if decay == 1.0:
        return [{"params": [p for _, p in back], "lr": lr}]
    stages = len(core.encoder.stages)
    by_depth: dict[int, list] = {}
    for n, p in back:
        by_depth.setdefault(encoder_depth(n, stages), []).append(p)
    return [{"params": ps, "lr": lr * decay**d} for d, ps in sorted(by_depth.items())]


def load_pretrained(core: PostProcessor, path: Path, head: bool) -> None:
    """Load what fine-tuning inherits (``network.inherited``) from the pre-trained network at ``path`` into
    ``core``; the rest of ``core`` keeps its fresh initialisation."""
    saved = load_file(str(path))
    wanted = {k for k in core.state_dict() if inherited(k, head)}
    lacking = sorted(wanted - set(saved))
    if lacking:
        raise DataError(
            f"lacks {len(lacking)} of the {len(wanted)} pre-trained tensors fine-tuning needs (first: {lacking[0]}); "
            "files written before pre-training kept its UPerNet pyramid hold only the embedding and encoder: "
            "delete it to pre-train again",
            path,
        )
    core.load_state_dict({k: saved[k] for k in wanted}, strict=False)


def build(cfg: TrainConfig, method: Method) -> torch.nn.Module:
    if method.arch == "unet":
        return UNet(cfg.unet_config)
    return PostProcessor(model_config(cfg, method), "segment")


def finetune_mask_ratio(cfg: TrainConfig, method: Method) -> float:
    """Share of input tokens masked in each fine-tuning sample: the method's ``_ftmaskNN``, else the config's."""
    return cfg.finetune.mask_ratio if method.finetune_mask_ratio is None else method.finetune_mask_ratio


def finetune_step(cfg: TrainConfig, method: Method):
    model_cfg = cfg.model_config
    ratio = finetune_mask_ratio(cfg, method)
    crop = None if method.tail_whole_grid else cfg.crop

    def step(model: torch.nn.Module, batch: tuple, gen: torch.Generator) -> torch.Tensor:
        x, y = batch
        x, y, offset = random_crop(x, y, crop, model_cfg.patch, gen)
        tokens = None
        if method.arch == "postprocessor" and ratio > 0:
            n, _, h, w = x.shape
            shape = (model_cfg.groups_of_variables, h // model_cfg.patch, w // model_cfg.patch)
            tokens = random_token_mask(n, shape, ratio, gen).to(x.device)
        return rain_loss(model(x, tokens, offset), y, method.loss)

    return step


def finetune_epochs(epochs: int, labelled: int, available: int) -> int:
    """Epochs over ``labelled`` of ``available`` training samples that give every method the same number of
    optimisation steps: a smaller labelled share is seen for more epochs."""
    return max(1, round(epochs * available / max(labelled, 1)))


def val_check_epochs(epochs: int, checks: int) -> set[int]:
    """``checks`` epochs spread evenly over ``epochs``, the last one included."""
    return {max(1, round(epochs * k / checks)) for k in range(1, checks + 1)}


def selected_epoch(history: list[dict], epochs: int) -> int:
    """The epoch whose weights were kept: the first best validation score, or the last epoch."""
    scored = [r for r in history if "val_score" in r]
    return max(scored, key=lambda r: (r["val_score"], -r["epoch"]))["epoch"] if scored else epochs


def optimiser_groups(core: torch.nn.Module, cfg: TrainConfig, method: Method, scale: float = 1.0) -> list[dict]:
    """The parameter groups and learning rates (times ``scale``) a method fine-tunes with."""
    f = cfg.finetune
    if not isinstance(core, PostProcessor):
        return [{"params": core.parameters(), "lr": f.lr_head * scale}]
    head = [p for n, p in core.named_parameters() if not n.startswith(BACKBONE)]
    if method.frozen:
        for n, p in core.named_parameters():
            if n.startswith(BACKBONE):
                p.requires_grad_(False)
        return [{"params": head, "lr": f.lr_head * scale}]
    lr = (f.lr_encoder if method.pretrained else f.lr_head) * method.encoder_lr_scale * scale
    return [*encoder_groups(core, lr, method.layer_decay), {"params": head, "lr": f.lr_head * scale}]


def learnt_from(cfg: TrainConfig, method: Method) -> dict[str, str]:
    """What a method's network learns from, a pre-trained backbone's data included (``pretrain`` reuses a backbone
    only while the config names the same data); a checkpoint of other data is not resumed from."""
    if method.pretrained:
        return pretraining_data(cfg)
    return {"data_fingerprint": Store(cfg.data.store).meta["fingerprint"]}


def manifest(
    cfg: TrainConfig,
    method: Method,
    store: Store,
    idx: list[int],
    epochs: int,
    history: list[dict],
    device: torch.device,
    data: dict[str, str],
    area: dict,
) -> dict:
    """The manifest written beside a fine-tuned network that learnt from ``data`` (``learnt_from``) on the
    labelled ``area`` (``trained_area.pack``)."""
    unlabelled = unlabelled_read(data)
    return {
        "name": method.name,
        "architecture": method.arch,
        "task": "segment",
        "model_config": asdict(cfg.unet_config) if method.arch == "unet" else model_config(cfg, method).to_dict(),
        "normalisation": store.meta["normalisation"],
        "training_config": cfg.raw,
        "method": {
            "loss": asdict(method.loss),
            "pretrained": method.pretrained,
            "frozen": method.frozen,
            "labelled_fraction": method.fraction,
            "labelled_runs": sorted({store.meta["samples"][i]["run"] for i in idx}),
            "pretrain_mask_ratio": method.pretrain_mask_ratio,
            "pretrain_rain_group_mask_ratio": method.pretrain_rain_ratio,
            "pretrain_norm_pix": method.pretrain_norm_pix,
            "pretrain_tube": method.pretrain_tube,
            "pretrain_epochs": method.pretrain_epochs or cfg.pretrain.epochs,
            "encoder_lr_scale": method.encoder_lr_scale,
            "layer_decay": method.layer_decay,
            "head_transfer": method.head_transfer,
            "finetune_epochs": epochs,
            "finetune_mask_ratio": finetune_mask_ratio(cfg, method),
            "seed": cfg.seed + method.seed,
            "val_best": method.val_best,
            "val_events": list(method.val_events),
            "selected_epoch": selected_epoch(history, epochs),
        },
        "data_fingerprint": store.meta["fingerprint"],
        "unlabelled_fingerprint": unlabelled[0],
        "unlabelled_runs": unlabelled[1],
        "train_runs": store.runs("train"),
        "test_runs": store.runs("test"),
        "git_commit": git_commit(),
        "git_uncommitted": uncommitted(),
        "environment": machine(device),
        "trained_area": area,
        "history": history,
    }


def fit_phase(
    cfg: TrainConfig,
    method: Method,
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    epochs: int,
    samples: tuple[Store, list[int]],
    device: torch.device,
    data: dict[str, str],
    resume: bool,
    progress: bool,
    validate=None,
    checks: set[int] = frozenset(),
) -> list[dict]:
    """``training.loop.fit`` for one fine-tuning phase of ``method`` on the store's ``samples``: its checkpoint
    beside its weights, its seed, the config's batch and the shared log."""
    store, idx = samples
    return fit(
        model,
        StoreDataset(store, idx),
        finetune_step(cfg, method),
        opt,
        sched,
        epochs,
        cfg.finetune.batch,
        weights_path(cfg, method).with_suffix(".ckpt"),
        cfg.out_dir / "train_log.jsonl",
        cfg.seed + method.seed,
        device,
        f"finetune {method.name}",
        resume,
        progress,
        validate,
        checks,
        cfg.data.loader_workers,
        data,
    )


def finetune(cfg: TrainConfig, method: Method, resume: bool = True, progress: bool = True) -> Path:
    out = weights_path(cfg, method)
    if out.exists():
        return out
    if method.tail_epochs:
        return finetune_tail(cfg, method, resume, progress)
    backbone = pretrain(cfg, resume=resume, progress=progress, **method.pretraining) if method.pretrained else None
    data = learnt_from(cfg, method)
    _, _, device = distributed.setup()
    # Early stopping (`_valbest`) leaves the seed alone: its run retraces its last-epoch twin step for step, so
    # the two differ only in which epoch's weights are kept.
    torch.manual_seed(cfg.seed + zlib.crc32(last_epoch_twin(method.name).encode()) % 1000)
    store = Store(cfg.data.store)
    core = build(cfg, method)
    if backbone is not None:
        load_pretrained(core, backbone, method.head_transfer)
    f = cfg.finetune
    groups = optimiser_groups(core, cfg, method)
    model = distributed.wrap(core.to(device), device)
    opt = torch.optim.Adam(groups)
    idx = store.indices("train", method.fraction, cfg.seed, method.draw)
    # From the runs actually kept: 10 % of 24 runs rounds to 2, so the share is 1/12, not 1/10.
    epochs = finetune_epochs(method.finetune_epochs or f.epochs, len(idx), len(store.indices("train")))
    # One cosine over the epochs actually run: with T_max = f.epochs a 10 % share (50 epochs) would cycle the
    # learning rate five times and end near its peak.
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    checks = val_check_epochs(epochs, f.val_checks) if method.val_best else set()
    area = trained_area.pack(store.labelled_area(idx), KOREA.lat, KOREA.lon)  # before training: fails early
    validate = (lambda m: validation_score(m, store, device, method.val_events)) if checks else None
    history = fit_phase(
        cfg, method, model, opt, sched, epochs, (store, idx), device, data, resume, progress, validate, checks
    )
    if distributed.is_main():
        save_weights(out, core.cpu(), manifest(cfg, method, store, idx, epochs, history, device, data, area))
    distributed.barrier()
    return out


def finetune_tail(cfg: TrainConfig, method: Method, resume: bool = True, progress: bool = True) -> Path:
    """A second fine-tuning phase (``_gridN`` / ``_moreN``): the network of ``tail_twin``, trained first if it is
    missing, ``method.tail_epochs`` more epochs on the whole grid (or on the config's crops), one cosine from
    ``finetune.tail_lr_scale`` of its rates. The twin's file is left as it is."""
    out = weights_path(cfg, method)
    twin = parse_method(tail_twin(method.name), cfg.finetune.loss, cfg.pretrain.mask_ratio)
    start = finetune(cfg, twin, resume, progress)
    core, before = load_model(start)  # sha256-checked against its manifest
    store = Store(cfg.data.store)
    idx = store.indices("train", method.fraction, cfg.seed, method.draw)
    area = trained_area.pack(store.labelled_area(idx), KOREA.lat, KOREA.lon)  # as `finetune` does: any twin's age
    # Seeded by the twin's name: a `_gridN` and a `_moreN` of one twin draw the same stochastic depth and data
    # order, so they differ only in crops against the whole grid.
    torch.manual_seed(cfg.seed + zlib.crc32(twin.name.encode()) % 1000)
    _, _, device = distributed.setup()
    f = cfg.finetune
    model = distributed.wrap(core.train().to(device), device)
    opt = torch.optim.Adam(optimiser_groups(core, cfg, method, f.tail_lr_scale))
    epochs = finetune_epochs(method.tail_epochs, len(idx), len(store.indices("train")))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    data = {**learnt_from(cfg, method), "from_sha256": before["sha256"]}  # a checkpoint of another twin is refused
    history = fit_phase(cfg, method, model, opt, sched, epochs, (store, idx), device, data, resume, progress)
    if distributed.is_main():
        first = before["method"]["finetune_epochs"]
        history = before["history"] + history
        record = manifest(cfg, method, store, idx, first + epochs, history, device, data, area)
        record["method"]["tail"] = {
            "from": twin.name,
            "from_sha256": before["sha256"],
            "epochs": epochs,
            "whole_grid": method.tail_whole_grid,
            "lr_scale": f.tail_lr_scale,
        }
        save_weights(out, core.cpu(), record)
    distributed.barrier()
    return out
