"""Calibrated event probabilities: the formula on a known over-confident forecaster, the engine's output, the shipped
manifest on data it never saw, and the cache."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.cache import predicted_run
from engine.calibration import calibrate, calibrated_bins, decision_threshold, event_probabilities, fit_isotonic
from engine.data.catalog import Catalog
from engine.model.manifest import DEFAULT_WEIGHTS, read_manifest
from engine.predict import Predictor
from engine.verify.probabilistic import (
    binned_brier,
    binned_reliability,
    binned_roc_area,
    paired_bootstrap_roc_area,
    probability_histogram,
)


def _overconfident(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Events that happen with probability q, forecast as sqrt(q): always too high."""
    rng = np.random.default_rng(seed)
    q = rng.uniform(0, 1, n) ** 3
    return np.sqrt(q), rng.uniform(0, 1, n) < q


def test_isotonic_calibration_makes_an_overconfident_forecast_reliable_on_fresh_cases():
    p, o = _overconfident(400_000, 0)
    knots = fit_isotonic(probability_histogram(p, o))
    assert np.all(np.diff(knots["p"]) > 0) and np.all(np.diff(knots["freq"]) >= 0), "monotone"
    p2, o2 = _overconfident(400_000, 1)  # not the cases it was fitted on
    h = probability_histogram(p2, o2)
    assert binned_reliability(h) > 0.01
    assert binned_reliability(h, calibrated_bins(h, knots)) < binned_reliability(h) / 50
    assert calibrate(p2, knots).mean() == pytest.approx(o2.mean(), abs=0.003)
    # near p: the truth is p^2
    assert float(calibrate(np.float64(0.5), knots)) == pytest.approx(0.25, abs=0.03)


def test_brier_and_roc_area_from_the_histogram_match_the_exact_ones():
    from sklearn.metrics import roc_auc_score

    p, o = _overconfident(200_000, 2)
    h = probability_histogram(p, o)
    assert binned_brier(h) == pytest.approx(np.mean((p - o) ** 2), rel=1e-3)
    assert binned_roc_area(h) == pytest.approx(roc_auc_score(o, p), abs=1e-3)
    cal = calibrated_bins(h, fit_isotonic(h))
    assert binned_brier(h, cal) < binned_brier(h), "calibration lowers the Brier score"
    no_events = probability_histogram(p, np.zeros(p.shape, bool))
    assert np.isnan(binned_roc_area(no_events))
    # a stack of histograms (the bootstrap's resamples) gets each one's area
    np.testing.assert_array_equal(
        binned_roc_area(np.stack([h, no_events, h])), [binned_roc_area(h), np.nan, binned_roc_area(h)]
    )


def test_the_run_bootstrap_of_roc_area_tells_a_sharper_forecast_from_a_blurred_one():
    rng = np.random.default_rng(3)
    sharp, blurred = [], []
    for _ in range(12):  # twelve cases ("runs"), each forecast twice
        q = rng.uniform(0, 1, 20_000) ** 4
        o = rng.uniform(0, 1, q.size) < q
        sharp.append(probability_histogram(q, o))
        blurred.append(probability_histogram(np.clip(q + rng.normal(0, 0.2, q.size), 0, 1), o))
    d = paired_bootstrap_roc_area(np.stack(sharp), np.stack(blurred), n_resamples=300)
    assert d["difference"] > 0 and d["low"] > 0 and d["p_better"] == 1.0
    same = paired_bootstrap_roc_area(np.stack(sharp), np.stack(sharp), n_resamples=50)
    assert same["difference"] == same["low"] == same["high"] == 0.0
    with pytest.raises(ValueError, match="pair the same cases"):
        paired_bootstrap_roc_area(np.stack(sharp), np.stack(sharp[:5]))


def test_calibration_keeps_the_order_of_pixels_and_clamps_beyond_its_knots():
    knots = {"p": [0.1, 0.5, 0.9], "freq": [0.0, 0.1, 0.6]}
    p = np.linspace(0, 1, 101)
    c = calibrate(p, knots)
    assert np.all(np.diff(c) >= 0) and c[0] == 0.0 and c[-1] == pytest.approx(0.6)
    assert float(calibrate(np.float64(0.7), knots)) == pytest.approx(0.35)


def test_fit_refuses_a_single_probability():
    with pytest.raises(ValueError, match="two probability bins"):
        fit_isotonic(probability_histogram(np.full(10, 0.3), np.ones(10, bool)))


def test_decision_threshold_is_the_tuned_one_in_calibrated_probability():
    knots = {"p": [0.0, 0.4, 1.0], "freq": [0.0, 0.1, 0.7]}
    manifest = {"decision_thresholds": {"10": 0.4, "0.1": 0.6}, "calibration": {"10": knots}}
    assert decision_threshold(manifest, 10.0) == pytest.approx(0.1)
    assert decision_threshold(manifest, 0.1) == 0.6, "no knots for that event: the raw threshold"
    assert decision_threshold({}, 10.0) == 0.5


