"""Verification scores against the ``scores`` package, hand-computed cases and slow direct references."""

import json
import operator
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scores.categorical import ThresholdEventOperator
from scores.probability import brier_score as scores_brier

from engine.data.catalog import Catalog
from engine.errors import DataError
from engine.verify.categorical import (
    SCORE_NAMES,
    any_hour_table,
    bootstrap_interval,
    categorical_scores,
    class_tables,
    confusion_matrix,
    contingency_table,
    paired_bootstrap_difference,
    rain_class,
    sum_tables,
)
from engine.verify.neighbourhood import fss
from engine.verify.performance import background
from engine.verify.probabilistic import brier_score, reliability, roc
from engine.verify.report import format_table, score_folder

SCORES_PKG = {
    "csi": "critical_success_index",
    "pod": "probability_of_detection",
    "far": "false_alarm_ratio",
    "sr": "success_ratio",
    "bias": "frequency_bias",
    "ets": "equitable_threat_score",
    "hss": "heidke_skill_score",
    "pss": "peirce_skill_score",
    "f1": "f1_score",
    "sedi": "symmetric_extremal_dependence_index",
    "accuracy": "accuracy",
    "base_rate": "base_rate",
}


def _random_fields(seed: int, shape=(6, 40, 50)):
    rng = np.random.default_rng(seed)
    f = rng.gamma(0.4, 3.0, shape)
    o = rng.gamma(0.4, 3.0, shape) * (rng.uniform(size=shape) < 0.6)
    f[rng.uniform(size=shape) < 0.05] = np.nan
    o[rng.uniform(size=shape) < 0.05] = np.nan
    mask = rng.uniform(size=shape[-2:]) < 0.8
    return f, o, mask


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("threshold", [0.1, 1.0, 10.0])
# The reference's SEDI takes log(0) where a random table at 10 mm/h has an empty cell; ours returns NaN quietly.
@pytest.mark.filterwarnings("ignore:divide by zero encountered in log:RuntimeWarning")
def test_every_categorical_score_matches_the_scores_package(seed: int, threshold: float):
    f, o, mask = _random_fields(seed)
    table = contingency_table(f, o, threshold, mask)
    ours = categorical_scores(table)
    dims = ("t", "y", "x")
    keep = np.broadcast_to(mask, f.shape)
    fx = xr.DataArray(np.where(keep, f, np.nan), dims=dims)
    ox = xr.DataArray(np.where(keep, o, np.nan), dims=dims)
    op = ThresholdEventOperator(default_event_threshold=threshold, default_op_fn=operator.ge)
    ref = op.make_contingency_manager(fx, ox).transform()
    counts = ref.get_counts()
    assert table["hits"] == int(counts["tp_count"]) and table["misses"] == int(counts["fn_count"])
    assert table["false_alarms"] == int(counts["fp_count"]) and table["correct_negatives"] == int(counts["tn_count"])
    for name in SCORE_NAMES:
        expected = float(getattr(ref, SCORES_PKG[name])())
        assert ours[name] == pytest.approx(expected, abs=1e-9, nan_ok=True), name


def test_hand_computed_table_and_scores():
    f = np.array([[12.0, 0.0, 5.0], [11.0, 0.0, np.nan]])
    o = np.array([[10.0, 10.0, 0.0], [0.0, 0.0, 3.0]])
    t = contingency_table(f, o, 10.0)
    assert t == {"hits": 1, "misses": 1, "false_alarms": 1, "correct_negatives": 2}
    s = categorical_scores(t)
    assert s["csi"] == pytest.approx(1 / 3) and s["pod"] == 0.5 and s["far"] == 0.5 and s["bias"] == 1.0
    hr = 2 * 2 / 5
    assert s["ets"] == pytest.approx((1 - hr) / (3 - hr))
    assert s["hss"] == pytest.approx(2 * (1 * 2 - 1 * 1) / (2 * 3 + 2 * 3))
    assert s["pss"] == pytest.approx(0.5 - 1 / 3) and s["f1"] == pytest.approx(0.5)
    assert s["accuracy"] == pytest.approx(3 / 5) and s["base_rate"] == pytest.approx(2 / 5)


