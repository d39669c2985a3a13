"""One small table per NWP source: our canonical channel -> the source's GRIB keys.

A KIM or RDAPS file with other short names needs only a new table here (see earth2studio's ``lexicon``).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.channels import CHANNEL_NAMES


@dataclass(frozen=True)
class GribKey:
    short_name: str
    type_of_level: str
    level: int
    scale: float = 1.0  # multiply the decoded value by this to get our units
    offset: float = 0.0


@dataclass(frozen=True)
class Lexicon:
    name: str
    keys: dict[str, GribKey]
    rain_accumulated_from_start: bool  # True: ``tp`` at lead L is the total since the run started

    def __post_init__(self) -> None:
        missing = set(CHANNEL_NAMES) - set(self.keys)
        if missing:
            raise ValueError(f"lexicon {self.name} lacks channels {sorted(missing)}")

    def lookup(self) -> dict[tuple[str, str, int], str]:
        """(shortName, typeOfLevel, level) -> channel, for reading."""
        return {(k.short_name, k.type_of_level, k.level): ch for ch, k in self.keys.items()}


def _pl(short_name: str, level: int) -> GribKey:
    return GribKey(short_name, "isobaricInhPa", level)


# WMO/ECMWF GRIB2 short names as eccodes decodes them. The demo archive is written with this table, and ECMWF
# IFS / open-data files read with it. ``tp`` is in metres of water, accumulated from the start of the run.
ECMWF = Lexicon(
    name="ecmwf",
    keys={
        "gh1000": _pl("gh", 1000),
        "gh850": _pl("gh", 850),
        "gh500": _pl("gh", 500),
        "msl": GribKey("msl", "meanSea", 0),
        "r850": _pl("r", 850),
        "r500": _pl("r", 500),
        "t2m": GribKey("2t", "heightAboveGround", 2),
        "t850": _pl("t", 850),
        "u10": GribKey("10u", "heightAboveGround", 10),
        "v10": GribKey("10v", "heightAboveGround", 10),
        "u850": _pl("u", 850),
        "v850": _pl("v", 850),
        "t500": _pl("t", 500),
        "u500": _pl("u", 500),
        "v500": _pl("v", 500),
        "tp": GribKey("tp", "surface", 0, scale=1000.0),
    },
    rain_accumulated_from_start=True,
)

# KMA KIM / RDAPS GRIB2 (WMO code tables as eccodes decodes them): mean sea-level pressure as ``prmsl``
# (0/3/1), rain as ``tp`` in kg m-2 accumulated from the start of the run, Lambert-conformal grids (regridded).
# Check a real file with ``grib_ls -p shortName,typeOfLevel,level`` and adjust this table if a centre differs.
KIM = Lexicon(
    name="kim",
    keys={**ECMWF.keys, "msl": GribKey("prmsl", "meanSea", 0), "tp": GribKey("tp", "surface", 0)},
    rain_accumulated_from_start=True,
)

LEXICONS: dict[str, Lexicon] = {"demo": ECMWF, "ecmwf": ECMWF, "kim": KIM}


@dataclass(frozen=True)
class NetcdfKey:
    file: str  # "dfp" (pressure levels) or "dfs" (single level), as KoMet splits GDAPS-KIM output
    variables: tuple[str, ...]  # summed: KIM splits rain into convective and large-scale parts
    level: int | None = None  # hPa, for dfp variables


def _dfp(variable: str, level: int) -> NetcdfKey:
    return NetcdfKey("dfp", (variable,), level)


# GDAPS-KIM NetCDF as the KoMet benchmark ships it (names from KoMet's own loader, ``data/base_dataset.py`` in
# osilab-kaist/KoMet-Benchmark-Dataset): dfp holds ``hgt`` (m), ``T`` (K), ``rh_liq`` (%), ``u``, ``v`` (m/s) on
# 22 pressure levels; dfs holds ``psl`` (Pa), ``t2m``, ``u10m``, ``v10m`` and rain accumulated from the start of
# the run in mm as ``rainc_acc`` + ``rainl_acc``.
KOMET: dict[str, NetcdfKey] = {
    "gh1000": _dfp("hgt", 1000),
    "gh850": _dfp("hgt", 850),
    "gh500": _dfp("hgt", 500),
    "msl": NetcdfKey("dfs", ("psl",)),
    "r850": _dfp("rh_liq", 850),
    "r500": _dfp("rh_liq", 500),
    "t2m": NetcdfKey("dfs", ("t2m",)),
    "t850": _dfp("T", 850),
    "u10": NetcdfKey("dfs", ("u10m",)),
    "v10": NetcdfKey("dfs", ("v10m",)),
    "u850": _dfp("u", 850),
    "v850": _dfp("v", 850),
    "t500": _dfp("T", 500),
    "u500": _dfp("u", 500),
    "v500": _dfp("v", 500),
    "tp": NetcdfKey("dfs", ("rainc_acc", "rainl_acc")),
}
assert set(KOMET) == set(CHANNEL_NAMES)
