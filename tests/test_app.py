"""The Streamlit app driven through AppTest: every page, every control, numbers checked against engine.verify."""

import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from streamlit.testing.v1 import AppTest

from app import maps
from engine.data.catalog import Catalog
from engine.verify.categorical import TABLE_KEYS, categorical_scores, contingency_table

ROOT = Path(__file__).resolve().parents[1] / "app"
MAIN = str(ROOT / "main.py")


@pytest.fixture
def runs_read(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The runs the pages read (``app.state.get_run``), in order, from here on."""
    import app.state

    asked: list[str] = []
    real = app.state.get_run

    def counting(ref, run):
        asked.append(run)
        return real(ref, run)

    monkeypatch.setattr(app.state, "get_run", counting)
    return asked


def _redone(data: Path, hour: str) -> None:
    """A QPE hour (YYYYMMDDHH) rewritten in place, as a later re-estimate is: same bytes, a newer time."""
    path = data / "qpe" / f"qpe_{hour}.nc"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000_000))


def _page(name: str, timeout: float = 300) -> AppTest:
    """The app opened on one of its pages (its file in app/views/), as a click in the sidebar opens it."""
    return AppTest.from_file(MAIN, default_timeout=timeout).switch_page(f"views/{name}.py")


@pytest.fixture
def env(demo_archive: Path, prediction_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PRECIP_DATA", str(demo_archive))
    monkeypatch.setenv("PRECIP_CACHE", str(prediction_cache))
    return demo_archive


def _table(at: AppTest):
    return at.dataframe[0].value


def _obs_events(at: AppTest) -> int:
    caption = next(c.value for c in at.caption if c.value.startswith("Observed events"))
    return int(caption.split(":")[1].split("px")[0])


def test_viewer_shows_maps_scores_and_utc_kst(env: Path):
    at = AppTest.from_file(MAIN, default_timeout=180).run()
    assert not at.exception and not at.error
    from engine.model.manifest import DEFAULT_WEIGHTS

    # NWP, model and QPE maps, two contingency maps, the CSI curve, three heavy-rain maps, three wettest-hour maps,
    # the place chart (no model map, model contingency or model wettest hour without weights)
    assert len(at.get("plotly_chart")) == (13 if DEFAULT_WEIGHTS.exists() else 10)
    assert at.dataframe[0].proto.placeholder == "–", "an undefined score (FAR with nothing forecast) reads '–'"
    header = next(c.value for c in at.caption if c.value.startswith("Run "))
    assert "UTC" in header and "KST" in header and "lead 27 h" in header
    assert "Detected: NWP `demo`, observations `qpe-netcdf`" in [c.value for c in at.caption]


def test_scores_match_engine_verify_and_respond_to_every_control(env: Path):
    at = AppTest.from_file(MAIN, default_timeout=180).run()
    at.selectbox(key="run").set_value("2026070100").run()
    at.select_slider(key="lead").set_value(30).run()
    header = next(c.value for c in at.caption if c.value.startswith("Run "))
    assert "2026-07-02 06 UTC / 2026-07-02 15 KST" in header
    cat = Catalog(env)
    nwp = cat.load_run("2026070100", [30])["tp"].values[0]
    qpe = cat.load_qpe("2026070100", [30]).values[0]
    for thr in (10.0, 0.1):
        at.select_slider(key="threshold").set_value(thr).run()
        expected = categorical_scores(contingency_table(nwp, qpe, thr, cat.grid.qpe_mask))
        got = _table(at).loc["CSI", "NWP (lead)"]
        assert got == pytest.approx(expected["csi"], nan_ok=True), thr
    events_low = _obs_events(at)
    at.select_slider(key="threshold").set_value(10.0).run()
    assert _obs_events(at) < events_low, "a higher threshold lowers the event count"
    fss_small = _table(at).loc["FSS", "NWP (run)"]
    at.select_slider(key="fss").set_value(25).run()
    assert _table(at).loc["FSS", "NWP (run)"] >= fss_small, "a larger neighbourhood forgives displacement"
    at.button(key="lead_forward").click().run()  # +1 h
    assert at.select_slider(key="lead").value == 31


def test_probability_threshold_moves_the_model_scores(env: Path):
    from engine.model.manifest import DEFAULT_WEIGHTS

    if not DEFAULT_WEIGHTS.exists():
        pytest.skip("no shipped weights")
    from engine.calibration import decision_threshold
    from engine.model.manifest import read_manifest

    at = AppTest.from_file(MAIN, default_timeout=300).run()
    # the default is the threshold tuned on validation runs, read in the calibrated probability the maps show
    manifest = read_manifest(DEFAULT_WEIGHTS)
    tuned = decision_threshold(manifest, 10.0)
    assert at.sidebar.slider[0].value == round(tuned, 2)
    assert tuned < manifest["decision_thresholds"]["10"], "the class weights inflate raw P: calibrated it is lower"
    at.select_slider(key="threshold").set_value(0.1).run()
    low = _table(at).loc["bias", "model (run)"]
    at.sidebar.slider[0].set_value(0.9).run()
    assert _table(at).loc["bias", "model (run)"] < low, "a stricter probability threshold forecasts fewer events"


def _chart(chart) -> dict:
    return json.loads(chart.proto.spec)


def _values(v) -> np.ndarray:
    """A trace's data array as plotly sends it: a list, or base64 typed data (with a shape when 2-D)."""
    import base64

    if not isinstance(v, dict):
        return np.asarray(v, dtype=float)
    shape = tuple(int(n) for n in str(v.get("shape", "-1")).split(","))
    return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).reshape(shape)


def _heatmap_z(trace: dict) -> np.ndarray:
    """A heatmap's values as plotly sends them (base64 float32 with its shape)."""
    return _values(trace["z"])


def _map_values(chart: dict) -> np.ndarray:
    """What a rain or probability map shows under the cursor at each pixel: its one heatmap whose hover gives the
    value (the others are the empty trace that draws the colour bar and the grey veil of untrained pixels)."""
    (shown,) = [t for t in chart["data"] if t["type"] == "heatmap" and "%{z" in t.get("hovertemplate", "")]
    return _heatmap_z(shown)