def test_the_event_at_any_hour_forgives_timing_not_place_and_skips_unobserved_hours():
    nan = np.nan
    # (hour, lat, lon): pixel 0 a hit two hours late, 1 a miss, 2 a false alarm, 3 a correct negative, 4 heavy
    # only at an hour not observed (scored on its other hours: a correct negative), 5 never observed (left out),
    # 6 outside the mask (left out)
    f = np.array([[[12, 0, 12, 0, 12, 12, 12]], [[0, 0, 0, 0, 0, 0, 0]], [[0, 0, 0, 0, 0, 0, 0]]], dtype=float)
    o = np.array([[[0, 0, 0, 0, nan, nan, 20]], [[0, 15, 0, 0, 0, nan, 20]], [[11, 0, 0, 0, 0, nan, 20]]])
    mask = np.array([[True] * 6 + [False]])
    t = any_hour_table(f, o, 10.0, mask)
    assert t == {"hits": 1, "misses": 1, "false_alarms": 1, "correct_negatives": 2}
    # hour by hour, the late hit is a false alarm and a miss
    assert contingency_table(f, o, 10.0, mask)["hits"] == 0
    # a forecast of its own kind (a probability) against its own threshold
    p = np.where(f >= 10, 0.4, 0.05)
    assert any_hour_table(p, o, 10.0, mask, forecast_threshold=0.3) == t
    assert any_hour_table(p, o, 10.0, mask, forecast_threshold=0.5)["hits"] == 0


def test_no_events_anywhere_gives_nan_not_an_error():
    zeros = np.zeros((3, 4, 4))
    t = contingency_table(zeros, zeros, 0.1)
    assert t["correct_negatives"] == 48 and t["hits"] == t["misses"] == t["false_alarms"] == 0
    s = categorical_scores(t)
    for name in ("csi", "pod", "far", "sr", "bias", "ets", "f1"):
        assert np.isnan(s[name]), name
    assert s["accuracy"] == 1.0 and s["base_rate"] == 0.0
    empty = categorical_scores({"hits": 0, "misses": 0, "false_alarms": 0, "correct_negatives": 0})
    assert all(np.isnan(v) for v in empty.values())


def test_per_lead_tables_sum_to_the_total_and_aggregate_by_counts():
    f, o, mask = _random_fields(5)
    per = contingency_table(f, o, 1.0, mask, per_leading=True)
    total = contingency_table(f, o, 1.0, mask)
    assert per["hits"].shape == (6,)
    assert {k: int(v.sum()) for k, v in per.items()} == total
    agg = sum_tables([per], axis=0)
    assert categorical_scores(agg)["csi"] == pytest.approx(categorical_scores(total)["csi"])
    for i in range(6):
        single = contingency_table(f[i], o[i], 1.0, mask)
        assert {k: int(v[i]) for k, v in per.items()} == single


def test_pixel_tables_count_each_pixel_over_lead_times_and_add_up_to_the_table():
    from engine.verify.categorical import contingency_events, pixel_tables

    f, o, mask = _random_fields(5)
    with np.errstate(invalid="ignore"):
        fe, oe = f >= 1.0, o >= 1.0
    valid = np.isfinite(f) & np.isfinite(o) & mask
    maps = pixel_tables(fe, oe, valid)
    assert maps["hits"].shape == f.shape[1:]
    assert {k: int(v.sum()) for k, v in maps.items()} == contingency_events(fe, oe, valid)
    y, x = np.argwhere(valid.all(axis=0))[0]  # a pixel valid at every lead: its counts by hand
    assert maps["false_alarms"][y, x] == int((fe[:, y, x] & ~oe[:, y, x]).sum())
    assert maps["misses"][y, x] == int((~fe[:, y, x] & oe[:, y, x]).sum())
    assert (sum(m for m in maps.values()) == valid.sum(axis=0)).all()
    stacked = pixel_tables(np.stack([fe, fe]), np.stack([oe, oe]), np.stack([valid, valid]))  # runs x leads
    assert (stacked["hits"] == 2 * maps["hits"]).all()


