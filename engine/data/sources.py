"""The data sources the readers understand, for ``python -m engine sources`` and the app's source selector,
and :func:`open_data`, which opens a data folder with the right reader (detected, or as the user says)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from engine.data.base import RunSource
from engine.data.lexicon import LEXICONS
from engine.errors import DataError

AUTO = "auto"


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
        "komet",
        "nwp",
        None,
        "KoMet benchmark: GDAPS-KIM NetCDF, GDPS_KIM/YYYYMM/DD/HH/*dfp*ftLLL.nc (pressure levels) and *dfs*ftLLL.nc "
        "(single level, rainc_acc + rainl_acc); gauges from AWS_GDPS_KIM_GRID (see komet-aws)",
    ),
    Source(
        "qpe-netcdf",
        "qpe",
        None,
        "CF NetCDF with a variable 'qpe' (mm in the hour ending at time), one file per "
        "hour named qpe_YYYYMMDDHH.nc; any regular lat/lon grid covering the domain (area-mean regridding)",
    ),
    Source(
        "imerg",
        "qpe",
        None,
        "GPM IMERG half-hourly HDF5 / NetCDF-4 (3B-HHR.MS.MRG.3IMERG.*), group Grid, precipitation in mm/hr; two "
        "half-hours make an hour, in DIR/qpe/",
    ),
    Source(
        "komet-aws",
        "qpe",
        None,
        "KoMet AWS gauge grids, AWS_GDPS_KIM_GRID/**/AWS_HOUR_ALL_YYYYMMDDHHMM_*.npy on the GDAPS-KIM grid "
        "(negative = no gauge); used with the komet NWP source",
    ),
)


def source_names(kind: str | None = None) -> list[str]:
    return [s.name for s in SOURCES if kind is None or s.kind == kind]


def lexicon_for(name: str):
    source = {s.name: s for s in SOURCES}.get(name)
    if source is None or source.lexicon is None:
        grib = [s.name for s in SOURCES if s.lexicon]
        raise DataError(f"no GRIB lexicon for source {name!r} (GRIB sources: {', '.join(grib)})")
    return LEXICONS[source.lexicon]


def _check(name: str, kind: str) -> None:
    if name != AUTO and name not in source_names(kind):
        raise DataError(f"unknown {kind.upper()} source {name!r} (known: {AUTO}, {', '.join(source_names(kind))})")


def _is_demo(root: Path) -> bool:
    """Whether ``python -m engine demo`` wrote the folder (its ``archive.json`` says so)."""
    try:
        meta = json.loads((root / "archive.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("generator") == "engine.data.demo"


def detect(root: str | Path) -> tuple[str, str]:
    """The (NWP, QPE) sources a folder's layout shows; files are opened only to tell KIM from ECMWF GRIB and
    ``archive.json`` only to name the demo archive (its GRIB is ECMWF-style, read with the same table)."""
    from engine.data.komet import NWP_DIR

    root = Path(root)
    if (root / NWP_DIR).is_dir():
        return "komet", "komet-aws"
    qpe_dir = root / "qpe"
    qpe = "imerg" if qpe_dir.is_dir() and next(qpe_dir.rglob("3B-HHR*"), None) is not None else "qpe-netcdf"
    nwp = "demo" if _is_demo(root) else "ecmwf"
    if nwp == "demo":  # its generator writes ECMWF-style GRIB: no file need be opened (~0.2 s)
        return nwp, qpe
    first = next((p for p in sorted((root / "nwp").glob("*/*")) if p.suffix in (".grib2", ".grb2", ".grib")), None)
    if first is not None:
        from engine.data.grib import short_names

        try:
            if "prmsl" in short_names(first):
                nwp = "kim"
        except DataError:
            pass  # the reader names the bad file when the run is read
    return nwp, qpe


def open_data(root: str | Path, nwp: str = AUTO, qpe: str = AUTO) -> RunSource:
    """A data folder with the reader for its sources; ``auto`` detects them from the layout."""
    from engine.data.catalog import Catalog
    from engine.data.komet import KometCatalog

    _check(nwp, "nwp")
    _check(qpe, "qpe")
    root = Path(root)
    if not root.is_dir():
        raise DataError("data folder does not exist" if not root.exists() else "is a file, expected a folder", root)
    found_nwp, found_qpe = detect(root)
    nwp = found_nwp if nwp == AUTO else nwp
    qpe = found_qpe if qpe == AUTO else qpe
    if nwp == "komet" or qpe == "komet-aws":
        if (nwp, qpe) != ("komet", "komet-aws"):
            raise DataError(f"the KoMet layout pairs komet with komet-aws, not {nwp} with {qpe}", root)
        return KometCatalog(root)
    return Catalog(root, lexicon=lexicon_for(nwp), qpe=qpe)
