"""The app's plotly maps draw every pixel where it is, in as few bytes as that takes."""

import numpy as np

from app import maps
from engine.grid import KOREA


def _drawn_codes(fig) -> np.ndarray:
    """Each pixel's category as the figure's heatmap traces place it on the grid (NaN where no trace draws)."""
    out = np.full(KOREA.shape, np.nan)
    lat, lon = KOREA.lat.astype(np.float32), KOREA.lon.astype(np.float32)
    for trace in (t for t in fig.data if t.type == "heatmap"):
        rows, cols = np.searchsorted(lat, trace.y), np.searchsorted(lon, trace.x)
        assert (lat[rows] == trace.y).all() and (lon[cols] == trace.x).all(), "a trace off the grid's cells"
        assert rows.size >= 2 and cols.size >= 2, "a lone row or column: plotly would size its cells wrongly"
        z = np.asarray(trace.z)
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
    np.testing.assert_array_equal(_drawn_codes(fig), expected)
    heatmaps = [trace for trace in fig.data if trace.type == "heatmap"]
    sizes = {trace.hovertemplate.split("<br>")[0]: np.asarray(trace.z).size for trace in heatmaps}
    assert sizes["hit"] == 4 and sizes["miss"] == 50 and sizes["false alarm"] == 4
    assert sizes["correct negative"] == ny * (nx - 30), "the scored columns only"