def test_three_class_confusion_matrix_and_class_scores():
    f = np.array([0.0, 0.05, 0.5, 20.0, 12.0, 3.0, np.nan])
    o = np.array([0.0, 0.5, 0.5, 15.0, 2.0, 30.0, 1.0])
    np.testing.assert_array_equal(rain_class(f), [0, 0, 1, 2, 2, 1, -1])
    m = confusion_matrix(rain_class(f), rain_class(o))
    np.testing.assert_array_equal(m, [[1, 1, 0], [0, 1, 1], [0, 1, 1]])
    heavy = class_tables(m)[2]
    assert heavy == {"hits": 1, "misses": 1, "false_alarms": 1, "correct_negatives": 3}
    assert heavy == contingency_table(f[:6], o[:6], 10.0)


def test_bootstrap_interval_brackets_the_estimate_and_resamples_runs():
    f, o, mask = _random_fields(7, shape=(12, 30, 30))
    tables = [contingency_table(f[i], o[i], 1.0, mask) for i in range(12)]
    point = categorical_scores(sum_tables(tables))["csi"]
    lo, hi = bootstrap_interval(tables, "csi", 500)
    assert lo < point < hi and hi - lo < 0.2
    same = [tables[0]] * 5
    lo1, hi1 = bootstrap_interval(same, "csi", 200)
    assert lo1 == pytest.approx(hi1)


def test_paired_bootstrap_tells_a_better_forecast_from_noise():
    f, o, mask = _random_fields(7, shape=(12, 30, 30))
    rng = np.random.default_rng(3)
    base = [contingency_table(f[i], o[i], 1.0, mask) for i in range(12)]
    # A better forecast: the truth on half of the pixels of every run.
    half = rng.random(f.shape) < 0.5
    better = [contingency_table(np.where(half[i], o[i], f[i]), o[i], 1.0, mask) for i in range(12)]
    d = paired_bootstrap_difference(better, base, "csi", 500)
    assert d["low"] > 0 and d["p_better"] == 1.0
    assert d["difference"] == pytest.approx(
        categorical_scores(sum_tables(better))["csi"] - categorical_scores(sum_tables(base))["csi"]
    )
    same = paired_bootstrap_difference(base, base, "csi", 200)
    assert same["low"] == same["high"] == 0.0 and same["p_better"] == 0.0
    with pytest.raises(ValueError, match="pair the same cases"):
        paired_bootstrap_difference(base, base[:3])


def _fss_direct(f, o, thr, n, valid):
    """Slow reference: loop over every pixel and window."""
    ny, nx = f.shape
    h = n // 2
    fe, oe = (f >= thr) & valid, (o >= thr) & valid
    num = den = 0.0
    for y in range(ny):
        for x in range(nx):
            if not valid[y, x]:
                continue
            sl = (slice(max(y - h, 0), y + h + 1), slice(max(x - h, 0), x + h + 1))
            cnt = valid[sl].sum()
            pf, po = fe[sl].sum() / cnt, oe[sl].sum() / cnt
            num += (pf - po) ** 2
            den += pf**2 + po**2
    return 1 - num / den


@pytest.mark.parametrize("window", [1, 3, 7])
def test_fss_matches_a_direct_slow_reference(window: int):
    f, o, mask = _random_fields(11, shape=(2, 24, 30))
    for i in range(2):
        valid = mask & np.isfinite(f[i]) & np.isfinite(o[i])
        expected = _fss_direct(f[i], o[i], 1.0, window, valid)
        assert fss(f[i], o[i], 1.0, window, mask) == pytest.approx(expected, abs=1e-12)


def test_fss_grows_with_window_for_displaced_rain_and_is_one_for_a_perfect_forecast():
    o = np.random.default_rng(3).gamma(0.4, 3.0, (30, 40))
    shifted = np.roll(o, 3, axis=1)
    by_window = [fss(shifted, o, 1.0, w) for w in (1, 5, 11, 21)]
    assert by_window == sorted(by_window) and by_window[0] < 0.9
    assert fss(o, o, 1.0, 5) == 1.0


