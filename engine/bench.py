"""Benchmarks (``python -m engine bench``): wall-clock timings with warm-up and repetitions, never in tests."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def time_calls(fn: Callable[[], object], repeats: int) -> dict[str, float]:
    fn()  # warm-up
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return {"median_ms": round(1e3 * float(np.median(samples)), 2), "min_ms": round(1e3 * min(samples), 2)}


def bench_verify(data: Path | None = None, repeats: int = 20) -> dict:
    """Contingency tables (48 leads x 3 thresholds) and FSS (4 windows) on one full run, ours vs ``scores``."""
    import xarray as xr
    from scores.categorical import ThresholdEventOperator
    from scores.spatial import fss_2d

    from engine.data.catalog import Catalog
    from engine.data.demo import generate
    from engine.verify.categorical import contingency_table
    from engine.verify.neighbourhood import fss_components

    with tempfile.TemporaryDirectory() as tmp:
        root = data if data is not None else generate(Path(tmp) / "demo", runs=1, progress=False)
        cat = Catalog(root)
        run = cat.runs()[0]
        leads = [ld for ld in cat.lead_times(run) if ld > 0][:48]
        fc = cat.load_run(run, leads)["tp"].values
        ob = cat.load_qpe(run, leads).values
    mask = cat.grid.qpe_mask
    thresholds = (0.1, 1.0, 10.0)
    windows = (1, 5, 11, 21)

    def ours_tables() -> None:
        for thr in thresholds:
            contingency_table(fc, ob, thr, mask, per_leading=True)

    dims = ("lead_time", "lat", "lon")
    fx, ox = xr.DataArray(fc, dims=dims), xr.DataArray(np.where(mask, ob, np.nan), dims=dims)

    def scores_tables() -> None:
        for thr in thresholds:
            op = ThresholdEventOperator(default_event_threshold=thr)
            op.make_contingency_manager(fx, ox).transform(preserve_dims=["lead_time"]).get_table().load()

    def ours_fss() -> None:
        fss_components(fc, ob, 1.0, windows, mask)

    def scores_fss() -> None:
        for w in windows:
            fss_2d(
                fx.fillna(0),
                ox.fillna(0),
                event_threshold=1.0,
                window_size=(w, w),
                spatial_dims=("lat", "lon"),
                preserve_dims=["lead_time"],
            )

    t_ours, t_ref = time_calls(ours_tables, repeats), time_calls(scores_tables, max(3, repeats // 4))
    f_ours, f_ref = time_calls(ours_fss, max(3, repeats // 2)), time_calls(scores_fss, 3)
    return {
        "run": run,
        "lead_times": len(leads),
        "grid": f"{fc.shape[1]}x{fc.shape[2]}",
        "contingency_3_thresholds_ms": t_ours["median_ms"],
        "contingency_scores_pkg_ms": t_ref["median_ms"],
        "contingency_speedup_vs_scores": round(t_ref["median_ms"] / t_ours["median_ms"], 1),
        "fss_4_windows_ms": f_ours["median_ms"],
        "fss_scores_pkg_ms": f_ref["median_ms"],
        "fss_speedup_vs_scores": round(f_ref["median_ms"] / f_ours["median_ms"], 1),
    }


def bench_imerg_index(days: int = 92, repeats: int = 20) -> dict:
    """Listing a season of GPM IMERG half-hourly files (empty files, GES DISC's year / day-of-year folders): the
    first look, and a look with nothing changed, as the app makes for every run on every rerun."""
    import pandas as pd

    from engine.data import imerg

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for start in pd.date_range("2026-06-01", periods=days * 48, freq="30min"):
            day = root / f"{start:%Y}" / f"{start:%j}"
            day.mkdir(parents=True, exist_ok=True)
            (day / imerg.file_name(start)).touch()

        def first_look() -> None:
            imerg._INDEXES.clear()
            imerg.index_folder(root)

        cold = time_calls(first_look, repeats)
        kept = time_calls(lambda: imerg.index_folder(root), repeats)
    return {
        "files": days * 48,
        "first_look_ms": cold["median_ms"],
        "unchanged_look_ms": kept["median_ms"],
        "unchanged_speedup": round(cold["median_ms"] / kept["median_ms"], 1),
    }


def peak_bf16_tflops(name: str) -> float | None:
    """Dense bf16 tensor-core peak of known GPUs (vendor data sheets)."""
    for key, tflops in (("H200", 989.0), ("H100", 989.0), ("A100", 312.0), ("L40S", 362.0), ("A10", 125.0)):
        if key in name:
            return tflops
    return None


def bench_inference(
    data: Path | None = None,
    device: str | None = None,
    model: str = "lite",
    repeats: int = 5,
    weights: Path | None = None,
    compile: bool = False,
) -> dict:
    """A whole run end to end and by stage: GRIB decode, normalisation, model, writing; plus bare eccodes.

    ``model="lite"`` times ``weights`` (default: the shipped file), e.g. an experiment's trained network;
    ``model="paper"`` the paper-size network with random weights. ``compile``: the network under
    ``torch.compile``, with its first call (the compilation) timed apart and checked against the eager network.
    """
    import resource

    import eccodes
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from engine.cache import write_prediction
    from engine.data.catalog import Catalog
    from engine.data.demo import generate
    from engine.machine import machine
    from engine.model.config import SIZES
    from engine.model.manifest import DEFAULT_WEIGHTS, read_manifest
    from engine.model.network import PostProcessor
    from engine.normalise import normalise, stack_channels
    from engine.predict import Predictor

    if model == "lite":  # before any data is generated: a wrong weights file fails at once
        predictor = Predictor(weights or DEFAULT_WEIGHTS, device=device, compile=compile)
    else:
        manifest = read_manifest(DEFAULT_WEIGHTS)
        manifest = {**manifest, "model_config": SIZES[model].to_dict(), "name": f"{model} (random weights)"}
        predictor = Predictor.from_model(PostProcessor(SIZES[model]), manifest, device=device, compile=compile)
    dev = predictor.device
    with tempfile.TemporaryDirectory() as tmp:
        root = data if data is not None else generate(Path(tmp) / "demo", runs=1, progress=False)
        cat = Catalog(root)
        run = cat.runs()[0]
        files = cat.files(run)
        sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

        def bare_decode() -> None:
            for path in files:
                with open(path, "rb") as fh:
                    while (h := eccodes.codes_grib_new_from_file(fh)) is not None:
                        eccodes.codes_get_values(h)
                        eccodes.codes_release(h)

        ds = cat.load_run(run)
        x = normalise(stack_channels(ds), predictor.stats)
        n_leads = x.shape[0]

        def model_only() -> None:
            predictor.probabilities(x)
            sync()

        t0 = time.perf_counter()
        probs = predictor.probabilities(x)  # under `compile`, this call compiles
        sync()
        compiled = {}
        if compile:
            compiled["compile_s"] = round(time.perf_counter() - t0, 1)
            eager = Predictor.from_model(predictor.model, predictor.manifest, device=device).probabilities(x)
            compiled["compiled_max_abs_diff"] = round(float(np.abs(probs - eager).max()), 6)
        from engine.prediction import to_dataset

        out = to_dataset(probs, ds, predictor.manifest)
        t_bare = time_calls(bare_decode, repeats)
        t_read = time_calls(lambda: cat.load_run(run), repeats)
        t_norm = time_calls(lambda: normalise(stack_channels(ds), predictor.stats), repeats)
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        t_model = time_calls(model_only, repeats)
        t_write = time_calls(lambda: write_prediction(out, Path(tmp) / "bench.nc"), repeats)

        def end_to_end() -> None:
            d = cat.load_run(run)
            write_prediction(predictor.predict(d), Path(tmp) / "e2e.nc")
            sync()

        t_e2e = time_calls(end_to_end, max(2, repeats // 2))
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        predictor.model(torch.zeros(1, 16, *x.shape[-2:], device=dev))
    flops = counter.get_total_flops()
    model_s = t_model["median_ms"] / 1e3
    result = {
        "device": str(dev) if dev.type == "cpu" else torch.cuda.get_device_name(dev),
        "machine": machine(dev),
        "model": model,
        "weights": str(predictor.weights) if model == "lite" else "random",
        "compiled": compile,
        "parameters": sum(p.numel() for p in predictor.model.parameters()),
        "lead_times": n_leads,
        "grid": f"{x.shape[-2]}x{x.shape[-1]}",
        "end_to_end_s": round(t_e2e["median_ms"] / 1e3, 3),
        "grib_decode_ms": t_read["median_ms"],
        "bare_eccodes_decode_ms": t_bare["median_ms"],
        "grib_decode_vs_bare_eccodes": round(t_read["median_ms"] / t_bare["median_ms"], 2),
        "normalisation_ms": t_norm["median_ms"],
        "model_ms": t_model["median_ms"],
        "writing_ms": t_write["median_ms"],
        "ms_per_lead": round(t_model["median_ms"] / n_leads, 2),
        "leads_per_s": round(n_leads / model_s, 1),
        "gflops_per_lead": round(flops / 1e9, 2),
        "achieved_tflops": round(flops * n_leads / model_s / 1e12, 3),
        "peak_mem_mb": round(
            torch.cuda.max_memory_allocated(dev) / 2**20
            if dev.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            1,
        ),
    }
    result.update(compiled)
    if dev.type == "cuda":
        peak = peak_bf16_tflops(result["device"])
        result["share_of_bf16_peak"] = round(result["achieved_tflops"] / peak, 4) if peak else None
    return result
