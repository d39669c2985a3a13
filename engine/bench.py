"""Benchmarks (``python -m engine bench``): wall-clock timings with warm-up and repetitions, never in tests."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def _time(fn: Callable[[], object], repeats: int) -> dict[str, float]:
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

    t_ours, t_ref = _time(ours_tables, repeats), _time(scores_tables, max(3, repeats // 4))
    f_ours, f_ref = _time(ours_fss, max(3, repeats // 2)), _time(scores_fss, 3)
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