@pytest.mark.parametrize("window", [3, 5, 9])
def test_fss_equals_the_scores_package_on_complete_windows(window: int):
    """``scores`` without zero padding uses only centres whose window lies inside the field: so do we here."""
    from scores.spatial import fss_2d_single_field

    from engine.verify.neighbourhood import _box_sum, _sat

    rng = np.random.default_rng(4)
    f, o = rng.gamma(0.4, 3.0, (30, 40)), rng.gamma(0.4, 3.0, (30, 40))
    ref = float(fss_2d_single_field(f, o, event_threshold=1.0, window_size=(window, window), zero_padding=False))
    h = window // 2
    fe, oe = (f >= 1.0).astype(float), (o >= 1.0).astype(float)
    pf, po = _box_sum(_sat(fe), h) / window**2, _box_sum(_sat(oe), h) / window**2
    inner = (slice(h, 30 - h), slice(h, 40 - h))
    ours = 1 - ((pf - po) ** 2)[inner].sum() / (pf**2 + po**2)[inner].sum()
    assert ours == pytest.approx(ref, abs=1e-9)


def test_brier_and_decomposition():
    rng = np.random.default_rng(8)
    p = np.round(rng.uniform(size=5000), 1)  # constant within bins: the decomposition is exact
    o = (rng.uniform(size=5000) < p).astype(float)
    ref = float(scores_brier(xr.DataArray(p), xr.DataArray(o)))
    assert brier_score(p, o) == pytest.approx(ref, abs=1e-12)
    rel = reliability(p, o, bins=11)
    assert rel["reliability"] - rel["resolution"] + rel["uncertainty"] == pytest.approx(rel["brier"], abs=1e-12)
    good = np.isfinite(rel["obs_freq"])
    assert np.abs(rel["obs_freq"][good] - rel["mean_prob"][good]).max() < 0.1  # calibrated by construction


def test_roc_area_is_half_for_noise_and_one_for_a_perfect_forecast():
    rng = np.random.default_rng(9)
    o = rng.uniform(size=4000) < 0.2
    assert roc(rng.uniform(size=4000), o)["auc"] == pytest.approx(0.5, abs=0.05)
    assert roc(o.astype(float) * 0.9 + 0.05, o)["auc"] == 1.0
    assert np.isnan(roc(np.ones(10), np.zeros(10))["auc"])


def test_a_season_of_runs_summed_as_probability_histograms_scores_as_its_pixels_pooled():
    """The verification page adds each run's probability histogram instead of keeping every pixel's probability
    (a season's pixels run to hundreds of MB): its ROC and reliability are those of the pooled pixels."""
    from engine.verify.probabilistic import probability_histogram, reliability_from_histogram, roc_from_histogram

    rng = np.random.default_rng(10)
    runs = []
    for _ in range(5):
        o = rng.uniform(size=20_000) < 0.05
        p = np.clip(0.4 * o + rng.beta(1, 6, o.size), 0, 1)  # rare events, skilful, continuous
        runs.append((p, o))
    pooled_p, pooled_o = np.concatenate([p for p, _ in runs]), np.concatenate([o for _, o in runs])
    histogram = sum(probability_histogram(p, o) for p, o in runs)
    squared = sum(float(np.sum((p - o) ** 2)) for p, o in runs)
    rel = reliability_from_histogram(histogram, 10, brier=squared / pooled_p.size)
    exact = reliability(pooled_p, pooled_o)
    for key in ("count", "obs_freq", "mean_prob"):
        np.testing.assert_allclose(rel[key], exact[key], rtol=1e-12)
    for key in ("brier", "reliability", "resolution", "uncertainty"):
        assert rel[key] == pytest.approx(exact[key], rel=1e-12), key
    assert roc_from_histogram(histogram)["auc"] == pytest.approx(roc(pooled_p, pooled_o)["auc"], abs=2e-3)
    # where no bin holds two forecast values (a calibrated forecast takes few), the very curve
    grid_p = [np.round(p, 2) for p, _ in runs]
    curve = roc_from_histogram(sum(probability_histogram(g, o) for g, (_, o) in zip(grid_p, runs, strict=True)))
    exact_curve = roc(np.concatenate(grid_p), pooled_o)
    np.testing.assert_allclose(curve["pofd"], exact_curve["pofd"], atol=1e-12)
    np.testing.assert_allclose(curve["pod"], exact_curve["pod"], atol=1e-12)
    assert curve["auc"] == pytest.approx(exact_curve["auc"], abs=1e-12)
    with pytest.raises(ValueError, match="200 bins cannot be grouped into 7"):
        reliability_from_histogram(histogram, 7)


