"""What the engine and the app need from a data folder, whatever its layout (cf. earth2studio's ``DataSource``).

Two implementations: :class:`engine.data.catalog.Catalog` (GRIB2 runs + hourly QPE files: demo, ECMWF, KIM/RDAPS
with our QPE NetCDF or GPM IMERG) and :class:`engine.data.komet.KometCatalog` (the KoMet benchmark layout).
:func:`engine.data.sources.open_data` picks one for a folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import xarray as xr

from engine.channels import CHANNEL_NAMES
from engine.grid import Grid


class RunSource(Protocol):
    root: Path
    grid: Grid

    @property
    def verify_mask(self) -> np.ndarray:
        """``(ny, nx)`` bool: where the observations are trusted enough to score against."""

    def runs(self) -> list[str]:
        """Run names ``YYYYMMDDHH`` (UTC), sorted."""

    def lead_times(self, run: str) -> list[int]:
        """Lead times (hours) the run holds."""

    def files(self, run: str) -> list[Path]:
        """The run's input files (their names, sizes and times key the prediction cache)."""

    def load_run(
        self, run: str, lead_times: list[int] | None = None, channels: Sequence[str] = CHANNEL_NAMES
    ) -> xr.Dataset:
        """``channels`` (default: the 16 the model reads) as ``(lead_time, lat, lon)`` on ``grid`` with
        ``init_time`` and ``valid_time``; a view of the rain alone asks for ``("tp",)`` and skips decoding the rest."""

    def qpe_files(self, run: str, lead_times: list[int]) -> list[Path]:
        """The observation files there are for the run's valid times (their names, sizes and times key the app's
        caches, so an hour that lands or is redone in place is seen)."""

    def load_qpe(self, run: str, lead_times: list[int]) -> xr.DataArray:
        """Observed rain (mm in the hour ending at each valid time) as ``qpe(lead_time, lat, lon)``; NaN where
        there is no observation, hours without any listed in the ``missing_hours`` attribute."""
