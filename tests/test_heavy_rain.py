"""Rain sums at a place against KMA's heavy-rain advisory and warning criteria."""

import numpy as np

from engine.heavy_rain import kma_level, max_accumulation, peak_hour

LEADS = list(range(1, 25))


def _series(**hours: float) -> np.ndarray:
    """24 dry hours with rain at the named lead times (``h5=20.0``: 20 mm in the hour ending at +5 h)."""
    rain = np.zeros(len(LEADS))
    for name, mm in hours.items():
        rain[LEADS.index(int(name[1:]))] = mm
    return rain


def test_the_largest_sum_and_the_hour_it_ends_at():
    rain = _series(h5=20.0, h6=25.0, h7=20.0, h20=30.0)
    acc = max_accumulation(LEADS, rain, 3)
    assert acc.mm == 65.0 and acc.last_lead == 7
    assert max_accumulation(LEADS, rain, 12).mm == 65.0  # one 12 h window cannot hold +5 h and +20 h
    assert max_accumulation(LEADS, rain, 24).mm == 95.0


def test_kma_levels_at_their_thresholds():
    assert kma_level({3: 59.9, 12: 109.9}) == "none"
    assert kma_level({3: 60.0, 12: 60.0}) == "advisory"
    assert kma_level({3: 30.0, 12: 110.0}) == "advisory", "12 h alone reaches it"
    assert kma_level({3: 90.0, 12: 90.0}) == "warning"
    assert kma_level({3: 50.0, 12: 180.0}) == "warning"


def test_an_unknown_hour_breaks_a_window_rather_than_counting_as_dry():
    rain = _series(h5=30.0, h6=30.0, h7=30.0)
    rain[LEADS.index(6)] = np.nan  # the QPE of +6 h is missing
    acc = max_accumulation(LEADS, rain, 3)
    assert acc.mm == 30.0 and acc.last_lead == 5, acc  # the first window to reach it
    gap = [lt for lt in LEADS if lt != 6]  # a lead time not in the run at all
    assert max_accumulation(gap, np.delete(_series(h5=30.0, h7=30.0, h8=30.0), 5), 3).mm == 60.0
    # no whole window: unknown, not "none"
    assert np.isnan(max_accumulation([1, 2], np.array([50.0, 50.0]), 3).mm)
    assert kma_level({3: float("nan"), 12: float("nan")}) == "unknown"
    assert kma_level({3: 95.0, 12: float("nan")}) == "warning", "a reached level needs no more hours"


def test_a_places_sums_name_the_window_ends_in_kst_and_its_level():
    import pandas as pd

    from engine.heavy_rain import place_sums
    from engine.places import hours_at

    obs = _series(h5=40.0, h6=30.0, h7=25.0)  # 95 mm in 3 h: a warning
    nwp = _series(h10=12.0)
    obs[LEADS.index(20)] = np.nan
    hours = hours_at((0, 0), pd.Timestamp("2026-07-01 00:00"), LEADS, nwp[:, None, None], obs[:, None, None])
    sums = place_sums(hours)
    assert sums.loc["observed QPE", "max 3 h (mm)"] == 95.0
    assert sums.loc["observed QPE", "3 h ending"] == "+7 h, 2026-07-01 16:00 KST"
    assert sums.loc["observed QPE", "KMA heavy rain"] == "warning"
    assert np.isnan(sums.loc["observed QPE", "run total (mm)"]), "a missing hour leaves the total unknown"
    assert sums.loc["raw NWP", "run total (mm)"] == 12.0 and sums.loc["raw NWP", "KMA heavy rain"] == "none"