def test_performance_diagram_background_is_consistent():
    bg = background(11)
    i, j = 5, 7
    sr, pod = bg["sr"][j], bg["pod"][i]
    assert bg["csi"][i, j] == pytest.approx(1 / (1 / sr + 1 / pod - 1))
    assert bg["bias"][i, j] == pytest.approx(pod / sr)


def test_verify_cli_json_matches_the_engine(demo_archive: Path):
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "engine",
            "verify",
            "--data",
            str(demo_archive),
            "--source",
            "nwp",
            "--thresholds",
            "0.1",
            "10",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    rows = out["scores"]
    assert len(rows) == 2 * 48 + 2
    agg = {r["threshold"]: r for r in rows if r["lead_time"] is None}
    for thr in (0.1, 10.0):
        per_lead = [r for r in rows if r["threshold"] == thr and r["lead_time"] is not None]
        hits = sum(r["hits"] for r in per_lead)
        assert agg[thr]["hits"] == hits
        wrong = sum(r["misses"] + r["false_alarms"] for r in per_lead)
        assert agg[thr]["csi"] == pytest.approx(hits / (hits + wrong), abs=1e-6)
        assert set(SCORE_NAMES) <= set(agg[thr])
    assert 0.3 <= agg[0.1]["csi"] <= 0.6
    lo, hi = agg[0.1]["csi_ci95"]
    assert lo <= agg[0.1]["csi"] <= hi
    # the event at any hour of each run: each run's table from its files, summed over the runs
    cat = Catalog(demo_archive)
    runs = cat.runs()
    for thr in (0.1, 10.0):
        tables = []
        for run in runs:
            leads = [lt for lt in cat.lead_times(run) if lt > 0]
            rain, qpe = cat.load_run(run, leads, channels=("tp",))["tp"].values, cat.load_qpe(run, leads).values
            known = cat.verify_mask & np.isfinite(qpe)
            f, o = (known & (rain >= thr)).any(axis=0), (known & (np.nan_to_num(qpe) >= thr)).any(axis=0)
            scored = known.any(axis=0)
            tables.append({"hits": (f & o & scored).sum(), "wrong": ((f ^ o) & scored).sum()})
        (row,) = [r for r in out["any_hour"] if r["threshold"] == thr]
        hits, wrong = sum(t["hits"] for t in tables), sum(t["wrong"] for t in tables)
        assert row["hits"] == hits and row["misses"] + row["false_alarms"] == wrong
        assert row["csi"] == pytest.approx(hits / (hits + wrong), abs=1e-6)
        lo, hi = row["csi_ci95"]
        assert lo <= row["csi"] <= hi
    assert (
        "the event at any hour of each run"
        in subprocess.run(
            [sys.executable, "-m", "engine", "verify", "--data", str(demo_archive), "--thresholds", "10"],
            capture_output=True,
            text=True,
            timeout=300,
        ).stdout
    )


def test_verify_model_source_scores_the_post_processed_forecast(
    demo_archive: Path, tmp_path: Path, random_lite_weights: Path, engine_cli
):
    run = "2026070100"
    env = {**__import__("os").environ, "PRECIP_CACHE": str(tmp_path / "cache")}
    common = ["verify", "--data", str(demo_archive), "--source", "model", "--runs", run]
    res = engine_cli(*common, "--weights", str(random_lite_weights), "--lead-times", "1", "2", "--json", env=env)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["source"] == "model" and len(out["weights_sha256"]) == 64
    assert len(out["scores"]) == 2 * 2 + 2
    assert len(list((tmp_path / "cache").glob("pred_*.nc"))) == 1
    res = engine_cli(*common, "--weights", str(tmp_path / "nope.safetensors"), "--lead-times", "1", env=env)
    assert res.returncode == 2 and "weights file not found" in res.stderr


