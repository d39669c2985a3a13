"""A generic epoch loop: progress bar with loss and throughput, atomic checkpoints each epoch, ``--resume``,
a JSON-lines log, DDP-aware sampling, bf16 autocast on GPU."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm import tqdm

from engine.data.atomic import atomic_path
from engine.errors import DataError
from training import distributed
from training.provenance import data_changes
from training.store import Store


class StoreDataset(Dataset):
    """Samples of a store as ``(x, y)``, or ``(x,)`` with ``labels=False`` (pre-training; unlabelled stores)."""

    def __init__(self, store: Store, indices: np.ndarray, labels: bool = True) -> None:
        if labels and store.y is None:
            raise ValueError(f"{store.path} holds no labels (an unlabelled store)")
        self.store, self.indices, self.labels = store, indices, labels

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, ...]:
        j = int(self.indices[i])
        x = torch.from_numpy(np.asarray(self.store.x[j], dtype=np.float32))
        return (x, torch.from_numpy(np.array(self.store.y[j]))) if self.labels else (x,)


def random_crop(
    x: torch.Tensor, y: torch.Tensor | None, crop: int | None, patch: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor | None, tuple[int, int]]:
    """One patch-aligned crop for the whole batch (``y`` may be None); returns the crop's first token (y, x).
    ``crop=None``, or a crop as large as the grid, keeps the whole grid."""
    h, w = x.shape[-2:]
    if crop is None or (crop >= h and crop >= w):
        return x, y, (0, 0)
    ty = int(torch.randint(0, (h - crop) // patch + 1, (1,), generator=gen))
    tx = int(torch.randint(0, (w - crop) // patch + 1, (1,), generator=gen))
    sy, sx = ty * patch, tx * patch
    window = (..., slice(sy, sy + crop), slice(sx, sx + crop))
    return x[window], None if y is None else y[window], (ty, tx)


def fit(
    model: torch.nn.Module,
    dataset: Dataset,
    step: Callable[[torch.nn.Module, tuple, torch.Generator], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    epochs: int,
    batch: int,
    checkpoint: Path,
    log_path: Path,
    seed: int,
    device: torch.device,
    desc: str,
    resume: bool = True,
    progress: bool = True,
    validate: Callable[[torch.nn.Module], float] | None = None,
    check_epochs: Collection[int] = (),
    workers: int = 0,
    data: Mapping[str, str] | None = None,
) -> list[dict]:
    """Train for ``epochs`` epochs; after each, write ``checkpoint`` atomically. Resumes from it if present.

    With ``validate`` (model -> score, higher is better), the model is scored after each epoch in
    ``check_epochs`` and the best-scoring weights are the ones left in ``model`` at the end (early stopping
    without stopping: the schedule still runs to its end, so every method gets the same steps).

    ``data`` (fingerprints and runs of what the dataset holds, ``training.pretrain.pretraining_data``) is kept in
    the checkpoint, and a checkpoint written while training on other data is not resumed from."""
    start, history, best = 0, [], None
    core = distributed.unwrap(model)
    if resume and checkpoint.exists():
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        changed = data_changes(json.loads(state.get("data") or "{}"), data or {})
        if changed:
            raise DataError(
                f"written while training on other data ({', '.join(changed)} differ): delete it, or start over "
                "with --no-resume",
                checkpoint,
            )
        core.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state.get("scheduler"):
            scheduler.load_state_dict(state["scheduler"])
        start, history, best = int(state["epoch"]), json.loads(state["history"]), state.get("best")
        if progress and distributed.is_main():
            print(f"{desc}: resuming after epoch {start}")
    sampler = DistributedSampler(dataset, shuffle=True, seed=seed) if torch.distributed.is_initialized() else None
    gen_loader = torch.Generator().manual_seed(seed)
    loader = DataLoader(
        dataset,
        batch_size=batch,
        shuffle=sampler is None,
        sampler=sampler,
        generator=gen_loader,
        drop_last=True,
        # Batches are read ahead in worker processes; the sampler stays here, so the order is the same. Workers
        # are not persistent: a persistent iterator would skip the seed draw that moves the sampler's generator.
        num_workers=workers,
        pin_memory=device.type == "cuda",
    )
    for epoch in range(start, epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
        gen_loader.manual_seed(seed * 1000 + epoch)
        gen = torch.Generator().manual_seed(seed * 7919 + epoch)
        model.train()
        t0, seen, total = time.perf_counter(), 0, 0.0
        bar = tqdm(
            loader, desc=f"{desc} {epoch + 1}/{epochs}", disable=not (progress and distributed.is_main()), leave=False
        )
        for batch_data in bar:
            batch_data = tuple(t.to(device, non_blocking=True) for t in batch_data)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
                loss = step(model, batch_data, gen)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            seen += batch_data[0].shape[0]
            total += float(loss.detach()) * batch_data[0].shape[0]
            bar.set_postfix(loss=f"{total / seen:.4f}", samples_s=f"{seen / (time.perf_counter() - t0):.1f}")
        lr = optimizer.param_groups[-1]["lr"]  # the rate this epoch ran at (the head's, for two groups)
        if scheduler is not None:
            scheduler.step()
        record = {
            "epoch": epoch + 1,
            "lr": lr,
            "samples": seen,
            "loss": total / max(seen, 1),
            "seconds": round(time.perf_counter() - t0, 1),
            "samples_per_s": round(seen / max(time.perf_counter() - t0, 1e-9), 2),
        }
        if validate is not None and epoch + 1 in check_epochs:
            record["val_score"] = round(float(validate(core)), 5)
            if best is None or record["val_score"] > best["score"]:
                best = {"model": {k: v.detach().cpu().clone() for k, v in core.state_dict().items()}}
                best |= {"epoch": epoch + 1, "score": record["val_score"]}
        history.append(record)
        if distributed.is_main():
            with atomic_path(checkpoint) as tmp:
                torch.save(
                    {
                        "model": core.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict() if scheduler is not None else None,
                        "epoch": epoch + 1,
                        "history": json.dumps(history),
                        "best": best,
                        "data": json.dumps(dict(data or {})),
                    },
                    tmp,
                )
            with open(log_path, "a") as fh:
                fh.write(json.dumps({"stage": desc, **record}) + "\n")
            if progress:
                val = f", validation {record['val_score']}" if "val_score" in record else ""
                print(
                    f"{desc} epoch {epoch + 1}/{epochs}: loss {record['loss']:.4f}, {record['samples_per_s']} "
                    f"samples/s{val}"
                )
        distributed.barrier()
    if best is not None:
        core.load_state_dict(best["model"])
        if progress and distributed.is_main():
            print(f"{desc}: keeping epoch {best['epoch']} (best validation score {best['score']})")
    return history