def test_the_map_of_largest_sums_is_each_pixels_own_and_levels_map_alike():
    from engine.heavy_rain import level_codes, max_accumulation_map

    rng = np.random.default_rng(3)
    leads = [lt for lt in LEADS if lt != 9]  # a lead time missing from the run breaks windows everywhere
    rain = rng.gamma(0.6, 18.0, size=(len(leads), 4, 5))
    rain[:, 0, 0] = np.nan  # never observed
    rain[3, 1, 1] = np.nan  # one missing hour
    maps = {h: max_accumulation_map(leads, rain, h) for h in (3, 12)}
    for iy in range(4):
        for ix in range(5):
            for h, m in maps.items():
                np.testing.assert_allclose(m[iy, ix], max_accumulation(leads, rain[:, iy, ix], h).mm, rtol=1e-12)
            level = kma_level({h: m[iy, ix] for h, m in maps.items()})
            assert (
                level_codes({h: m[iy, ix] for h, m in maps.items()})
                == {"unknown": -1, "none": 0, "advisory": 1, "warning": 2}[level]
            )
    codes = level_codes(maps)
    assert codes.shape == (4, 5) and codes[0, 0] == -1
    assert {-1, 1, 2} <= set(np.unique(codes)), "the test should cross both criteria"


def test_a_level_is_reached_when_its_first_window_ends_at_its_amount():
    from engine.heavy_rain import KMA_LEVELS, first_reached

    warning, advisory = (dict(criteria) for _, criteria in KMA_LEVELS)
    steady = np.full(len(LEADS), 10.0)  # 10 mm every hour: 120 mm in the first 12 h window, ending at +12 h
    burst = _series(h3=25.0, h4=25.0, h5=25.0, h6=25.0)  # 75 mm in 3 h from +5 h: advisory, never a warning
    downpour = _series(h3=30.0, h4=30.0, h5=30.0)  # 60 mm in the window ending +4 h, 90 mm in the one ending +5 h
    rain = np.stack([steady, burst, downpour, _series(h2=5.0)], axis=1)
    np.testing.assert_array_equal(first_reached(LEADS, rain, advisory), [12, 5, 4, np.nan])
    np.testing.assert_array_equal(first_reached(LEADS, rain, warning), [np.nan, np.nan, 5, np.nan])
    gap = rain.copy()
    gap[LEADS.index(4), 1] = np.nan  # the burst's second hour unobserved: whole windows hold 25 or 50 mm only
    np.testing.assert_array_equal(first_reached(LEADS, gap, advisory), [12, np.nan, 4, np.nan])


def test_an_areas_sums_are_its_wettest_cells_own_not_a_cell_made_of_each_hours_wettest():
    import pandas as pd

    from engine.heavy_rain import place_sums
    from engine.places import hours_at

    west = _series(h5=30.0, h6=30.0, h7=30.0)  # a storm over one cell, then over its neighbour
    east = _series(h8=30.0, h9=30.0, h10=30.0)
    rain = np.stack([west, east], axis=1)
    hours = hours_at((0, 0), pd.Timestamp("2026-07-01 00:00"), LEADS, rain[:, :1, None], rain[:, :1, None])
    sums = place_sums(hours, {"observed QPE, box": rain})
    box = sums.loc["observed QPE, box"]
    assert box["max 3 h (mm)"] == 90.0 and box["3 h ending"] == "+7 h, 2026-07-01 16:00 KST"
    assert box["max 12 h (mm)"] == 90.0, "no cell had 180 mm in 12 h, which hour-by-hour maxima would say"
    assert box["KMA heavy rain"] == "warning" and box["run total (mm)"] == 90.0
    assert list(sums.index) == ["observed QPE", "raw NWP", "observed QPE, box"]


def test_the_peak_hour_is_each_pixels_largest_value_and_its_first_hour_passing_over_unknown_hours():
    nan = np.nan
    hourly = np.array(
        [
            [[1.0, nan, 5.0, nan]],
            [[7.0, 2.0, 5.0, nan]],
            [[3.0, nan, 1.0, nan]],
        ]
    )  # (lead, lat, lon): a peak, a single known hour, a tie (the first hour wins), never known
    peak, first = peak_hour(hourly)
    np.testing.assert_array_equal(peak, [[7.0, 2.0, 5.0, nan]])
    np.testing.assert_array_equal(first, [[1, 1, 0, -1]])