def test_the_model_is_scored_at_its_tuned_probability_threshold_as_the_app_shows_it(
    demo_archive: Path, prediction_cache: Path, monkeypatch: pytest.MonkeyPatch
):
    """By default the model's event is its calibrated P(rain >= threshold) at or above the threshold tuned on
    validation runs, to the app slider's 0.01: the verification page's figures. Its most likely class (argmax)
    stays a choice; a threshold it has no probability of is refused before any run is read."""
    from engine.cache import predicted_run
    from engine.calibration import decision_threshold
    from engine.model.manifest import DEFAULT_WEIGHTS, read_manifest
    from engine.prediction import DeferredPredictor

    if not DEFAULT_WEIGHTS.exists():
        pytest.skip("no shipped weights")
    monkeypatch.setenv("PRECIP_CACHE", str(prediction_cache))
    cat, run, leads = Catalog(demo_archive), "2026070100", list(range(1, 13))
    tuned = score_folder(cat, "model", runs=[run], lead_times=leads, n_resamples=10)
    pred = predicted_run(cat, run, DeferredPredictor()).sel(lead_time=pd.to_timedelta(leads, unit="h"))
    qpe = cat.load_qpe(run, leads).values
    for thr in (0.1, 10.0):
        tau = round(decision_threshold(read_manifest(DEFAULT_WEIGHTS), thr), 2)
        assert tuned["probability_thresholds"][f"{thr:g}"] == tau
        f = pred["event_probability"].sel(threshold=thr).values >= tau
        known = cat.verify_mask & np.isfinite(qpe)
        o = np.nan_to_num(qpe) >= thr
        (row,) = [r for r in tuned["scores"] if r["threshold"] == thr and r["lead_time"] is None]
        assert (row["hits"], row["false_alarms"], row["misses"]) == (
            (f & o & known).sum(),
            (f & ~o & known).sum(),
            (~f & o & known).sum(),
        )
    # the event at any hour of the run at a threshold of its own (the hourly one covers too little of a run): by
    # default the one the manifest says was tuned on validation runs, or the forecaster's
    over_run = read_manifest(DEFAULT_WEIGHTS)["any_hour_probability"]["10"]
    assert over_run < tau and tuned["any_hour_probability"]["10"] == over_run
    wide = score_folder(cat, "model", runs=[run], lead_times=leads, thresholds=[10.0], any_hour_probability=0.03)
    assert wide["any_hour_probability"] == {"10": 0.03}
    assert (tuned["any_hour_from"], wide["any_hour_from"]) == ("manifest", "given")
    assert f"P >= {over_run:.2f} at 10 mm/h, tuned on validation runs" in format_table(tuned)
    o, scored = (known & (np.nan_to_num(qpe) >= 10)).any(axis=0), known.any(axis=0)
    for result, at in ((tuned, over_run), (wide, 0.03)):
        f = (known & (pred["event_probability"].sel(threshold=10.0).values >= at)).any(axis=0)
        (row,) = [r for r in result["any_hour"] if r["threshold"] == 10.0]
        counts = (row["hits"], row["false_alarms"], row["misses"])
        assert counts == ((f & o).sum(), (f & ~o & scored).sum(), (~f & o).sum())
    assert wide["scores"] == [r for r in tuned["scores"] if r["threshold"] == 10.0], "the hourly scores stay"
    with pytest.raises(DataError, match="--any-hour-probability applies to the model's probabilities"):
        score_folder(cat, "nwp", runs=[run], any_hour_probability=0.05)
    argmax = score_folder(cat, "model", runs=[run], lead_times=leads, n_resamples=10, decision="argmax")
    assert argmax["decision"] == "argmax" and argmax["probability_thresholds"] is None
    assert argmax["scores"] != tuned["scores"]
    with pytest.raises(DataError, match="not 5 mm/h: score other thresholds with --decision argmax"):
        score_folder(cat, "model", runs=["nope"], thresholds=[0.1, 5.0])


@pytest.mark.parametrize(
    "ask, said",
    [
        ({"thresholds": [0.1, -1.0]}, "event thresholds must be above 0 mm/h"),
        ({"thresholds": [float("nan")]}, "event thresholds must be above 0 mm/h"),
        ({"lead_times": [0, 1]}, "lead time 0 h holds no forecast rain yet"),
        ({"lead_times": [5, 99]}, r"has no lead time\(s\) \[99\] h \(it has 0-48 h\)"),
    ],
)
def test_a_request_that_cannot_be_scored_is_refused_saying_why(demo_archive: Path, ask: dict, said: str):
    """A negative threshold was scored as a perfect forecast (every pixel has rain >= -1 mm/h), lead time 0 as a
    total miss (no rain forecast yet), and a lead time the run lacks said only "no GRIB files given"."""
    with pytest.raises(DataError, match=said):
        score_folder(Catalog(demo_archive), "nwp", runs=["2026070100"], **ask)
