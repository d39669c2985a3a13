"""The demo archive behaves like Korean summer data and its variables are physically coupled."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.data.catalog import Catalog
from engine.data.demo import generate
from engine.data.twin import OMEGA, Twin
from engine.grid import KOREA

G = 9.81


@pytest.fixture(scope="module")
def twin() -> Twin:
    return Twin(seed=7, start=pd.Timestamp("2026-07-01"), days=4)


@pytest.fixture(scope="module")
def nature(twin: Twin) -> list[dict[str, np.ndarray]]:
    return [twin.state(h) for h in range(0, 72, 3)]


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_same_seed_same_bytes_other_seed_other_weather(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    a = generate(tmp_path / "a", runs=2, seed=3, leads=2, progress=False)
    monkeypatch.setattr("engine.parallel.JOBS_PER_WORKER", 1)  # worker processes even for this tiny archive
    b = generate(tmp_path / "b", runs=2, seed=3, leads=2, progress=False, workers=2)
    c = generate(tmp_path / "c", runs=2, seed=4, leads=2, progress=False)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert len(files) == 2 * 3 + 27 + 1  # GRIB per run and lead, QPE per valid hour, archive.json
    assert all((a / rel).read_bytes() == (b / rel).read_bytes() for rel in files), "workers change no byte"
    rel = Path("nwp/2026070200/nwp_2026070200_f002.grib2")
    assert (a / rel).read_bytes() != (c / rel).read_bytes()
    assert not list(b.rglob("*.tmp")), "atomic writes leave no temporary files"


def test_class_frequencies_are_korean_summer_like():
    """Over a 6-day season (the default demo), sampled every 3 h, on QPE-valid pixels."""
    twin = Twin(seed=7, start=pd.Timestamp("2026-07-01"), days=7)
    qpe = np.stack([twin.qpe(h, twin.state(h)["tp"]) for h in range(0, 6 * 24 + 48, 3)])
    qpe = qpe[np.isfinite(qpe)]
    rain, heavy = (qpe >= 0.1).mean(), (qpe >= 10).mean()
    assert 0.10 <= rain <= 0.30, rain
    assert 0.001 <= heavy <= 0.01, heavy


def test_raw_nwp_skill_is_realistic_and_falls_with_lead_time(demo_archive: Path):
    cat = Catalog(demo_archive)
    counts = {(thr, day): np.zeros(3) for thr in (0.1, 10.0) for day in (1, 2)}
    for run in cat.runs():
        fc = cat.load_run(run)["tp"].values[1:]
        ob = cat.load_qpe(run, list(range(1, 49))).values
        ok = np.isfinite(ob)
        for thr in (0.1, 10.0):
            f, o = (fc >= thr) & ok, (ob >= thr) & ok
            for day, sl in ((1, slice(0, 24)), (2, slice(24, 48))):
                counts[(thr, day)] += [(f & o)[sl].sum(), (~f & o)[sl].sum(), (f & ~o)[sl].sum()]
    csi = {k: v[0] / v.sum() for k, v in counts.items()}
    total = {thr: (counts[(thr, 1)] + counts[(thr, 2)]) for thr in (0.1, 10.0)}
    assert 0.3 <= total[0.1][0] / total[0.1].sum() <= 0.6
    assert 0.005 <= total[10.0][0] / total[10.0].sum() <= 0.2
    assert csi[(0.1, 2)] < csi[(0.1, 1)], csi
    bias = (total[0.1][0] + total[0.1][2]) / (total[0.1][0] + total[0.1][1])
    assert bias > 1.0, "the NWP should rain too often (drizzle bias)"


def test_humidity_is_high_where_it_rains(nature):
    rain = np.stack([s["tp"] for s in nature])
    r850 = np.stack([s["r850"] for s in nature])
    assert r850[rain >= 1].mean() > r850[rain < 0.1].mean() + 10
    assert _corr(np.log1p(rain), r850) > 0.3


def test_winds_are_close_to_geostrophic(twin: Twin, nature):
    """The ageostrophic part (|V - Vg|, mean over the domain) is small next to the geostrophic wind."""
    inner = (slice(8, -8), slice(8, -8))
    for s in nature[::4]:
        for level in ("850", "500"):
            dz_dy, dz_dx = twin._grad(s["gh" + level])
            ug, vg = -G / twin.f * dz_dy, G / twin.f * dz_dx
            ageo = np.hypot(s["u" + level] - ug, s["v" + level] - vg)[inner].mean()
            assert ageo < 0.4 * np.hypot(ug, vg)[inner].mean(), level
    assert pytest.approx(7.292e-5) == OMEGA


def test_heights_and_temperatures_are_hydrostatic(nature):
    thickness = np.stack([s["gh500"] - s["gh850"] for s in nature])
    layer_t = np.stack([0.5 * (s["t850"] + s["t500"]) for s in nature])
    slope = np.polyfit(layer_t.ravel(), thickness.ravel(), 1)[0]
    assert slope == pytest.approx(287.0 / G * np.log(850 / 500), rel=0.02)  # hypsometric equation


def test_rain_falls_where_air_converges(twin: Twin, nature):
    conv = []
    for s in nature:
        dv_dy, _ = twin._grad(s["v850"])
        _, du_dx = twin._grad(s["u850"])
        conv.append(-(du_dx + dv_dy))
    conv, rain = np.stack(conv), np.stack([s["tp"] for s in nature])
    assert conv[rain >= 5].mean() > 3 * abs(conv[rain < 0.1].mean())


def test_windward_slopes_get_more_rain(twin: Twin, nature):
    up = [np.clip(s["u850"] * twin.dh_dx + s["v850"] * twin.dh_dy, 0, None) for s in nature]
    rain = np.stack([s["tp"] for s in nature])
    up = np.stack(up)
    land = np.broadcast_to(KOREA.land_mask, rain.shape)
    wind_ward = land & (up > np.percentile(up[land], 90))
    lee = land & (up == 0)
    assert rain[wind_ward].mean() > 1.5 * rain[lee].mean()


def test_natures_expected_rain_is_its_rain_without_the_noise_and_cells_only_add_rain(
    twin: Twin, nature: list[dict[str, np.ndarray]]
):
    """What `training ceiling` builds its oracles on: ``tp_expected`` is the mean of ``tp`` over nature's
    small-scale variability, and the convective cells add lift (never take rain away)."""
    ratio = sum(s["tp"].sum() for s in nature) / sum(s["tp_expected"].sum() for s in nature)
    assert 0.97 <= ratio <= 1.0, ratio  # the noise has mean 1; drizzle below 0.03 mm/h is cut
    assert all(np.all(s["tp_expected"][s["tp"] > 0] > 0) for s in nature), "the noise never makes rain from none"
    without = [twin.state(h, cells=False)["tp_expected"] for h in range(0, 72, 3)]
    assert all(np.all(w <= s["tp_expected"] + 1e-12) for w, s in zip(without, nature, strict=True))
    assert sum(w.sum() for w in without) < 0.99 * sum(s["tp_expected"].sum() for s in nature)
