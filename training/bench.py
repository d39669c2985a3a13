"""``python -m training bench --config FILE``: optimisation steps per second of a config's pre-training and
fine-tuning, with model FLOP/s and their share of the GPU's bf16 peak. Random inputs of the training shape, so no
store is needed; the steps are the training code's own (masking, crops, loss, bf16 autocast on a GPU)."""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from engine.bench import peak_bf16_tflops, time_calls
from engine.grid import KOREA
from engine.machine import machine
from engine.model.network import PostProcessor
from engine.predict import pick_device
from training.config import TrainConfig
from training.finetune import finetune_step
from training.methods import parse_method
from training.pretrain import pretrain_step


def _batch(batch: int, device: torch.device, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs over the whole domain (the step crops them as in training) and rain (mm/h) in all three classes."""
    x = torch.randn(batch, 16, *KOREA.shape, generator=gen)
    u = torch.rand(2, batch, *KOREA.shape, generator=gen)
    rain = -4.0 * torch.log(u[0]) * (u[1] < 0.4)  # 60 % dry, the wet mean 4 mm/h: some pixels over 10 mm/h
    return x.to(device), rain.to(device)


def bench_stage(cfg: TrainConfig, stage: str, device: torch.device, repeats: int = 10) -> dict:
    """One stage's (``pretrain`` or ``finetune``) optimisation step, timed after two warm-up steps."""
    gen = torch.Generator().manual_seed(0)
    if stage == "pretrain":
        batch, step = cfg.pretrain.batch, pretrain_step(cfg, cfg.pretrain.mask_ratio)
        data: tuple = _batch(batch, device, gen)[:1]
    else:
        method = parse_method(cfg.ship, cfg.finetune.loss, cfg.pretrain.mask_ratio)
        batch, step, data = cfg.finetune.batch, finetune_step(cfg, method), _batch(cfg.finetune.batch, device, gen)
    model = PostProcessor(cfg.model_config, "pretrain" if stage == "pretrain" else "segment").to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    cuda = device.type == "cuda"

    def one_step() -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
            loss = step(model, data, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if cuda:
            torch.cuda.synchronize()

    one_step()
    with FlopCounterMode(display=False) as counter:
        one_step()
    flops = counter.get_total_flops()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    t = time_calls(one_step, repeats)
    seconds = t["median_ms"] / 1e3
    result = {
        "stage": stage,
        "batch": batch,
        "crop": cfg.crop,
        "step_ms": t["median_ms"],
        "samples_per_s": round(batch / seconds, 1),
        "gflops_per_sample": round(flops / batch / 1e9, 2),
        "achieved_tflops": round(flops / seconds / 1e12, 3),
    }
    if cuda:
        peak = peak_bf16_tflops(torch.cuda.get_device_name(device))
        result["share_of_bf16_peak"] = round(result["achieved_tflops"] / peak, 4) if peak else None
        result["peak_mem_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return result


def bench_training(cfg: TrainConfig, device: str | None = None, repeats: int = 10) -> dict:
    """Both stages of ``cfg`` on ``device`` (default: the GPU if one is visible)."""
    dev = pick_device(device)
    return {
        "config": cfg.name,
        "model": cfg.model,
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
        "machine": machine(dev),
        "stages": [bench_stage(cfg, stage, dev, repeats) for stage in ("pretrain", "finetune")],
        "note": "model FLOPs (matrix products and convolutions, forward and backward) as torch's FlopCounterMode "
        "counts them; DCNv3's bilinear sampling is real work it does not count",
    }
