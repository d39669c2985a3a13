"""The inference engine: probabilities, determinism, tiling, weights checks, caching, CLI."""

import functools
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from engine.cache import cached_prediction, predicted_run, rain_and_prediction
from engine.data.catalog import Catalog
from engine.errors import DataError
from engine.model.manifest import DEFAULT_WEIGHTS, read_manifest
from engine.predict import Predictor
from engine.prediction import DeferredPredictor

RUN = "2026070100"


@pytest.fixture(scope="module")
def weights(random_lite_weights: Path) -> Path:
    return random_lite_weights


@pytest.fixture(scope="module")
def run_ds(demo_archive: Path):
    return Catalog(demo_archive).load_run(RUN, [1, 2, 3, 4])


def test_output_is_cf_with_probabilities_summing_to_one(weights: Path, run_ds):
    out = Predictor(weights, device="cpu").predict(run_ds)
    p = out["probability"]
    assert p.dims == ("lead_time", "category", "lat", "lon") and p.shape == (4, 3, 160, 160)
    np.testing.assert_allclose(p.sum("category"), 1.0, atol=1e-5)
    np.testing.assert_array_equal(out["rain_class"], p.argmax("category"))
    assert out.attrs["weights_sha256"] == read_manifest(weights)["sha256"] and out.attrs["source_run"] == RUN
    assert out["rain_class"].attrs["flag_meanings"] == "no_rain rain heavy_rain"
    # the raw NWP rain it corrected rides along, so one file compares the two
    np.testing.assert_array_equal(out["nwp_rain"].values, run_ds["tp"].values)
    assert out["nwp_rain"].attrs["units"] == "mm"


def test_cpu_output_is_deterministic(weights: Path, run_ds):
    a = Predictor(weights, device="cpu").predict(run_ds)["probability"].values
    b = Predictor(weights, device="cpu").predict(run_ds)["probability"].values
    np.testing.assert_array_equal(a, b)


def test_tiled_equals_untiled_when_one_tile_covers_the_grid(weights: Path, run_ds):
    untiled = Predictor(weights, device="cpu").predict(run_ds)["probability"].values
    tiled = Predictor(weights, device="cpu", tile=160, overlap=32).predict(run_ds)["probability"].values
    np.testing.assert_array_equal(tiled, untiled)


def test_a_larger_domain_is_tiled_without_seams(weights: Path):
    predictor = Predictor(weights, device="cpu", tile=64, overlap=32)
    rng = np.random.default_rng(0)
    x = np.cumsum(np.cumsum(rng.standard_normal((1, 16, 160, 224)), axis=2), axis=3) * 0.01  # smooth fields
    p = predictor.probabilities(x.astype(np.float32))
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)
    jumps = np.abs(np.diff(p[0, 2], axis=1))  # along x
    starts = [s for s in range(0, 224 - 64, 32)][1:]
    border = jumps[:, [s - 1 for s in starts]].mean()
    assert border < 3 * jumps.mean() + 1e-6, "tile borders must not stand out"


def test_compiled_tiled_inference_compiles_the_network_once_not_per_tile(weights: Path, monkeypatch):
    """Each tile sits elsewhere on the training grid; were its placement baked into the compiled graph, the whole
    network would compile again for new tiles (minutes each under inductor). The graphs dynamo captures are counted
    here by their size; inductor's code generation is what `bench --compile` times."""
    sizes: list[int] = []

    def backend(gm: torch.fx.GraphModule, inputs) -> object:
        sizes.append(len(gm.graph.nodes))
        return gm.forward

    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend=backend))
    torch._dynamo.reset()
    x = np.random.default_rng(1).standard_normal((1, 16, 160, 224)).astype(np.float32)
    try:
        compiled = Predictor(weights, device="cpu", tile=64, overlap=32, compile=True).probabilities(x)
    finally:
        torch._dynamo.reset()
    network = [n for n in sizes if n > 100]  # the encoder and head; the embedding's graphs hold a few nodes
    assert len(network) == 1, f"the network compiled {len(network)} times for 24 tiles (graph sizes {sizes})"
    eager = Predictor(weights, device="cpu", tile=64, overlap=32).probabilities(x)
    np.testing.assert_allclose(compiled, eager, atol=1e-5)


