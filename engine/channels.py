"""The 16 canonical input channels of ``method.md``, in model order, with CF metadata.

Every reader returns these names; every source maps its own keys onto them through a lexicon
(``engine/data/lexicon.py``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Channel:
    name: str
    standard_name: str
    units: str
    long_name: str
    group: int  # variable group of the 3-D patch embedding (4 groups of 4 channels)


CHANNELS: tuple[Channel, ...] = (
    # group 0: mass field
    Channel("gh1000", "geopotential_height", "m", "Geopotential height at 1000 hPa", 0),
    Channel("gh850", "geopotential_height", "m", "Geopotential height at 850 hPa", 0),
    Channel("gh500", "geopotential_height", "m", "Geopotential height at 500 hPa", 0),
    Channel("msl", "air_pressure_at_mean_sea_level", "Pa", "Mean sea-level pressure", 0),
    # group 1: moisture and temperature
    Channel("r850", "relative_humidity", "%", "Relative humidity at 850 hPa", 1),
    Channel("r500", "relative_humidity", "%", "Relative humidity at 500 hPa", 1),
    Channel("t2m", "air_temperature", "K", "Temperature at 2 m", 1),
    Channel("t850", "air_temperature", "K", "Temperature at 850 hPa", 1),
    # group 2: winds near the surface and at 850 hPa
    Channel("u10", "eastward_wind", "m s-1", "Eastward wind at 10 m", 2),
    Channel("v10", "northward_wind", "m s-1", "Northward wind at 10 m", 2),
    Channel("u850", "eastward_wind", "m s-1", "Eastward wind at 850 hPa", 2),
    Channel("v850", "northward_wind", "m s-1", "Northward wind at 850 hPa", 2),
    # group 3: upper level and rain
    Channel("t500", "air_temperature", "K", "Temperature at 500 hPa", 3),
    Channel("u500", "eastward_wind", "m s-1", "Eastward wind at 500 hPa", 3),
    Channel("v500", "northward_wind", "m s-1", "Northward wind at 500 hPa", 3),
    Channel("tp", "lwe_thickness_of_precipitation_amount", "mm", "NWP hourly precipitation", 3),
)

CHANNEL_NAMES: tuple[str, ...] = tuple(c.name for c in CHANNELS)
BY_NAME: dict[str, Channel] = {c.name: c for c in CHANNELS}

# Rain classes of the task: 0 (< 0.1), 1 (0.1-10), 2 (>= 10 mm/h).
CLASS_THRESHOLDS_MM: tuple[float, float] = (0.1, 10.0)
CLASS_NAMES: tuple[str, str, str] = ("no rain (<0.1 mm/h)", "rain (0.1-10 mm/h)", "heavy rain (>=10 mm/h)")
