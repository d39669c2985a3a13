"""What a decision threshold costs in CSI: tables at every threshold from a probability histogram, the
validation-tuned threshold (as ``evaluate`` picks it) against hindsight, and the paired run bootstrap of both."""

import numpy as np
import pytest

from engine.verify.categorical import TABLE_KEYS, categorical_scores, contingency_events
from engine.verify.probabilistic import exceedance_tables, probability_histogram
from training.evaluate import TAUS
from training.thresholds import hindsight_edge, paired_bootstrap_csi, threshold_costs, tuned_edge


def _runs(n_runs: int, seed: int, sharpness: float, shift: float = 0.0) -> tuple[np.ndarray, list]:
    """Per-run histograms of a rare event (about 2 % of pixels) forecast with noise of sd ``sharpness`` on the
    logit, the forecast probability scaled by ``1 + shift`` (a forecaster that over-forecasts a new season)."""
    rng = np.random.default_rng(seed)
    hists, raw = [], []
    for _ in range(n_runs):
        logit = rng.normal(-5.5, 1.8, 30_000)
        truth = 1 / (1 + np.exp(-logit))
        event = rng.uniform(0, 1, truth.size) < truth
        p = np.clip((1 + shift) / (1 + np.exp(-(logit + rng.normal(0, sharpness, truth.size)))), 0, 1)
        hists.append(probability_histogram(p, event))
        raw.append((p, event))
    return np.stack(hists), raw


def test_the_tables_at_every_bin_edge_are_the_decisions_made_pixel_by_pixel():
    hists, raw = _runs(1, 0, 0.5)
    p, event = raw[0]
    tables = exceedance_tables(hists[0])
    for k in (0, 1, 10, 57, 140, 199, 200):
        direct = contingency_events(p >= k / 200, event, np.ones(p.shape, bool))
        assert [tables[key][k] for key in TABLE_KEYS] == [int(direct[key]) for key in TABLE_KEYS], k
    assert exceedance_tables(np.stack([hists[0]] * 3))["hits"].shape == (3, 201), "leading axes broadcast"


def test_the_tuned_threshold_is_the_evaluations_and_hindsight_recovers_what_a_new_season_costs():
    val, val_raw = _runs(6, 1, 0.5)
    # the evaluation's rule: the first tau of the grid with the highest validation CSI
    p = np.concatenate([r[0] for r in val_raw])
    o = np.concatenate([r[1] for r in val_raw])
    csi = [categorical_scores(contingency_events(p >= t, o, np.ones(o.shape, bool)))["csi"] for t in TAUS]
    assert tuned_edge(val.sum(0)) == round(TAUS[int(np.argmax(csi))] * 200)
    # the same forecaster on a season where it says twice what it means
    new, _ = _runs(6, 2, 0.5, shift=1.0)
    costs = threshold_costs({"val": val, "heldout": new})
    h = costs["heldout"]
    assert costs["threshold"] == TAUS[int(np.argmax(csi))]
    assert h["bias"] > 1.3, "the validation threshold over-forecasts the new season"
    assert h["hindsight_csi"] > h["csi"] + 0.01 and h["hindsight_threshold"] > costs["threshold"]
    assert int(hindsight_edge(new.sum(0))) == round(h["hindsight_threshold"] * 200)


def test_hindsight_tells_a_sharper_forecaster_from_a_blurred_one_when_its_tuned_threshold_does_not():
    runs = 10
    sharp_val, _ = _runs(runs, 3, 0.3)
    sharp_new, _ = _runs(runs, 4, 0.3, shift=2.0)  # ranks well, but its threshold transfers badly
    blurred_val, _ = _runs(runs, 3, 1.5)
    blurred_new, _ = _runs(runs, 4, 1.5)
    edges = [tuned_edge(sharp_val.sum(0))], [tuned_edge(blurred_val.sum(0))]
    tuned = paired_bootstrap_csi([sharp_new], [blurred_new], *edges, n_resamples=200)
    hindsight = paired_bootstrap_csi([sharp_new], [blurred_new], n_resamples=200)
    assert hindsight["difference"] > 0.05 and hindsight["low"] > 0 and hindsight["p_better"] == 1.0
    assert tuned["difference"] < hindsight["difference"] - 0.03
    # seeds pooled: the same network twice against itself differs by nothing
    same = paired_bootstrap_csi([sharp_new, sharp_new], [sharp_new], n_resamples=20)
    assert same["difference"] == pytest.approx(0) and same["low"] == pytest.approx(0)
    with pytest.raises(ValueError, match="same runs"):
        paired_bootstrap_csi([sharp_new], [blurred_new[:5]])


def test_expected_count_matching_forecasts_as_many_pixels_as_each_runs_probabilities_expect():
    from engine.calibration import fit_isotonic
    from training.thresholds import matched_edges, tables_at, tuned_ratio

    val, _ = _runs(6, 5, 0.5)
    knots = fit_isotonic(val.sum(0))
    new, _ = _runs(4, 6, 0.5, shift=1.0)  # over-forecasts: a fixed threshold marks too many pixels
    for ratio in (1.0, 2.0):
        tables = tables_at(new, matched_edges(new, knots, ratio))
        for h, t in zip(new, tables, strict=True):
            expected = float(h[2].sum()) * 2  # calibrated on val, P doubled: it expects twice the events
            assert t["hits"] + t["false_alarms"] == pytest.approx(ratio * expected, rel=0.2)
    r = tuned_ratio(val, knots)
    fixed = threshold_costs({"val": val, "new": new})["new"]
    matched = categorical_scores(
        {k: sum(t[k] for t in tables_at(new, matched_edges(new, knots, r))) for k in TABLE_KEYS}
    )
    assert matched["bias"] < fixed["bias"], "matching follows the runs' own probabilities, not one number"
