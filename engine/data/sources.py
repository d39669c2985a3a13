"""The data sources the readers understand, for ``python -m engine sources`` and the app's source selector."""

from __future__ import annotations

from dataclasses import dataclass

from engine.data.lexicon import LEXICONS


@dataclass(frozen=True)
class Source:
    name: str
    kind: str  # nwp | qpe
    lexicon: str | None
    description: str


SOURCES: tuple[Source, ...] = (
    Source("demo", "nwp", "demo", "the embedded twin-experiment archive (GRIB2, ECMWF short names, 0.05 deg)"),
    Source(
        "ecmwf",
        "nwp",
        "ecmwf",
        "ECMWF IFS / open-data GRIB2: regular lat/lon (e.g. 0.25 deg), gh/t/r/u/v on "
        "pressure levels, msl, 2t, 10u, 10v, tp accumulated from the start in metres; regridded to the model grid",
    ),
    Source(
        "kim",
        "nwp",
        "kim",
        "KMA KIM / RDAPS GRIB2 on Lambert-conformal (or rotated) grids: prmsl, tp in "
        "kg m-2 accumulated from the start; regridded to the model grid by Delaunay-linear interpolation",
    ),
    Source(
        "qpe-netcdf",
        "qpe",
        None,
        "CF NetCDF with a variable 'qpe' (mm in the hour ending at time), one file per "
        "hour named qpe_YYYYMMDDHH.nc; any regular lat/lon grid covering the domain (area-mean regridding)",
    ),
)


def source_names(kind: str | None = None) -> list[str]:
    return [s.name for s in SOURCES if kind is None or s.kind == kind]


def lexicon_for(name: str):
    source = {s.name: s for s in SOURCES}.get(name)
    if source is None or source.lexicon is None:
        from engine.errors import DataError

        raise DataError(f"unknown NWP source {name!r} (known: {', '.join(source_names('nwp'))})")
    return LEXICONS[source.lexicon]
