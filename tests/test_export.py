"""Exports a forecaster takes away: PNG maps in the viewer's colours, with untrained pixels greyed as in the app."""

import io

import numpy as np
from PIL import Image

from app.export import CLASSES, PROBABILITY, RAIN, png_map
from app.maps import CLASS_COLOURS, PROB_COLOURS, RAIN_COLOURS, UNSCORED_GREY, VEIL_GREY
from engine.grid import KOREA


def _counts(png: bytes) -> dict[tuple[int, int, int], int]:
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    colours, counts = np.unique(img, axis=0, return_counts=True)
    return {tuple(c): int(n) for c, n in zip(colours.tolist(), counts, strict=True)}


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))


def _blocks(values: list[float]) -> np.ndarray:
    """The Korea grid with one 30 x 30-pixel block per value, down the diagonal, zeros elsewhere."""
    field = np.zeros((KOREA.lat.size, KOREA.lon.size))
    for k, v in enumerate(values):
        field[10 + 40 * k : 40 + 40 * k, 10 + 40 * k : 40 + 40 * k] = v
    return field


def _drawn(values: list[float], scale, learnt: np.ndarray | None = None) -> set[tuple[int, int, int]]:
    """The colours the blocks of ``values`` paint on the map: those with far more pixels than on a map of zeros
    (the colour bar shows every step on both)."""
    lat, lon = KOREA.lat, KOREA.lon
    field = _blocks(values)
    base = _counts(png_map(np.zeros_like(field), lat, lon, "map", scale))
    drawn = _counts(png_map(field, lat, lon, "map", scale, learnt=learnt))
    return {c for c, n in drawn.items() if n > base.get(c, 0) + 2000}


def test_each_scale_paints_each_value_in_its_step_of_the_viewer_colours():
    rain = _drawn([0.3, 12.0, 80.0], RAIN)
    assert rain == {_rgb(RAIN_COLOURS[i]) for i in (1, 6, 9)}, "0.3, 12 and 80 mm/h in their steps (80: above 50)"
    assert _drawn([0.03, 0.25, 1.0], PROBABILITY) == {_rgb(PROB_COLOURS[i]) for i in (1, 4, 8)}
    assert _drawn([1, 2], CLASSES) == {_rgb(c) for c in CLASS_COLOURS[1:]}


def test_a_model_map_greys_where_the_network_learnt_nothing():
    learnt = np.ones((KOREA.lat.size, KOREA.lon.size), bool)
    learnt[_blocks([1, 2]) == 2] = False  # the heavy-rain block lies where no observation was learnt from
    heavy = _rgb(CLASS_COLOURS[2])
    grey_over_red = tuple(round((a + b) / 2) for a, b in zip(heavy, _rgb(VEIL_GREY), strict=True))
    veiled = _drawn([1, 2], CLASSES, learnt)
    assert heavy not in veiled and _rgb(CLASS_COLOURS[1]) in veiled
    assert any(max(abs(a - b) for a, b in zip(c, grey_over_red, strict=True)) <= 2 for c in veiled), veiled


def test_an_unobserved_pixel_is_grey_not_the_white_of_dry():
    """As on the viewer's QPE map: a pixel without valid QPE left white would read as "below 0.1 mm/h"."""
    drawn = _drawn([np.nan, 12.0], RAIN) - {(255, 255, 255)}  # the footnote saying what grey means adds paper
    assert drawn == {_rgb(UNSCORED_GREY), _rgb(RAIN_COLOURS[6])}