def _level_grid(chart: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A KMA level map's traces (one per level, each over its own rows and columns) placed on the demo's grid: the
    level at each pixel (NaN where no level is drawn), the largest 3 h and 12 h sums and the hover's notes."""
    from engine.grid import KOREA

    lat, lon = KOREA.lat.astype(np.float32), KOREA.lon.astype(np.float32)
    level = np.full(KOREA.shape, np.nan, dtype=np.float32)
    sums = np.full((*KOREA.shape, 2), np.nan, dtype=np.float32)
    notes = np.full(KOREA.shape, "", dtype=object)
    for t in chart["data"]:
        if t["type"] != "heatmap" or "customdata" not in t:  # the grey of unknown pixels
            continue
        z = _heatmap_z(t)
        block = np.ix_(np.searchsorted(lat, _values(t["y"])), np.searchsorted(lon, _values(t["x"])))
        drawn = np.isfinite(z)
        assert np.isnan(level[block][drawn]).all(), "two levels drawn at one pixel"
        level[block] = np.where(drawn, z, level[block])
        sums[block] = np.where(drawn[..., None], _values(t["customdata"]), sums[block])
        if "text" in t:
            notes[block] = np.where(drawn, np.asarray(t["text"], dtype=object), notes[block])
    return level, sums, notes


def _map_classes(chart) -> np.ndarray:
    """The class code (0, 1, 2) of every pixel of a class map on the demo's grid: one heatmap trace per class
    present over the learnt pixels, each over the rows and columns where that class is, NaN elsewhere; the untrained
    pixels' classes come from the veil, whose codes are the class + 1 there (0 on learnt pixels)."""
    from test_maps import place_on_grid

    from app.maps import UNTRAINED

    heatmaps = [t for t in _chart(chart)["data"] if t["type"] == "heatmap"]
    learnt = (t for t in heatmaps if t.get("name") != UNTRAINED)
    classes = place_on_grid((_values(t["y"]), _values(t["x"]), _heatmap_z(t)) for t in learnt)
    for veil in (t for t in heatmaps if t.get("name") == UNTRAINED):
        code = _heatmap_z(veil)
        assert np.isnan(classes[code > 0]).all(), "a pixel drawn both greyed and not"
        classes = np.where(code > 0, code.astype(np.float32) - 1, classes)
    return classes


def test_the_forecast_class_map_marks_the_decisions_the_scores_judge(env: Path):
    from engine.model.manifest import DEFAULT_WEIGHTS
    from engine.predict import Predictor

    if not DEFAULT_WEIGHTS.exists():
        pytest.skip("no shipped weights")
    at = AppTest.from_file(MAIN, default_timeout=300).run()
    assert at.sidebar.radio[0].value == "forecast class"  # the default map
    run = at.selectbox(key="run").value
    p_heavy = (
        Predictor(DEFAULT_WEIGHTS, device="cpu")
        .predict(Catalog(env).load_run(run, [27]))["event_probability"]
        .sel(threshold=10.0)
        .values[0]
    )
    for tau in (at.sidebar.slider[0].value, 0.05):
        at.sidebar.slider[0].set_value(tau).run()
        classes = _map_classes(at.get("plotly_chart")[1])
        assert f"heavy P >= {tau:.2f}" in _chart(at.get("plotly_chart")[1])["layout"]["title"]["text"]
        np.testing.assert_array_equal(classes == 2, p_heavy >= tau)
    # Where its training labels held no valid QPE the network learnt nothing: greyed out, under the coastlines.
    from app.maps import UNTRAINED
    from engine import trained_area
    from engine.grid import KOREA
    from engine.model.manifest import read_manifest

    learnt = trained_area.unpack(read_manifest(DEFAULT_WEIGHTS)["trained_area"], KOREA.lat, KOREA.lon)
    traces = _chart(at.get("plotly_chart")[1])["data"]
    veil = next(t for t in traces if t.get("name") == UNTRAINED)
    np.testing.assert_array_equal(_heatmap_z(veil) > 0, ~learnt)
    greys = {maps.greyed(c) for c in maps.CLASS_COLOURS}
    assert greys <= {colour for _, colour in veil["colorscale"]}, "each class in its own colour, greyed half-way"
    last = max(i for i, t in enumerate(traces) if t["type"] == "heatmap")
    assert all(t["type"] == "scatter" for t in traces[last + 1 :]), "the coastlines stay on top"


def test_refused_weights_leave_the_nwp_and_qpe_to_compare_and_say_why(
    env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Weights whose sha256 does not match their manifest are never used, but the pages still show (and score) the
    raw NWP against the QPE, name the file and the reason, and the verification page does not fail."""
    import engine.model.manifest
    from app import state
    from engine.model.manifest import DEFAULT_WEIGHTS

    if not DEFAULT_WEIGHTS.exists():
        pytest.skip("no shipped weights")
    bad = tmp_path / "lite.safetensors"
    bad.write_bytes(DEFAULT_WEIGHTS.read_bytes() + b"x")
    bad.with_suffix(".json").write_text(DEFAULT_WEIGHTS.with_suffix(".json").read_text())
    monkeypatch.setattr(state, "DEFAULT_WEIGHTS", bad)
    monkeypatch.setattr(engine.model.manifest, "DEFAULT_WEIGHTS", bad)  # the model card reads it from there
    at = AppTest.from_file(MAIN, default_timeout=300).run()
    assert not at.exception, at.exception
    said = " ".join(w.value for w in at.warning)
    assert f"{bad}: sha256" in said and "showing raw NWP against QPE only" in said
    titles = [_chart(c)["layout"]["title"]["text"] for c in at.get("plotly_chart")[:2]]
    assert titles[0].startswith("Raw NWP rain") and titles[1].startswith("Observed QPE"), titles
    assert not any("model" in str(r).lower() for r in at.dataframe[0].value.columns), "no model scores"
    for name in ("verification", "model_card"):
        page = _page(name).run()
        assert not page.exception, (name, page.exception)
        shown = page.warning if name == "verification" else page.error
        assert any(f"{bad}: sha256" in m.value for m in shown), name


def test_the_viewer_exports_the_map_it_shows_as_png(env: Path, monkeypatch: pytest.MonkeyPatch):
    """Each of the three maps, the model's in the view chosen, goes to cartopy with its own colour scale, the run's
    lead and valid time in its title, and the untrained area for the model."""
    from PIL import Image

    from app import export
    from engine.model.manifest import DEFAULT_WEIGHTS

    drawn = []
    real = export.png_map

    def recorded(values, lat, lon, title, scale=export.RAIN, learnt=None):
        png = real(values, lat, lon, title, scale, learnt)
        drawn.append({"values": values, "title": title, "scale": scale, "learnt": learnt, "png": png})
        return png

    monkeypatch.setattr(export, "png_map", recorded)
    at = AppTest.from_file(MAIN, default_timeout=300).run()
    picks = at.selectbox(key="export_map").options
    model = DEFAULT_WEIGHTS.exists()
    assert picks == ["raw NWP rain", "post-processed (as shown)", "observed QPE"][:: 1 if model else 2]
    run = at.selectbox(key="run").value
    for view, scale in (("forecast class", export.CLASSES), ("probability of the event", export.PROBABILITY)):
        at.sidebar.radio[0].set_value(view).run()
        for pick in picks:
            at.selectbox(key="export_map").set_value(pick).run()
            at.button(key="render_png").click().run()
            assert not at.exception, at.exception
            assert any(b.proto.url.endswith(".png") for b in at.get("download_button"))
            png = drawn[-1]
            assert f"run {run} UTC +27 h" in png["title"] and "KST" in png["title"]
            assert Image.open(io.BytesIO(png["png"])).format == "PNG"
            if pick == "post-processed (as shown)":
                assert png["scale"] == scale and png["learnt"] is not None
                if view == "forecast class":  # the very classes of the map on screen
                    np.testing.assert_array_equal(png["values"], _map_classes(at.get("plotly_chart")[1]))
            else:
                assert png["scale"] == export.RAIN and png["learnt"] is None
                assert png["title"].startswith("Raw NWP rain" if pick == "raw NWP rain" else "Observed QPE")
        if not model:
            break


def test_rain_at_a_place_shows_that_citys_grid_cell_through_the_run(env: Path):
    """The place chart draws the NWP rain, the observed QPE and the model's probability of the city's own grid cell
    at every lead time (the same numbers as the maps), follows the picked city, and opens from a link."""
    from engine.grid import KOREA
    from engine.places import PLACES, nearest_cell

    at = AppTest.from_file(MAIN, default_timeout=300)
    at.query_params.update({"place": "Busan"})
    at.run()
    assert not at.exception, at.exception
    run = at.selectbox(key="run").value
    cat = Catalog(env)
    leads = [lt for lt in cat.lead_times(run) if lt > 0]
    nwp, qpe = cat.load_run(run, leads)["tp"].values, cat.load_qpe(run, leads).values
    at.sidebar.radio[0].set_value("probability of the event").run()  # the model map shows P at each pixel
    for name in ("Busan", "Gwangju"):
        if name != "Busan":
            at.selectbox(key="place").set_value(name).run()
        assert at.selectbox(key="place").value == name and at.query_params["place"] == name
        iy, ix = nearest_cell(KOREA.lat, KOREA.lon, next(p for p in PLACES if p.name == name))
        charts = [_chart(c) for c in at.get("plotly_chart")]
        chart = next(c for c in charts if c["layout"]["title"]["text"] == f"{name}, run {run} UTC")
        traces = {t["name"]: t for t in chart["data"]}
        assert chart["layout"]["yaxis"]["title"]["text"] == "rain (mm/h)"
        six = pd.Timestamp(f"{run[:8]} {run[8:]}:00") + pd.Timedelta(hours=6 + 9)  # +6 h, in KST
        assert f"+6 h<br>{six:%m-%d %H} KST" in chart["layout"]["xaxis"]["ticktext"]
        assert list(traces["observed QPE"]["x"]) == leads
        np.testing.assert_allclose(_values(traces["observed QPE"]["y"]), qpe[:, iy, ix], rtol=1e-6)
        np.testing.assert_allclose(_values(traces["raw NWP"]["y"]), nwp[:, iy, ix], rtol=1e-6)
        from engine.model.manifest import DEFAULT_WEIGHTS

        if DEFAULT_WEIGHTS.exists():
            p = _values(traces["model P(>= 10 mm/h)"]["y"])
            i = leads.index(at.select_slider(key="lead").value)
            assert p[i] == pytest.approx(_map_values(charts[1])[iy, ix] / 100, abs=1e-5)
        i = leads.index(at.select_slider(key="lead").value)  # the maps above it show the same numbers
        np.testing.assert_allclose(_map_values(charts[0]), nwp[i], rtol=1e-6)
        np.testing.assert_allclose(_map_values(charts[2]), qpe[i], rtol=1e-6)
        # unobserved pixels are left undrawn, on grey, not white: white is the colour of "dry"
        greys = [[s for s in c["layout"].get("shapes", []) if s.get("fillcolor") == maps.UNSCORED_GREY] for c in charts]
        assert np.isnan(qpe[i]).any() and len(greys[2]) == 1 and not greys[0]
        assert any(c.value.startswith("Grey: no valid QPE this hour") for c in at.caption)
        assert any(c.value.startswith("White on the hit/miss maps: not scored") for c in at.caption)
        assert any(b.proto.label == f"{name} through the run as CSV" for b in at.get("download_button"))
        sums = next(d.value for d in at.dataframe if "KMA heavy rain" in d.value.columns)
        for label, series in (("observed QPE", qpe[:, iy, ix]), ("raw NWP", nwp[:, iy, ix])):
            for hours in (3, 12):  # the largest sum of consecutive hours, as the bars add up
                window = np.convolve(series, np.ones(hours), "valid")
                assert sums.loc[label, f"max {hours} h (mm)"] == pytest.approx(np.nanmax(window), rel=1e-5)
        # and at any one cell of the 25 km box around it: each cell's own windows, the largest of them
        for label, rain in (("observed QPE", qpe), ("raw NWP", nwp)):
            box = rain[:, iy - 2 : iy + 3, ix - 2 : ix + 3]
            for hours in (3, 12):
                cells = [np.convolve(box[:, y, x], np.ones(hours), "valid") for y in range(5) for x in range(5)]
                largest = np.nanmax(np.concatenate(cells))
                assert sums.loc[f"{label}, 25 km box", f"max {hours} h (mm)"] == pytest.approx(largest, rel=1e-5)
                assert largest >= sums.loc[label, f"max {hours} h (mm)"] - 1e-4
        assert set(sums["KMA heavy rain"]) <= {"none", "advisory", "warning", "unknown"}
        place = next(p for p in PLACES if p.name == name)
        for top_map in charts[:3]:  # NWP, model, QPE: each rings the place the chart shows
            ring = [t for t in top_map["data"] if t.get("name") == name]
            assert len(ring) == 1 and _values(ring[0]["x"])[0] == place.lon and _values(ring[0]["y"])[0] == place.lat


WARNING_RUN = "2026070200"  # the demo run with observed warnings


def _viewer_on(run: str) -> tuple[AppTest, dict[str, dict]]:
    """The case viewer opened on ``run`` by its link, and its charts by title."""
    at = AppTest.from_file(MAIN, default_timeout=300)
    at.query_params.update({"run": run})
    at.run()
    assert not at.exception, at.exception
    return at, {c["layout"]["title"]["text"]: c for c in map(_chart, at.get("plotly_chart"))}


def _when(run: str, lead: float) -> str:
    kst = pd.Timestamp(f"{run[:8]} {run[8:]}:00") + pd.Timedelta(hours=int(lead) + 9)
    return f"+{int(lead)} h, {kst:%m-%d %H} KST"


def test_heavy_rain_over_the_run_maps_where_kma_criteria_were_reached(env: Path):
    """The run's largest 3 h and 12 h sums at every pixel, observed and raw NWP, as KMA levels (advisory 60 / 110 mm,
    warning 90 / 180 mm), recomputed here from the files; the NWP's advisory area scored against the observed one."""
    run = WARNING_RUN
    at, charts = _viewer_on(run)
    cat = Catalog(env)
    leads = [lt for lt in cat.lead_times(run) if lt > 0]
    mask = cat.verify_mask
    rain = {
        "Observed QPE": np.where(mask, cat.load_qpe(run, leads).values, np.nan),
        "Raw NWP": cat.load_run(run, leads)["tp"].values,
    }
    levels, onsets = {}, {}
    for name, hourly in rain.items():
        total = np.concatenate([np.zeros((1, *hourly.shape[1:])), np.cumsum(hourly, axis=0)])
        largest, windows = {}, {}
        for hours in (3, 12):
            sums = total[hours:] - total[:-hours]  # every window of consecutive hours (the demo's leads are hourly)
            windows[hours] = sums  # windows[h][k] ends at lead k + h
            largest[hours] = np.where(np.isfinite(sums).any(axis=0), np.nanmax(np.nan_to_num(sums, nan=-1), 0), np.nan)
        expected = np.where((largest[3] >= 90) | (largest[12] >= 180), 2.0, 0.0)
        expected = np.where((expected == 0) & ((largest[3] >= 60) | (largest[12] >= 110)), 1.0, expected)
        expected[~np.isfinite(largest[3])] = np.nan
        chart = charts[f"{name}: KMA level reached<br>lead times 1-48 h"]
        drawn, shown, notes = _level_grid(chart)
        np.testing.assert_array_equal(drawn, expected.astype(np.float32))
        np.testing.assert_allclose(shown[..., 0], largest[3], rtol=1e-5)
        np.testing.assert_allclose(shown[..., 1], largest[12], rtol=1e-5)
        # each reached pixel's hover says when it reached each level up to its own: when the first window to
        # reach the level's amount ended
        first = {}
        for level, amounts in (("advisory", {3: 60, 12: 110}), ("warning", {3: 90, 12: 180})):
            ends = []
            for h, mm in amounts.items():
                reached = np.nan_to_num(windows[h], nan=-1) >= mm
                ends.append(np.where(reached.any(axis=0), reached.argmax(axis=0) + h, np.inf))
            first[level] = np.minimum(*ends)
        for iy, ix in zip(*np.nonzero(expected >= 1), strict=True):
            lines = [
                f"<b>{level}</b> reached at {_when(run, first[level][iy, ix])}<br>"
                for code, level in ((1, "advisory"), (2, "warning"))
                if expected[iy, ix] >= code
            ]
            assert notes[iy, ix] == "".join(lines)
        assert not notes[~(expected >= 1)].any(), "no line where no level was reached"
        onsets[name] = first
        unknown = ~np.isfinite(expected)
        if unknown.any():  # drawn grey, named in its hover
            (grey,) = [t for t in chart["data"] if t["type"] == "heatmap" and "customdata" not in t]
            np.testing.assert_array_equal(np.isfinite(_heatmap_z(grey)), unknown)
        assert any(t.get("name") == "cities" for t in chart["data"]), "a click on a city charts it"
        levels[name] = expected
    assert (levels["Observed QPE"] == 2).sum() > 0, "the demo run should reach the warning somewhere"
    scored = np.isfinite(levels["Observed QPE"])
    table = next(d.value for d in at.dataframe if "warning (km²)" in d.value.columns)
    for name, level in levels.items():
        assert table.loc[name, "warning (km²)"] == 25 * ((level == 2) & scored).sum()
        assert table.loc[name, "advisory or above (km²)"] == 25 * ((level >= 1) & scored).sum()
        for reached in ("advisory", "warning"):  # the earliest hour anywhere in the scored area, or never ("–")
            earliest = onsets[name][reached][scored].min()
            shown = table.loc[name, f"{reached} first reached"]
            assert shown == _when(run, earliest) if np.isfinite(earliest) else pd.isna(shown), (name, reached, shown)
    assert not pd.isna(table.loc["Observed QPE", "warning first reached"])
    f, o = levels["Raw NWP"][scored] >= 1, levels["Observed QPE"][scored] >= 1
    csi = (f & o).sum() / max((f | o).sum(), 1)
    assert table.loc["Raw NWP", "CSI, advisory or above"] == pytest.approx(csi)
    assert charts["Raw NWP vs observed: advisory or above"]


def test_the_wettest_hour_maps_show_each_pixels_peak_over_the_run_and_when_it_came(env: Path):
    """Raw NWP and observed QPE: each pixel's largest hourly rain over the run, recomputed from the files, with the
    lead time of the first hour that held it under the cursor; between them the model's highest calibrated
    P(rain >= 10 mm/h) at any hour, and the area where it reaches the probability threshold."""
    from engine.cache import rain_and_prediction
    from engine.model.manifest import DEFAULT_WEIGHTS, read_manifest
    from engine.prediction import DeferredPredictor

    run = WARNING_RUN
    at, charts = _viewer_on(run)
    cat = Catalog(env)
    leads = [lt for lt in cat.lead_times(run) if lt > 0]

    def shown(title: str) -> tuple[np.ndarray, np.ndarray]:
        """The map's values and, per pixel, the hour its hover names (NaN where it names none)."""
        (trace,) = [t for t in charts[title]["data"] if t["type"] == "heatmap" and "%{z" in t.get("hovertemplate", "")]
        hover = "at +%{customdata[0]} h, %{customdata[1]:02d}-%{customdata[2]:02d} %{customdata[3]:02d} KST"
        assert hover in trace["hovertemplate"]
        came = _values(trace["customdata"]).astype(int)
        z = _heatmap_z(trace)
        for lead, month, day, hour in np.unique(came[np.isfinite(z)], axis=0):  # each hour's KST time, as _when's
            assert _when(run, lead) == f"+{lead} h, {month:02d}-{day:02d} {hour:02d} KST"
        return z, np.where(np.isfinite(z), came[..., 0], np.nan)

    def peak_and_hour(hourly: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        known = np.isfinite(hourly).any(axis=0)
        peak = np.where(known, np.nan_to_num(hourly, nan=-1).max(axis=0), np.nan)
        first = (np.nan_to_num(hourly, nan=-1) == peak).argmax(axis=0)
        return peak, np.where(known, np.asarray(leads)[first], np.nan)

    hourly = {"Raw NWP": cat.load_run(run, leads)["tp"].values, "Observed QPE": cat.load_qpe(run, leads).values}
    for name, rain in hourly.items():
        z, hour = shown(f"{name}: wettest hour (mm/h)")
        peak, first = peak_and_hour(rain.astype(np.float32))
        np.testing.assert_array_equal(z, peak.astype(np.float32))
        np.testing.assert_array_equal(hour, first.astype(np.float32))
    assert np.isnan(shown("Observed QPE: wettest hour (mm/h)")[0]).any(), "never observed: left grey"
    if not DEFAULT_WEIGHTS.exists():
        return
    _, out = rain_and_prediction(cat, run, DeferredPredictor(DEFAULT_WEIGHTS))  # the app's cached prediction
    p_heavy = out["event_probability"].sel(threshold=10.0, lead_time=pd.to_timedelta(leads, unit="h")).values
    z, hour = shown("Post-processed: highest P(rain >= 10 mm/h)")
    learnt = np.isfinite(z)
    assert learnt.mean() > 0.3, "the model's map is drawn where it learnt"
    peak, first = peak_and_hour(p_heavy.astype(np.float32))
    np.testing.assert_allclose(z[learnt], 100 * peak[learnt], rtol=1e-5)
    np.testing.assert_array_equal(hour[learnt], first[learnt])
    # the event at any hour of the run, over the hours observed (a forecast at an unobserved hour is not judged)
    tau = at.sidebar.slider[0].value
    table = next(d.value for d in at.dataframe if "area with the event (km²)" in d.value.columns)
    qpe = hourly["Observed QPE"]
    known = cat.verify_mask & np.isfinite(qpe)
    scored = known.any(axis=0)
    o = (known & (np.nan_to_num(qpe) >= 10)).any(axis=0)[scored]
    # its own threshold for a run's heavy-rain footprint, tuned on validation runs, lower than the hourly one
    tuned = read_manifest(DEFAULT_WEIGHTS)["any_hour_probability"]["10"]
    assert at.slider(key="p_any_hour_10").value == tuned < tau
    for any_hour_tau in (tuned, tau):  # or the forecaster's
        if any_hour_tau != tuned:
            at.slider(key="p_any_hour_10").set_value(any_hour_tau).run()
            table = next(d.value for d in at.dataframe if "area with the event (km²)" in d.value.columns)
        # the map outlines where the model's highest P over the run reaches it
        title = "Post-processed: highest P(rain >= 10 mm/h)"
        model_map = next(c for c in map(_chart, at.get("plotly_chart")) if c["layout"]["title"]["text"] == title)
        (line,) = [t for t in model_map["data"] if t.get("name") == f"P >= {any_hour_tau:.2f} at some hour"]
        reached = (p_heavy.max(axis=0) >= any_hour_tau) & learnt  # where the model learnt, as the map shows it
        wanted = maps.outline(reached, cat.grid.lat, cat.grid.lon, "")
        assert _values(line["x"]).size > 0, "the demo run has heavy rain to outline"
        np.testing.assert_array_equal(_values(line["x"]), np.asarray(wanted.x))
        np.testing.assert_array_equal(_values(line["y"]), np.asarray(wanted.y))
        model = p_heavy >= any_hour_tau
        for name, f in (("Raw NWP", hourly["Raw NWP"] >= 10), ("Post-processed", model)):
            f = (known & f).any(axis=0)[scored]
            row = table.loc[name]
            assert row["area with the event (km²)"] == 25 * f.sum() and row["hits (km²)"] == 25 * (f & o).sum()
            assert row["CSI"] == pytest.approx((f & o).sum() / (f | o).sum())
            assert row["bias"] == pytest.approx(f.sum() / o.sum())
    assert table.loc["Observed QPE", "area with the event (km²)"] == 25 * o.sum() > 0
    assert at.sidebar.slider[0].value == tau, "the hourly threshold stays"


def test_the_place_chart_adds_the_earlier_runs_forecasts_of_the_same_hours(env: Path):
    """Run to run: the run before this one, its raw NWP and its model P of the same valid times in the place's cell,
    dashed beside this run's (daily runs: its lead times 25-48 h under this run's 1-24 h; none after). The first
    run has no earlier one, and says so."""
    from engine.cache import rain_and_prediction
    from engine.grid import KOREA
    from engine.model.manifest import DEFAULT_WEIGHTS
    from engine.places import PLACES, nearest_cell
    from engine.prediction import DeferredPredictor

    at, _ = _viewer_on(WARNING_RUN)
    at.toggle(key="place_earlier").set_value(True).run()
    assert not at.exception, at.exception
    earlier = "2026070100"
    chart = next(c for c in map(_chart, at.get("plotly_chart")) if c["layout"]["title"]["text"].startswith("Seoul"))
    traces = {t["name"]: t for t in chart["data"]}
    iy, ix = nearest_cell(KOREA.lat, KOREA.lon, next(p for p in PLACES if p.name == "Seoul"))
    cat = Catalog(env)
    leads = list(range(25, 49))
    expected = {"raw NWP": cat.load_run(earlier, leads, channels=("tp",))["tp"].values[:, iy, ix]}
    if DEFAULT_WEIGHTS.exists():
        _, out = rain_and_prediction(cat, earlier, DeferredPredictor(DEFAULT_WEIGHTS))
        p = out["event_probability"].sel(threshold=10.0, lead_time=pd.to_timedelta(leads, unit="h"))
        expected["model P(>= 10 mm/h)"] = p.values[:, iy, ix]
    for name, values in expected.items():
        drawn = _values(traces[f"{name}, run {earlier}"]["y"])
        np.testing.assert_allclose(drawn[:24], values, rtol=1e-6)
        assert np.isnan(drawn[24:]).all(), "the earlier run forecasts none of the hours after +24 h"
    at.selectbox(key="run").set_value(earlier).run()
    assert at.toggle(key="place_earlier").value
    assert "No earlier run in the data folder." in [c.value for c in at.caption]


def test_any_point_typed_or_linked_gets_its_chart_and_a_bad_one_is_said(env: Path):
    """A forecaster's own point (an airport, a dam): typed as "lat, lon" it joins the list, the link and the
    maps, with its grid cell's hours; a point off the grid or a word that is no place is said, and the chart stays."""
    at = AppTest.from_file(MAIN, default_timeout=300)
    at.query_params.update({"place": "Busan"})
    at.run()

    def place_chart():
        return next(c for c in map(_chart, at.get("plotly_chart")) if c["layout"]["title"]["text"].endswith(" UTC"))

    busan = {t["name"]: _values(t["y"]) for t in place_chart()["data"]}
    at.text_input(key="point").input("35.10, 129.03").run()  # Busan's station: the same cell
    assert not at.exception and not at.error
    assert at.selectbox(key="place").value == "35.10N 129.03E" == at.query_params["place"]
    assert "Busan" in at.selectbox(key="place").options, "the cities stay in the list"
    chart = place_chart()
    assert chart["layout"]["title"]["text"].startswith("35.10N 129.03E, run ")
    for t in chart["data"]:
        np.testing.assert_array_equal(_values(t["y"]), busan[t["name"]])
    ring = [t for t in _chart(at.get("plotly_chart")[0])["data"] if t.get("name") == "35.10N 129.03E"]
    assert len(ring) == 1, "the maps ring the point"
    for text, said in (
        ("50, 150", "50.00°N 150.00°E (2159 km NE of Gangneung) lies outside this run's grid"),
        ("Atlantis", "unknown place"),
    ):
        at.text_input(key="point").input(text).run()
        assert not at.exception and any(said in e.value for e in at.error), [e.value for e in at.error]
        assert at.selectbox(key="place").value == "35.10N 129.03E", "a bad point loses nothing"
    linked = AppTest.from_file(MAIN, default_timeout=300)
    linked.query_params.update({"place": "33.51,126.53"})
    linked.run()
    assert linked.selectbox(key="place").value == "33.51N 126.53E" and not linked.error


def test_query_parameters_open_a_case(env: Path):
    at = AppTest.from_file(MAIN, default_timeout=180)
    at.query_params.update({"run": "2026070100", "lead": "12", "threshold": "0.1"})
    at.run()
    header = next(c.value for c in at.caption if c.value.startswith("Run "))
    assert "Run 2026070100" in header and "lead 12 h" in header
    assert at.select_slider(key="threshold").value == 0.1


def test_a_forecaster_who_looks_at_other_pages_comes_back_to_the_case_they_left(env: Path):
    """Streamlit forgets a widget's value once a page that does not draw it runs: the viewer came back on the first
    run at lead 27 after a look at the verification page. Now the case, the view and the thresholds hold, and the
    verification page scores the event threshold and probability threshold the viewer was set to."""
    at = AppTest.from_file(MAIN, default_timeout=300).run()
    at.selectbox(key="run").set_value("2026070200").run()
    at.select_slider(key="lead").set_value(12).run()
    at.select_slider(key="threshold").set_value(0.1).run()
    at.slider(key="p_threshold_0.1").set_value(0.55).run()
    at.radio(key="model_view").set_value("most likely class").run()
    at.selectbox(key="place").set_value("Busan").run()
    case = next(c.value for c in at.caption if c.value.startswith("Run "))
    assert "Run 2026070200 UTC · lead 12 h" in case

    at.switch_page("views/verification.py").run()
    assert not at.exception, at.exception
    assert at.select_slider(key="threshold").value == 0.1
    assert at.slider(key="p_threshold_0.1").value == 0.55
    assert "at 0.1 mm/h" in at.subheader[0].value
    at.slider(key="lead_window").set_value((25, 48)).run()
    at.switch_page("views/case_library.py").run()
    assert at.select_slider(key="threshold").value == 0.1

    at.switch_page("views/case_viewer.py").run()
    assert not at.exception, at.exception
    assert next(c.value for c in at.caption if c.value.startswith("Run ")) == case
    assert at.slider(key="p_threshold_0.1").value == 0.55
    assert at.radio(key="model_view").value == "most likely class"
    assert at.selectbox(key="place").value == "Busan"
    at.select_slider(key="threshold").set_value(10.0).run()  # each event keeps its own probability threshold
    assert at.slider(key="p_threshold_10").value != 0.55
    at.switch_page("views/verification.py").run()
    assert at.slider(key="lead_window").value == (25, 48)


def test_play_ends_when_the_forecaster_opens_another_page(env: Path):
    """Play steps the maps on by itself; a look at another page ends it, so the viewer, back, stands on the lead
    time Play had reached until Play is pressed again."""
    at = AppTest.from_file(MAIN, default_timeout=300).run()
    assert at.button(key="play").label == "▶ Play"
    start = at.select_slider(key="lead").value
    at.button(key="play").click().run()
    assert not at.exception, at.exception
    assert at.button(key="play").label == "⏸ Pause"
    reached = at.select_slider(key="lead").value
    assert reached == start + 1, "Play's first step is at once"
    at.switch_page("views/case_library.py").run()
    at.switch_page("views/case_viewer.py").run()
    assert not at.exception, at.exception
    assert at.button(key="play").label == "▶ Play"
    assert at.select_slider(key="lead").value == reached


def test_the_verification_page_reads_each_run_once(env: Path, runs_read: list[str]):
    """A season of runs outgrows the cache of read runs (8), so each pass over the runs reads them all again: the
    page scored tables, maps and probabilities in three passes, three reads of every run on a first view. One pass
    now, and the lead-time window comes from the file listing, not from reading the runs. Each run's share is kept:
    a file that arrives or is redone reads its run again, not the season."""
    at = _page("verification")
    at.session_state["p_threshold_10"] = 0.42  # settings no other test scores: the page's caches are process-wide
    at.run()
    assert not at.exception, at.exception
    runs = Catalog(env).runs()
    assert sorted(runs_read) == sorted(runs), runs_read
    at.slider(key="lead_window").set_value((13, 37)).run()  # a new window: one more pass, not two
    assert sorted(runs_read) == sorted(runs * 2), runs_read
    _redone(env, "2026070105")  # valid 07-01 05 UTC, the first run's lead 5 only: that run is read again, no other
    at.run()
    assert not at.exception, at.exception
    assert sorted(runs_read) == sorted(runs * 2 + [runs[0]]), runs_read


def test_the_verification_page_gives_the_figures_engine_verify_prints(env: Path):
    """Every run's hours and the event at any hour of each run, for the raw NWP and for the model at its tuned
    probability thresholds (the hour's and the run's): what the page shows, `python -m engine verify` prints; and
    at the forecaster's any-hour threshold, what it prints with --any-hour-probability."""
    from engine.model.manifest import DEFAULT_WEIGHTS
    from engine.verify.report import score_folder

    page = _page("verification").run()
    assert not page.exception, page.exception
    table = page.dataframe[0].value
    sources = {"raw NWP": "nwp", **({"model": "model"} if DEFAULT_WEIGHTS.exists() else {})}
    for name, src in sources.items():
        result = score_folder(Catalog(env), src, thresholds=[10.0], n_resamples=10)
        (hours,) = [r for r in result["scores"] if r["lead_time"] is None]
        (any_hour,) = result["any_hour"]
        row = table.loc[name]
        assert row["CSI"] == pytest.approx(hours["csi"], abs=1e-6) and row["BIAS"] == pytest.approx(hours["bias"])
        assert row["CSI any hour"] == pytest.approx(any_hour["csi"], abs=1e-6), name
        assert row["bias any hour"] == pytest.approx(any_hour["bias"], abs=1e-6), name
    if "model" not in sources:
        return
    assert page.sidebar.slider(key="p_any_hour_10").value == result["any_hour_probability"]["10"]
    page.sidebar.slider(key="p_any_hour_10").set_value(0.3).run()
    (any_hour,) = score_folder(Catalog(env), "model", thresholds=[10.0], n_resamples=10, any_hour_probability=0.3)[
        "any_hour"
    ]
    row = page.dataframe[0].value.loc["model"]
    assert row["CSI any hour"] == pytest.approx(any_hour["csi"], abs=1e-6)
    assert row["bias any hour"] == pytest.approx(any_hour["bias"], abs=1e-6)
    assert row["CSI"] == pytest.approx(hours["csi"], abs=1e-6), "the hourly scores stay"


def test_the_case_library_reads_again_only_the_run_whose_files_changed(env: Path, runs_read: list[str]):
    """A run that arrives or a QPE hour redone re-ranks the library from that run alone (it read the season)."""
    _redone(env, "2026070210")  # both runs' (leads 34 and 9): what other tests left in the process-wide caches is stale
    at = _page("case_library").run()
    assert not at.exception, at.exception
    runs = Catalog(env).runs()
    assert sorted(runs_read) == sorted(runs), runs_read
    _redone(env, "2026070304")  # valid 07-03 04 UTC: the second run's lead 27 only
    at.run()
    assert not at.exception, at.exception
    assert sorted(runs_read) == sorted([*runs, runs[1]]), runs_read


def test_each_forecast_source_has_one_name_and_colour_on_every_chart(env: Path):
    """Raw NWP and the model read alike on every curve, diagram and band of the viewer and the verification page,
    so a forecaster never has to re-learn the legend (they had a different colour on each chart)."""
    from app.maps import SOURCES, translucent
    from engine.model.manifest import DEFAULT_WEIGHTS

    seen: dict[str, int] = {src: 0 for src in SOURCES}
    for page in ("case_viewer", "verification"):
        at = _page(page).run()
        assert not at.exception, at.exception
        for chart in map(_chart, at.get("plotly_chart")):
            drawn = set()
            for trace in chart["data"]:
                src = trace.get("legendgroup")
                if src not in SOURCES:
                    continue
                name, colour = SOURCES[src]
                drawn.add(src)
                assert trace["name"].startswith(name), (chart["layout"]["title"]["text"], trace["name"])
                if trace.get("fill"):
                    assert trace["fillcolor"] == translucent(colour)
                else:
                    assert trace["marker"]["color"] == colour and trace["line"]["color"] == colour
            for src in drawn:
                seen[src] += 1
    model_charts = 2 + 3 if DEFAULT_WEIGHTS.exists() else 0  # two lead curves; performance, reliability, ROC
    model_charts = model_charts + 1 if model_charts else 0  # and the place chart's probability
    assert seen["nwp"] == 5 and seen["model"] == model_charts, seen


def _arriving(demo_archive: Path, folder: Path, keep: dict[str, list[int]]) -> Path:
    """A data folder whose runs hold only the lead times in ``keep`` (links to the demo files): runs still arriving,
    or missing a file."""
    for run, leads in keep.items():
        (folder / "nwp" / run).mkdir(parents=True)
        for lead in leads:
            name = f"nwp_{run}_f{lead:03d}.grib2"
            (folder / "nwp" / run / name).symlink_to(demo_archive / "nwp" / run / name)
    (folder / "qpe").symlink_to(demo_archive / "qpe")
    return folder


def test_runs_still_arriving_open_and_score(
    demo_archive: Path, tmp_path: Path, prediction_cache: Path, monkeypatch: pytest.MonkeyPatch
):
    """A run with one lead time so far, or with a gap (a missing file), opens in the viewer, steps over the gap,
    and the verification page sums exactly the lead times each run has (these crashed the pages)."""
    monkeypatch.setenv("PRECIP_CACHE", str(prediction_cache))
    keep = {"2026070100": list(range(49)), "2026070200": [0, 1, 2, 5]}
    monkeypatch.setenv("PRECIP_DATA", str(_arriving(demo_archive, tmp_path / "gaps", keep)))
    at = AppTest.from_file(MAIN, default_timeout=300)
    at.query_params.update({"run": "2026070100", "lead": "27"})
    at.run()
    at.selectbox(key="run").set_value("2026070200").run()
    assert not at.exception, at.exception
    assert at.select_slider(key="lead").options == ["1", "2", "5"]
    assert at.select_slider(key="lead").value == 5, "the lead time nearest the one shown before"
    for button, lead in (("lead_back", 2), ("lead_back", 1), ("lead_back", 1), ("lead_forward", 2)):
        at.button(key=button).click().run()
        assert not at.exception, at.exception
        assert at.select_slider(key="lead").value == lead
    page = _page("verification").run()
    assert not page.exception, page.exception
    cat, summed = Catalog(demo_archive), None
    for run, leads in keep.items():
        leads = leads[1:]  # lead 0 is not scored
        t = contingency_table(
            cat.load_run(run, leads)["tp"].values, cat.load_qpe(run, leads).values, 10.0, cat.grid.qpe_mask
        )
        summed = t if summed is None else {k: summed[k] + t[k] for k in t}
    assert page.dataframe[0].value.loc["raw NWP", "BIAS"] == pytest.approx(categorical_scores(summed)["bias"])

    monkeypatch.setenv("PRECIP_DATA", str(_arriving(demo_archive, tmp_path / "first_hour", {"2026070100": [0, 1]})))
    for page in ("case_viewer", "verification", "case_library"):
        at = _page(page).run()
        assert not at.exception and not at.error, (page, at.exception)


def test_hours_without_qpe_are_said_not_scored_as_dry(
    demo_archive: Path, tmp_path: Path, prediction_cache: Path, monkeypatch: pytest.MonkeyPatch
):
    """A radar outage (QPE files missing for some hours) is named in the viewer, not shown as an empty map with
    zero observed events as if it had not rained."""
    folder = tmp_path / "outage"
    (folder / "qpe").mkdir(parents=True)
    (folder / "nwp").symlink_to(demo_archive / "nwp")
    gone = {f"qpe_20260701{h:02d}.nc" for h in range(1, 6)}  # valid at leads 1-5 of run 2026070100
    dry = "qpe_2026070106.nc"  # a first estimate, redone in place later
    for f in (demo_archive / "qpe").iterdir():
        if f.name not in gone | {dry}:
            (folder / "qpe" / f.name).symlink_to(f)
    with xr.open_dataset(demo_archive / "qpe" / dry) as ds:
        (ds * 0.0).to_netcdf(folder / "qpe" / dry)
    monkeypatch.setenv("PRECIP_DATA", str(folder))
    monkeypatch.setenv("PRECIP_CACHE", str(prediction_cache))
    at = AppTest.from_file(MAIN, default_timeout=300)
    at.query_params.update({"run": "2026070100", "lead": "3"})
    at.run()
    assert not at.exception, at.exception
    assert any(w.value.startswith("No observed QPE at this lead time (valid 2026-07-01 03 UTC") for w in at.warning)
    assert any("QPE missing at 5 of 48 lead times (1-5 h)" in c.value for c in at.caption)
    assert np.isnan(_table(at).loc["CSI", "NWP (lead)"]), "undefined, not a score of a dry hour"
    at.select_slider(key="lead").set_value(6).run()
    assert not any(w.value.startswith("No observed QPE") for w in at.warning)
    # over all runs: the verification page counts the missing run-hours, the case library each run's observed hours
    hours = sum(len([lt for lt in Catalog(folder).lead_times(r) if lt > 0]) for r in Catalog(folder).runs())
    page = _page("verification").run()
    assert any(f"QPE missing at 5 of {hours} run-hours" in c.value for c in page.caption)
    library = _page("case_library").run()
    assert library.dataframe[0].value.set_index("run").loc["2026070100", "QPE hours"] == "43/48"
    # the hour arrives while the app runs: the next look shows it (the caches are keyed by the files' state)
    (folder / "qpe" / "qpe_2026070103.nc").symlink_to(demo_archive / "qpe" / "qpe_2026070103.nc")
    at.select_slider(key="lead").set_value(3).run()
    assert not any(w.value.startswith("No observed QPE") for w in at.warning)
    assert any("QPE missing at 4 of 48 lead times (1-2, 4-5 h)" in c.value for c in at.caption)
    assert _table(at).loc["CSI", "NWP (lead)"] >= 0
    library.run()
    assert library.dataframe[0].value.set_index("run").loc["2026070100", "QPE hours"] == "44/48"
    # an hour's QPE redone in place (not by rename: the folder's time stays): the next look shows the new estimate
    at.select_slider(key="lead").set_value(6).run()
    assert any("Observed events this lead: 0 px" in c.value for c in at.caption)
    qpe_dir = (folder / "qpe").stat()
    shutil.copyfile(demo_archive / "qpe" / dry, folder / "qpe" / dry)
    os.utime(folder / "qpe", ns=(qpe_dir.st_atime_ns, qpe_dir.st_mtime_ns))
    at.select_slider(key="lead").set_value(7).run()
    at.select_slider(key="lead").set_value(6).run()
    assert not any("Observed events this lead: 0 px" in c.value for c in at.caption), "the first estimate kept"
    # no observations at all (an empty qpe/ folder): said, not scored as forty-eight dry hours
    for f in (folder / "qpe").iterdir():
        f.unlink()
    page = _page("verification").run()
    assert not page.exception and not page.dataframe
    assert page.warning[0].value.startswith("No valid observed QPE for any run at lead times 1-48 h")
    library = _page("case_library").run()
    table = library.dataframe[0].value
    assert (table["peak valid time"] == "no QPE").all() and table.filter(like="area").isna().all().all()


@pytest.mark.parametrize("page", ["verification", "case_library", "model_card"])
def test_every_page_renders(env: Path, page: str):
    at = _page(page).run()
    assert not at.exception, at.exception
    assert not at.error
    assert all(d.proto.placeholder == "–" for d in at.dataframe), "an undefined score reads '–', not 'None'"
    if page == "verification":
        table = at.dataframe[0].value
        assert 0 <= table.loc["raw NWP", "CSI"] <= 1
        from engine.model.manifest import DEFAULT_WEIGHTS

        if DEFAULT_WEIGHTS.exists():  # the decisions scored in the table are points on the ROC plane
            charts = map(_chart, at.get("plotly_chart"))
            roc = next(c for c in charts if c["layout"]["title"]["text"].startswith("ROC"))
            point = next(t for t in roc["data"] if t.get("name", "").startswith("model at P >="))
            assert point["y"][0] == pytest.approx(table.loc["model", "POD"])
            assert 0 < point["x"][0] < 0.05, "a heavy-rain decision sits far left, where the log axis shows it"
            assert roc["layout"]["xaxis"]["type"] == "log"
        at.sidebar.select_slider[0].set_value(0.1).run()
        assert at.dataframe[0].value.loc["raw NWP", "CSI"] > table.loc["raw NWP", "CSI"]
        # a lead-time window: the table counts those lead times of every run, no others
        at.sidebar.slider(key="lead_window").set_value((25, 30)).run()
        cat, leads = Catalog(env), list(range(25, 31))
        summed = None
        for run in cat.runs():
            nwp, qpe = cat.load_run(run, leads)["tp"].values, cat.load_qpe(run, leads).values
            t = contingency_table(nwp, qpe, 0.1, cat.grid.qpe_mask)
            summed = t if summed is None else {k: summed[k] + t[k] for k in t}
        day2 = at.dataframe[0].value.loc["raw NWP"]
        assert day2["CSI"] == pytest.approx(categorical_scores(summed)["csi"])
        assert day2["BIAS"] == pytest.approx(categorical_scores(summed)["bias"])
        assert any("lead times 25-30 h" in h.value for h in at.subheader)
        # the maps of where: each pixel's counts over the same runs and lead times add up to the table's
        charts = {c["layout"]["title"]["text"]: c for c in map(_chart, at.get("plotly_chart"))}
        observed = _heatmap_z(charts["Observed event hours"]["data"][0])
        nwp_balance = _heatmap_z(charts["raw NWP: forecast − observed hours"]["data"][0])
        assert np.nansum(observed) == summed["hits"] + summed["misses"]
        assert np.nansum(nwp_balance) == summed["false_alarms"] - summed["misses"]
        assert np.isnan(observed[~cat.grid.qpe_mask]).all(), "nothing is counted beyond the QPE coverage"
        scored = np.flatnonzero(np.isfinite(nwp_balance.ravel()))
        assert len(scored) and (nwp_balance.ravel()[scored] != 0).any(), "the map shows where, not only zeros"
        # by city: a 25 km box around the station, counted over the same runs and lead times
        from engine.places import PLACES, nearest_cell

        cities = next(d.value for d in at.dataframe if "city" in d.value.columns).set_index("city")
        assert list(cities["observed (px h)"]) == sorted(cities["observed (px h)"], reverse=True)
        iy, ix = nearest_cell(cat.grid.lat, cat.grid.lon, next(p for p in PLACES if p.name == "Busan"))
        box = np.zeros(cat.grid.shape, bool)
        box[iy - 2 : iy + 3, ix - 2 : ix + 3] = True
        near = None
        for run in cat.runs():
            nwp, qpe = cat.load_run(run, leads)["tp"].values, cat.load_qpe(run, leads).values
            t = contingency_table(nwp, qpe, 0.1, cat.grid.qpe_mask & box)
            near = t if near is None else {k: near[k] + t[k] for k in t}
        busan = cities.loc["Busan"]
        assert busan["observed (px h)"] == near["hits"] + near["misses"] > 0
        assert busan["raw NWP CSI"] == pytest.approx(categorical_scores(near)["csi"])
        assert busan["open"] == "/?place=Busan&threshold=0.1"
    if page == "model_card":
        from engine.model.manifest import DEFAULT_WEIGHTS, fair_unet, read_manifest, shipped_method

        manifest = read_manifest(DEFAULT_WEIGHTS)
        metrics = manifest["metrics"]
        provenance = next(m.value for m in at.markdown if "- sha256:" in m.value)
        machine = manifest.get("environment")
        assert (machine is None) == ("trained on: not recorded" in provenance)
        assert machine is None or f"torch {machine['torch']}" in provenance
        assert ("git_uncommitted" in manifest) != ("uncommitted changes not recorded" in provenance)
        headline = at.dataframe[0].value.set_index(["data", "forecast"])
        model = headline.loc[("test runs (training season)", "post-processed")]
        assert model["CSI 10 mm/h"] == round(metrics["test"]["csi_10"], 3)
        ratio = metrics["test"]["csi_10"] / metrics["raw_nwp_test"]["csi_10"]
        assert model["CSI 10 mm/h vs raw NWP"] == f"{ratio:.1f}x"
        # every score reads to three decimals (the table showed 0.05 beside 0.352)
        shown = json.loads(at.dataframe[0].proto.columns)
        scores = [c for c in headline.columns if c != "CSI 10 mm/h vs raw NWP"]
        assert {c: shown[c]["type_config"]["format"] for c in scores} == dict.fromkeys(scores, "%.3f")
        # the baselines table comes from the results README, and the limits say what it shows
        spread = next(d.value for d in at.dataframe if "CSI 10 mean" in d.value.columns)
        calibration = next(d.value for d in at.dataframe if "mean P, calibrated" in d.value.columns)
        assert (calibration["reliability, calibrated"] < calibration["reliability, raw"]).all()
        # the run's event at its own threshold, named with it, beside the raw NWP and the hourly threshold
        run_wide = next(d.value for d in at.dataframe if "CSI 95% interval" in d.value.columns)
        heavy = run_wide[run_wide["event"] == ">= 10 mm/h"].set_index(["data", "forecast"])["CSI"]
        tuned = manifest["any_hour_probability"]["10"]
        held_out = metrics["any_hour"]["heldout_seed2024"]["10"]
        where = "held-out archive (a generator seed never trained on)"
        assert heavy[(where, f"model, P >= {tuned:.2f} (any-hour threshold)")] == held_out["model_any_hour"]["csi"]
        assert heavy[(where, "raw NWP")] == held_out["raw_nwp"]["csi"]
        ship = shipped_method(manifest)
        # against the U-Net trained as the shipped network where the table has one (the fair pair)
        fair = "U-Net, trained as the shipped network"
        unet = float(spread.loc[fair if fair in spread.index else "U-Net from scratch", "CSI 10 mean"])
        ours = float(spread.loc["this network, pre-trained (shipped)", "CSI 10 mean"])
        assert (ship != "pretrained_continuous") == ("this network, pre-trained, crops only" in spread.index)
        assert (ship != "pretrained_continuous") == ("more epochs on the whole" in at.markdown[0].value)
        # the method text reads the shipped network's own manifest: its patch size and masking ratio
        patch, masked = manifest["model_config"]["patch"], manifest["method"]["pretrain_mask_ratio"]
        assert (patch != 16) == (f"{patch}-pixel patches (the paper 16)" in at.markdown[0].value)
        assert f"{masked:.0%} masked in the shipped model" in at.markdown[0].value
        limits = at.markdown[-1].value
        held = metrics["heldout_seed2024"]["bias_10"]  # the area bias names the sample it was measured on
        runs = manifest["training_config"]["heldout_runs"]
        assert (held > 1.25) == (f"held-out archive ({runs} runs" in limits)
        assert ("Not better than a U-Net at heavy rain" in limits) == (ours < unet + 0.01)
        assert ours >= unet + 0.01 or f"{ours:.3f} over seeds against {unet:.3f}" in limits
        probabilities = ROOT.parent / "training" / "results" / "probabilities.json"
        if probabilities.exists() and ours < unet + 0.01:  # the threshold-free side, with its bootstrap interval
            result = json.loads(probabilities.read_text())
            baseline = fair_unet(ship) if fair in spread.index else "unet"
            wanted = (ship, baseline, "test", 10.0)
            key = ("a", "b", "dataset", "threshold")
            c = next((c for c in result["comparisons"] if tuple(c[k] for k in key) == wanted), None)
            assert (c is not None) == ("ROC area" in limits)  # only where `probabilities` scored the shipped method
            if c is not None:
                assert f"ROC area {c['difference']:+.3f} ({c['low']:+.3f} to {c['high']:+.3f}" in limits
                h = next(
                    c["hindsight"] for c in result["thresholds"]["comparisons"] if tuple(c[k] for k in key) == wanted
                )
                assert (f"best threshold in hindsight its CSI at 10 mm/h is {h['difference']:+.3f}" in limits) == (
                    h["low"] <= 0
                )
    if page == "case_library":
        table = at.dataframe[0].value
        assert list(table["run"]) and all(link.startswith("/?run=") for link in table["open"])
        areas = table["area >= 10 mm/h, peak (km²)"].to_numpy()
        assert np.all(np.diff(areas) <= 0)
        ranks = ["area >= 10 mm/h, peak (km²)", "model gain", "model misses (km² h)"]
        assert set(ranks) <= set(table.columns[:8]), "what the table ranks by is shown before the columns that scroll"
        at.radio[0].set_value("worst model misses").run()
        at.sidebar.select_slider[0].set_value(0.1).run()  # the columns name the event they count, in km²
        light = at.dataframe[0].value
        assert "area >= 0.1 mm/h, peak (km²)" in light and not light.filter(like="10 mm/h").columns.size
        missed = light["model misses (km² h)"].to_numpy()
        assert np.all(np.diff(missed) <= 0) and np.all(missed % 25 == 0)
        heavy = table.set_index("run")["area >= 10 mm/h, peak (km²)"]
        rain = light.set_index("run")["area >= 0.1 mm/h, peak (km²)"]
        assert (rain >= heavy.loc[rain.index]).all(), "a run has more rain than heavy rain"
        for run, lead, valid in table[["run", "peak lead (h)", "peak valid time"]].itertuples(index=False):
            utc = pd.to_datetime(run, format="%Y%m%d%H") + pd.Timedelta(hours=int(lead))
            kst = utc + pd.Timedelta(hours=9)
            assert valid == f"{utc:%Y-%m-%d %H} UTC / {kst:%Y-%m-%d %H} KST"
        # the heaviest observed hour of each run, and its link charts that pixel
        from engine.places import PLACES

        cat = Catalog(env)
        for run, mm in table[["run", "heaviest QPE (mm/h)"]].itertuples(index=False):
            qpe = cat.load_qpe(run, [lt for lt in cat.lead_times(run) if lt > 0]).values
            assert mm == pytest.approx(np.nanmax(np.where(cat.grid.qpe_mask, qpe, np.nan)))
        top = table.iloc[0]
        assert top["heaviest at"].endswith(tuple(p.name for p in PLACES)), top["heaviest at"]
        viewer = AppTest.from_file(MAIN, default_timeout=300)
        viewer.query_params.update(dict(pair.split("=") for pair in top["open"][2:].split("&")))
        viewer.run()
        chart = next(c for c in map(_chart, viewer.get("plotly_chart")) if c["layout"]["title"]["text"].endswith("UTC"))
        bars = next(t for t in chart["data"] if t["name"] == "observed QPE")
        assert np.nanmax(_values(bars["y"])) == pytest.approx(top["heaviest QPE (mm/h)"], rel=1e-6)


def test_a_citys_interval_says_whether_its_runs_tell_the_model_from_nwp():
    """The city table's Δ CSI interval (paired bootstrap over runs): above 0 where the model beat raw NWP in every
    run, exactly 0 where the two forecast alike, and left empty where only one run had the event at all."""
    from app.where import add_run, city_boxes, city_table

    lat, lon = np.arange(33.0, 38.6, 0.05), np.arange(125.0, 130.0, 0.05)
    boxes = city_boxes(lat, lon)
    counts: dict = {}
    for run in range(5):
        tables = {src: {k: np.zeros((lat.size, lon.size), np.int64) for k in TABLE_KEYS} for src in ("nwp", "model")}
        y, x = boxes["Seoul"]  # the model hits what NWP misses, by varying margins
        tables["model"]["hits"][y, x], tables["model"]["misses"][y, x] = 3, 1
        tables["nwp"]["hits"][y, x], tables["nwp"]["misses"][y, x] = run % 3, 4 - run % 3
        y, x = boxes["Busan"]  # alike
        for src in tables:
            tables[src]["hits"][y, x], tables[src]["false_alarms"][y, x] = 2 + run, 1
        if run == 0:  # one run's rain in Jeju
            y, x = boxes["Jeju"]
            tables["model"]["hits"][y, x], tables["nwp"]["misses"][y, x] = 1, 1
        for src, t in tables.items():
            add_run(counts, src, t, lat, lon)
    table = city_table(counts, 10.0).set_index("city")
    low, high = (float(v) for v in table.loc["Seoul", "Δ CSI 95 %"].split(" to "))
    assert 0 < low <= table.loc["Seoul", "Δ CSI"] <= high
    assert table.loc["Busan", "Δ CSI 95 %"] == "+0.00 to +0.00"
    assert table.loc["Jeju", "Δ CSI"] == 1.0 and pd.isna(table.loc["Jeju", "Δ CSI 95 %"])  # shown as –
    assert table.loc["Seoul", "observed (px h)"] == 5 * 4 * 25


def test_bad_data_folder_is_a_message_not_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PRECIP_DATA", str(tmp_path / "nowhere"))
    at = AppTest.from_file(MAIN, default_timeout=60).run()
    assert not at.exception
    assert "does not exist" in at.error[0].value


def test_data_source_selector_reads_a_komet_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from test_komet import RUN, _write_komet

    from engine.data.sources import source_names

    _write_komet(tmp_path / "komet", leads=(0, 1, 2, 3))
    monkeypatch.setenv("PRECIP_DATA", str(tmp_path / "komet"))
    monkeypatch.setenv("PRECIP_CACHE", str(tmp_path / "cache"))
    at = AppTest.from_file(MAIN, default_timeout=180).run()
    assert not at.exception and not at.error
    assert at.selectbox(key="nwp_source").options == ["auto", *source_names("nwp")]
    assert at.selectbox(key="qpe_source").options == ["auto", *source_names("qpe")]
    assert any("`komet`" in c.value and "`komet-aws`" in c.value for c in at.caption)
    assert at.selectbox(key="run").value == RUN
    header = next(c.value for c in at.caption if c.value.startswith("Run "))
    assert "2021-07-01 03 UTC / 2021-07-01 12 KST" in header  # the last lead (3 h) of a short run
    at.selectbox(key="qpe_source").set_value("imerg").run()
    assert not at.exception
    assert "pairs komet with komet-aws" in at.error[0].value


def test_the_server_bench_times_lead_moves_and_sizes_each_chart(env: Path):
    """``python -m app.bench`` (the rerun times and chart sizes in the notes) still drives the viewer."""
    from app import bench

    result = bench.run(moves=2, switches=1)
    assert result["moves"] == 2 and 0 < result["rerun_median_s"] <= result["rerun_max_s"], result
    assert result["run_switches"] == 1 and result["run_switch_median_s"] > 0 and result["first_view_s"] > 0, result
    assert result["charts_kb"]["Raw NWP rain (mm/h)"] > 10, result
    assert result["total_kb"] == sum(result["charts_kb"].values())
    page = bench.page_view("case_library")  # --page: another page's first view and rerun
    assert page["page"] == "case_library" and page["first_view_s"] > 0 and page["rerun_s"] > 0, page