def test_tampered_weights_are_refused_by_the_predictor(weights: Path, tmp_path: Path):
    bad = tmp_path / "bad.safetensors"
    data = bytearray(weights.read_bytes())
    data[100] ^= 1
    bad.write_bytes(bytes(data))
    bad.with_suffix(".json").write_text(weights.with_suffix(".json").read_text())
    for load in (Predictor, DeferredPredictor):  # the app's refuses them before any run is shown
        with pytest.raises(DataError, match="sha256"):
            load(bad)
        with pytest.raises(DataError, match="not found"):
            load(tmp_path / "missing.safetensors")


def test_weights_replaced_under_a_running_app_are_refused_not_cached_as_the_old_ones(weights: Path, tmp_path: Path):
    """The app reads the manifest at start and loads the network later: new weights shipped in between would have
    their forecasts cached under the old weights' sha256."""
    from safetensors.torch import load_file, save_file

    from engine.model.manifest import sha256_file

    path = tmp_path / "w.safetensors"
    path.write_bytes(weights.read_bytes())
    path.with_suffix(".json").write_text(weights.with_suffix(".json").read_text())
    deferred = DeferredPredictor(path, device="cpu")
    state = load_file(str(path))
    name = next(iter(state))
    state[name] = state[name] + 1.0
    save_file(state, str(path), metadata={"format": "pt"})
    manifest = {**read_manifest(weights), "sha256": sha256_file(path)}
    path.with_suffix(".json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="weights were replaced .* restart"):
        deferred.predict(xr.Dataset())
    assert not deferred.loaded


def test_cache_hit_does_not_recompute(weights: Path, demo_archive: Path, tmp_path: Path, monkeypatch):
    cat = Catalog(demo_archive)
    predictor = Predictor(weights, device="cpu")
    calls = {"n": 0}
    real = predictor.predict

    def counting(ds):
        calls["n"] += 1
        return real(ds)

    monkeypatch.setattr(predictor, "predict", counting)
    with pytest.raises(ValueError, match="lead times"):  # a part of the run is never cached as the whole run
        predicted_run(cat, RUN, predictor, tmp_path, nwp=cat.load_run(RUN, [1, 2]))
    assert calls["n"] == 0 and not list(tmp_path.glob("pred_*.nc"))
    first = predicted_run(cat, RUN, predictor, tmp_path, nwp=cat.load_run(RUN))  # the caller's read, not a second
    second = predicted_run(cat, RUN, predictor, tmp_path)
    assert calls["n"] == 1
    np.testing.assert_array_equal(first["probability"].values, second["probability"].values)
    assert len(list(tmp_path.glob("pred_*.nc"))) == 1
    assert cached_prediction(cat, RUN, predictor, tmp_path) is not None
    assert cached_prediction(cat, "2026070200", predictor, tmp_path) is None
    np.testing.assert_array_equal(second["nwp_rain"].values, cat.load_run(RUN, channels=("tp",))["tp"].values)
    # what the app, `engine place` and the verification read: the cached run's rain, no GRIB, no new prediction
    monkeypatch.setattr(cat, "load_run", lambda *a, **k: pytest.fail("a cached run's GRIB was read"))
    rain, pred = rain_and_prediction(cat, RUN, predictor, tmp_path)
    assert calls["n"] == 1 and list(rain.data_vars) == ["tp"] and pred is not None
    np.testing.assert_array_equal(rain["tp"].values, second["nwp_rain"].values)
    # the app's and the CLI's predictor: the manifest checked at once, the network loaded only for a run to predict
    deferred = DeferredPredictor(weights, device="cpu")
    _, again = rain_and_prediction(cat, RUN, deferred, tmp_path)
    assert not deferred.loaded
    np.testing.assert_array_equal(again["event_probability"].values, pred["event_probability"].values)
    monkeypatch.undo()
    _, fresh = rain_and_prediction(cat, "2026070200", deferred, tmp_path)
    assert deferred.loaded and fresh.attrs["source_run"] == "2026070200"


def test_a_sub_domain_is_not_served_the_full_domains_cached_prediction(
    weights: Path, demo_archive: Path, tmp_path: Path
):
    from engine.grid import KOREA, Grid

    predictor = Predictor(weights, device="cpu")
    full = predicted_run(Catalog(demo_archive), RUN, predictor, tmp_path)
    part = Grid(lat0=KOREA.lat0 + 2.0, lon0=KOREA.lon0 + 1.0, ny=64, nx=96)
    sub = predicted_run(Catalog(demo_archive, grid=part), RUN, predictor, tmp_path)
    assert full["probability"].shape[-2:] == (160, 160) and sub["probability"].shape[-2:] == (64, 96)
    np.testing.assert_allclose(sub["lat"], part.lat)
    assert len(list(tmp_path.glob("pred_*.nc"))) == 2, "one cached prediction per grid"


@pytest.mark.skipif(not DEFAULT_WEIGHTS.exists(), reason="shipped weights not built yet")
def test_a_sub_domain_forecast_matches_the_full_domains_where_they_overlap(demo_archive: Path):
    from engine.grid import KOREA, Grid
    from engine.normalise import normalise, stack_channels
    from engine.placement import Placement

    predictor = Predictor(DEFAULT_WEIGHTS, device="cpu")
    leads = [6, 12, 18, 24]
    full = predictor.predict(Catalog(demo_archive).load_run(RUN, leads))["probability"].values
    part = Grid(lat0=KOREA.lat0 + 3.2, lon0=KOREA.lon0 + 1.6, ny=96, nx=96)  # 64 rows, 32 columns in
    ds = Catalog(demo_archive, grid=part).load_run(RUN, leads)
    place = Placement.of(ds["lat"].values, ds["lon"].values, predictor.manifest["trained_area"])
    assert place.tokens(0, 0, predictor.patch) == ((8.0, 4.0), (1.0, 1.0))
    placed = predictor.predict(ds)["probability"].values
    at_corner = predictor.probabilities(normalise(stack_channels(ds), predictor.stats), Placement())
    inner = (slice(None), slice(None), slice(16, -16), slice(16, -16))  # away from the sub-domain's edges
    same_place = full[:, :, 64:160, 32:128]
    err_placed = np.abs(placed - same_place)[inner].mean()
    err_corner = np.abs(at_corner - same_place)[inner].mean()
    print(f"mean |dp| inside: placed {err_placed:.4f}, read at the training grid's corner {err_corner:.4f}")
    assert err_placed < 0.6 * err_corner, "the sub-domain reads the positional prior of where it lies"


def test_the_area_the_network_learnt_from_travels_with_its_weights(weights: Path, run_ds, demo_archive, tmp_path):
    from engine import trained_area
    from engine.grid import KOREA, Grid

    cat = Catalog(demo_archive)
    learnt = cat.verify_mask
    packed = trained_area.pack(learnt, KOREA.lat, KOREA.lon)
    assert len(json.dumps(packed)) < 5000, "a few KB in the manifest"
    np.testing.assert_array_equal(trained_area.unpack(packed, KOREA.lat, KOREA.lon), learnt)
    assert trained_area.unpack(None, KOREA.lat, KOREA.lon) is None
    wider = Grid(lat0=KOREA.lat0 - 1.0, lon0=KOREA.lon0 - 2.0, ny=KOREA.ny + 40, nx=KOREA.nx + 80)
    on_wider = trained_area.unpack(packed, wider.lat, wider.lon)  # a larger, tiled domain
    np.testing.assert_array_equal(on_wider[20:180, 40:200], learnt)
    assert on_wider.sum() == learnt.sum(), "beyond the training grid nothing was learnt"
    finer = trained_area.unpack(packed, np.round(KOREA.lat0 + 0.025 * np.arange(319), 6), KOREA.lon)
    np.testing.assert_array_equal(finer[::2], learnt)
    assert not trained_area.unpack(packed, KOREA.lat + 10.0, KOREA.lon).any(), "another region: all unlearnt"
    with pytest.raises(ValueError, match="not on a 160 x 160 grid"):
        trained_area.pack(learnt[:-1], KOREA.lat, KOREA.lon)

    assert "trained_area" not in Predictor(weights, device="cpu").predict(run_ds)  # its manifest records none
    predicted_run(cat, RUN, Predictor(weights, device="cpu"), tmp_path)  # cached before the manifest knew
    marked = tmp_path / "marked.safetensors"
    marked.write_bytes(weights.read_bytes())
    manifest = {**read_manifest(weights), "trained_area": packed}
    marked.with_suffix(".json").write_text(json.dumps(manifest))
    predictor = Predictor(marked, device="cpu")
    for out in (predictor.predict(run_ds), predicted_run(cat, RUN, predictor, tmp_path)):
        np.testing.assert_array_equal(out["trained_area"].values.astype(bool), learnt)
    assert len(list(tmp_path.glob("pred_*.nc"))) == 1, "the same tensors: the cached prediction was reused"
    with xr.open_dataset(next(tmp_path.glob("pred_*.nc"))) as cached:
        assert "trained_area" not in cached
    part = Grid(lat0=KOREA.lat0 + 2.0, lon0=KOREA.lon0 + 1.0, ny=64, nx=96)  # a sub-domain, as a user may choose
    sub = predictor.predict(Catalog(demo_archive, grid=part).load_run(RUN, [1]))
    np.testing.assert_array_equal(sub["trained_area"].values.astype(bool), learnt[40:104, 20:116])


def test_predict_cli_writes_netcdf(weights: Path, demo_archive: Path, tmp_path: Path, engine_cli):
    out = tmp_path / "p.nc"
    common = ["predict", "--data", str(demo_archive), "--weights", str(weights)]
    res = engine_cli(*common, "--run", RUN, "--out", str(out), "--device", "cpu")
    assert res.returncode == 0, res.stderr
    with xr.open_dataset(out) as ds:
        assert ds.sizes["lead_time"] == 49 and ds.attrs["Conventions"] == "CF-1.8"
        assert list(ds["event_probability"]["threshold"].values) == [0.1, 10.0]
    # Refused before the network is built: an unknown run, weights that are not what their manifest says, an output
    # that cannot be written (told after the prediction before, 7 s later).
    bad = tmp_path / "bad.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    bad.write_bytes(bytes(data))
    bad.with_suffix(".json").write_text(weights.with_suffix(".json").read_text())
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    x = str(tmp_path / "x.nc")
    for args, said in (
        (("--run", "2030010100", "--weights", str(weights), "--out", x), "unknown run 2030010100"),
        (("--run", RUN, "--weights", str(bad), "--out", x), "bad.safetensors: sha256"),
        (("--run", RUN, "--weights", str(weights), "--out", str(out / "x.nc")), "p.nc: cannot write here"),
    ):
        res = engine_cli(*common[:3], *args, env=env)
        imported = {line.rsplit("|", 1)[-1].strip() for line in res.stderr.splitlines()}
        assert res.returncode == 2 and said in res.stderr, res.stderr[-500:]
        assert "torch" not in imported and not (tmp_path / "x.nc").exists()


@pytest.mark.skipif(not DEFAULT_WEIGHTS.exists(), reason="shipped weights not built yet")
def test_shipped_weights_load_and_carry_their_provenance():
    manifest = read_manifest(DEFAULT_WEIGHTS)
    assert DEFAULT_WEIGHTS.stat().st_size < 50e6
    for key in (
        "sha256",
        "model_config",
        "normalisation",
        "training_config",
        "data_fingerprint",
        "git_commit",
        "metrics",
    ):
        assert manifest[key], key
    Predictor(DEFAULT_WEIGHTS, device="cpu")
    assert json.loads(json.dumps(manifest["metrics"]))["test"]["csi_10"] is not None
    from engine import trained_area
    from engine.grid import KOREA

    # the demo twin's radar coverage: the only pixels its training labels held
    np.testing.assert_array_equal(trained_area.unpack(manifest["trained_area"], KOREA.lat, KOREA.lon), KOREA.qpe_mask)
