"""Where an input grid lies on the grid a network learnt on, so that it reads the positional embeddings of its place.

The patch embedding learns one positional embedding per token of its training grid: a geographic prior (coast,
mountains, radar range). Training crops read the embeddings where they were cut. A prediction on another grid must
do the same: a sub-domain (``Catalog(grid=...)``) or each tile of a larger domain reads the embeddings of where it
lies, not those of the training grid's corner. The training grid is the one a manifest's ``trained_area`` is packed
on (``engine.trained_area``); without one the input is taken to start at the training grid's first pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.trained_area import axis_position


@dataclass(frozen=True)
class Placement:
    """An input grid on the training grid, in training pixels: its first pixel's (row, col) and its spacing."""

    row: float = 0.0
    col: float = 0.0
    row_step: float = 1.0
    col_step: float = 1.0

    @classmethod
    def of(cls, lat: np.ndarray, lon: np.ndarray, training: dict | None) -> Placement:
        """The placement of the grid ``lat`` (ny,) x ``lon`` (nx,), both ascending and evenly spaced, on
        ``training`` (``{"lat": [first, last, n], "lon": [...]}``, as a manifest packs its trained area)."""
        if not training:
            return cls()
        row, row_step = _axis(np.asarray(lat, dtype=float), *training["lat"])
        col, col_step = _axis(np.asarray(lon, dtype=float), *training["lon"])
        return cls(row, col, row_step, col_step)

    def tokens(self, y0: int, x0: int, patch: int) -> tuple[tuple[float, float], tuple[float, float]]:
        """``(offset, step)`` in training tokens of the tokens of a tile that starts at the input's pixel
        (``y0``, ``x0``), for ``PostProcessor.forward``: token centres map onto training-token centres."""
        c = (patch - 1) / 2
        oy = (self.row + (y0 + c) * self.row_step - c) / patch
        ox = (self.col + (x0 + c) * self.col_step - c) / patch
        return (_tidy(oy), _tidy(ox)), (self.row_step, self.col_step)


def _axis(coord: np.ndarray, first: float, last: float, n: int) -> tuple[float, float]:
    """(position of ``coord[0]``, spacing of ``coord``) in units of the training axis's spacing."""
    at = axis_position(coord[[0, -1]], first, last, n)
    return _tidy(at[0]), _tidy((at[1] - at[0]) / (coord.size - 1) if coord.size > 1 else 1.0)


def _tidy(value: float) -> float:
    """``value`` rounded to a whole number when within 1e-6 of one: coordinates stored to 6 decimals land there."""
    return float(round(value)) if abs(value - round(value)) < 1e-6 else float(value)