def _run_output(prob: np.ndarray):
    import xarray as xr

    leads = pd.to_timedelta(np.arange(1, prob.shape[0] + 1), unit="h")
    return xr.Dataset(
        {"probability": (("lead_time", "category", "lat", "lon"), prob)},
        coords={"lead_time": leads, "category": [0, 1, 2], "lat": [35.0, 35.05], "lon": [127.0, 127.05]},
    )


def test_event_probabilities_never_put_heavy_rain_above_rain():
    rng = np.random.default_rng(0)
    prob = rng.dirichlet([1, 1, 1], size=(3, 2, 2)).transpose(0, 3, 1, 2)
    ds = _run_output(prob)
    raw = event_probabilities(ds, None)
    np.testing.assert_allclose(raw.sel(threshold=0.1), prob[:, 1] + prob[:, 2], rtol=1e-6)
    assert raw.attrs["calibrated"] == "0.1:no 10:no"
    # a calibration that lifts heavy rain above rain must still give P(>= 10) <= P(>= 0.1)
    cal = {"0.1": {"p": [0.0, 1.0], "freq": [0.0, 0.2]}, "10": {"p": [0.0, 1.0], "freq": [0.5, 1.0]}}
    out = event_probabilities(ds, cal)
    assert np.all(out.sel(threshold=10.0) <= out.sel(threshold=0.1))
    assert out.attrs["calibrated"] == "0.1:isotonic 10:isotonic"


@pytest.mark.skipif(not DEFAULT_WEIGHTS.exists(), reason="no shipped weights")
def test_shipped_probabilities_mean_what_they_say_on_runs_never_trained_on(demo_archive: Path):
    """The demo archive's generator seed was never used in training or in fitting the calibration."""
    manifest = read_manifest(DEFAULT_WEIGHTS)
    assert set(manifest["calibration"]) == {"0.1", "10"}
    cat = Catalog(demo_archive)
    predictor = Predictor(DEFAULT_WEIGHTS, device="cpu")
    raw, cal, obs = {0.1: [], 10.0: []}, {0.1: [], 10.0: []}, {0.1: [], 10.0: []}
    for run in cat.runs()[:3]:
        leads = list(range(1, 49))
        out = predictor.predict(cat.load_run(run, leads))
        qpe = cat.load_qpe(run, leads).values
        valid = np.isfinite(qpe) & cat.verify_mask
        plain = event_probabilities(out, None)
        for thr in raw:
            raw[thr].append(plain.sel(threshold=thr).values[valid])
            cal[thr].append(out["event_probability"].sel(threshold=thr).values[valid])
            obs[thr].append(qpe[valid] >= thr)
    for thr in raw:
        r, c, o = (np.concatenate(v[thr]) for v in (raw, cal, obs))
        h_raw = probability_histogram(r, o)
        knots = manifest["calibration"][f"{thr:g}"]
        assert abs(c.mean() - o.mean()) < abs(r.mean() - o.mean()) / 2, (thr, r.mean(), c.mean(), o.mean())
        assert binned_reliability(h_raw, calibrated_bins(h_raw, knots)) < binned_reliability(h_raw) / 2, thr


def test_a_cached_prediction_is_read_through_the_current_calibration(
    random_lite_weights: Path, demo_archive: Path, tmp_path: Path
):
    cat = Catalog(demo_archive)
    run = cat.runs()[0]
    predictor = Predictor(random_lite_weights, device="cpu")
    first = predicted_run(cat, run, predictor, tmp_path)
    predictor.manifest = {**predictor.manifest, "calibration": {"10": {"p": [0.0, 1.0], "freq": [0.0, 0.01]}}}
    again = predicted_run(cat, run, predictor, tmp_path)  # from the cache file
    assert len(list(tmp_path.glob("pred_*.nc"))) == 1
    assert float(again["event_probability"].sel(threshold=10.0).max()) <= 0.01
    assert float(first["event_probability"].sel(threshold=10.0).max()) > 0.01


def test_points_of_the_roc_curve_from_the_histogram_match_scikit_learns_curve():
    from sklearn.metrics import roc_curve

    from engine.verify.probabilistic import pod_at_pofd

    p, o = _overconfident(200_000, 4)
    levels = [0.001, 0.01, 0.1, 0.3]
    pofd, pod, _ = roc_curve(o, p)
    assert pod_at_pofd(probability_histogram(p, o), levels) == pytest.approx(np.interp(levels, pofd, pod), abs=0.01)
    assert np.all(np.diff(pod_at_pofd(probability_histogram(p, o), levels)) > 0), "more false alarms, more hits"
