"""The app's plotly maps draw every pixel where it is, in as few bytes as that takes."""

from collections.abc import Iterable

import numpy as np

from app import maps
from engine.grid import KOREA


def place_on_grid(traces: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> np.ndarray:
    """Each pixel's value as heatmap traces ``(y, x, z)``, each over its own rows and columns, place it on the
    demo's grid (NaN where no trace draws)."""
    out = np.full(KOREA.shape, np.nan, dtype=np.float32)
    lat, lon = KOREA.lat.astype(np.float32), KOREA.lon.astype(np.float32)
    for y, x, z in traces:
        rows, cols = np.searchsorted(lat, y), np.searchsorted(lon, x)
        assert (lat[rows] == y).all() and (lon[cols] == x).all(), "a trace off the grid's cells"
        assert rows.size >= 2 and cols.size >= 2, "a lone row or column: plotly would size its cells wrongly"
        z = np.asarray(z)
        block = out[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        assert np.isnan(block[np.isfinite(z)]).all(), "two traces draw one pixel"
        block[np.isfinite(z)] = z[np.isfinite(z)]
    return out


def test_a_contingency_map_draws_each_category_over_its_own_rows_and_columns_only():
    ny, nx = KOREA.shape
    forecast, observed = np.zeros(KOREA.shape, bool), np.zeros(KOREA.shape, bool)
    observed[0, 0] = forecast[0, 0] = True  # a hit in the corner: one pixel
    observed[80:90, 70:75] = True  # misses in the middle
    forecast[ny - 1, 40] = True  # a false alarm alone on the last row
    valid = np.ones(KOREA.shape, bool)
    valid[:, nx - 30 :] = False  # not scored: no trace draws there
    fig = maps.contingency_map(forecast, observed, valid, KOREA.lat, KOREA.lon, "test")
    expected = np.where(forecast & observed, 1.0, np.where(observed, 2.0, np.where(forecast, 3.0, 0.0)))
    expected[~valid] = np.nan
    drawn = place_on_grid((t.y, t.x, t.z) for t in fig.data if t.type == "heatmap")
    np.testing.assert_array_equal(drawn, expected.astype(np.float32))
    heatmaps = [trace for trace in fig.data if trace.type == "heatmap"]
    sizes = {trace.hovertemplate.split("<br>")[0]: np.asarray(trace.z).size for trace in heatmaps}
    assert sizes["hit"] == 4 and sizes["miss"] == 50 and sizes["false alarm"] == 4
    assert sizes["correct negative"] == ny * (nx - 30), "the scored columns only"


def test_a_map_draws_the_coasts_of_its_own_area_within_a_fifth_of_a_cell():
    """The shipped lines span 119-136 E at 0.004 degrees; a map sends only those near its area, simplified to
    well under a grid cell, and no coast of that area goes missing or moves."""
    from shapely.geometry import LineString, MultiPoint, box
    from shapely.ops import unary_union

    from engine.geo.coastlines import MARGIN_DEG, load_lines, plotly_paths

    lat, lon = KOREA.lat, KOREA.lon
    fig = maps.rain_map(np.zeros(KOREA.shape), lat, lon, "test", "now")
    coast = next(t for t in fig.data if t.type == "scatter" and t.line.color == "#222")
    x, y = np.asarray(coast.x, dtype=float), np.asarray(coast.y, dtype=float)
    drawn = np.isfinite(x)
    near = box(lon[0] - MARGIN_DEG, lat[0] - MARGIN_DEG, lon[-1] + MARGIN_DEG, lat[-1] + MARGIN_DEG)
    points = MultiPoint(np.c_[x[drawn], y[drawn]])
    assert near.buffer(1e-4).contains(points), "float32 rounding aside, nothing beyond the margin"
    every = plotly_paths("coastline")
    assert drawn.sum() < 0.4 * np.isfinite(every[0]).sum(), "not simplified: a third of the points is enough"

    segments = np.split(np.c_[x, y], np.flatnonzero(~drawn))
    lines = [LineString(s[np.isfinite(s[:, 0])]) for s in segments if np.isfinite(s[:, 0]).sum() >= 2]
    simplified = unary_union(lines)
    area = box(lon[0], lat[0], lon[-1], lat[-1])
    shipped = [xy for kind, xy in load_lines() if kind == "coastline"]
    inside = np.concatenate([xy[[area.contains(p) for p in MultiPoint(xy).geoms]] for xy in shipped])
    assert len(inside) > 1000, "the test area holds Korea's coasts"
    worst = max(simplified.distance(p) for p in MultiPoint(inside).geoms)
    assert worst <= 0.2 * KOREA.step + 1e-4, f"a shipped coast point lies {worst:.4f} degrees from the drawn line"


def test_no_map_hovers_on_a_pixel_it_leaves_undrawn():
    """Plotly hovers on a heatmap's gaps by default: a gap of a category trace then took the hover of the category
    under it, and an unobserved pixel read "NaN mm/h". Every map's heatmaps with gaps must turn that off."""
    rng = np.random.default_rng(0)
    rain = rng.gamma(0.3, 3.0, KOREA.shape)
    rain[:20] = np.nan  # unobserved
    code = rng.integers(-1, 3, KOREA.shape)
    lat, lon = KOREA.lat, KOREA.lon
    sums = {3: rain * 3, 12: rain * 12}
    figures = {
        "rain": maps.rain_map(rain, lat, lon, "t", "now"),
        "probability": maps.probability_map(np.where(np.isnan(rain), np.nan, 0.3), lat, lon, "t", "now"),
        "class": maps.class_map(code % 3, lat, lon, "t", "now", learnt=code != -1),
        "contingency": maps.contingency_map(code == 1, code == 2, code >= 0, lat, lon, "t"),
        "levels": maps.level_map(code, sums, lat, lon, "t", np.full(KOREA.shape, "note", dtype=object)),
        "event hours": maps.event_hours_map(np.where(np.isnan(rain), np.nan, 3.0), lat, lon, "t", None, 10, False),
    }
    for name, fig in figures.items():
        for trace in fig.data:
            if trace.type == "heatmap" and trace.hoverinfo != "skip" and np.isnan(np.asarray(trace.z, float)).any():
                assert trace.hoverongaps is False, f"{name} map: a trace hovers on its gaps"


def test_an_outline_runs_along_exactly_the_pixel_edges_between_inside_and_outside():
    """Every edge between a pixel inside and one outside (or the grid's border) is drawn once, and no other."""
    rng = np.random.default_rng(5)
    where = rng.random(KOREA.shape) < 0.15
    where[:3] = True  # reaching the grid's border
    trace = maps.outline(where, KOREA.lat, KOREA.lon, "P >= 0.06")
    x, y = np.asarray(trace.x, dtype=np.float64), np.asarray(trace.y, dtype=np.float64)
    lat0, lon0 = float(KOREA.lat[0]), float(KOREA.lon[0])
    dy, dx = float(KOREA.lat[1] - KOREA.lat[0]), float(KOREA.lon[1] - KOREA.lon[0])
    rows, cols = KOREA.shape
    drawn_h, drawn_v = np.zeros((rows + 1, cols), bool), np.zeros((rows, cols + 1), bool)
    for (x0, x1), (y0, y1) in zip(x.reshape(-1, 3)[:, :2], y.reshape(-1, 3)[:, :2], strict=True):
        if y0 == y1:  # along a row boundary: the pixels of its columns
            k, a, b = (round((v - o) / d + 0.5) for v, o, d in ((y0, lat0, dy), (x0, lon0, dx), (x1, lon0, dx)))
            assert not drawn_h[k, a:b].any(), "an edge drawn twice"
            drawn_h[k, a:b] = True
        else:
            assert x0 == x1
            k, a, b = (round((v - o) / d + 0.5) for v, o, d in ((x0, lon0, dx), (y0, lat0, dy), (y1, lat0, dy)))
            assert not drawn_v[a:b, k].any(), "an edge drawn twice"
            drawn_v[a:b, k] = True
    padded = np.pad(where, 1)
    np.testing.assert_array_equal(drawn_h, padded[1:, 1:-1] != padded[:-1, 1:-1])
    np.testing.assert_array_equal(drawn_v, padded[1:-1, 1:] != padded[1:-1, :-1])
    assert x.size < 3 * (drawn_h.sum() + drawn_v.sum()), "runs of edges are merged into one line each"
    assert trace.hoverinfo == "skip" and trace.name == "P >= 0.06"
