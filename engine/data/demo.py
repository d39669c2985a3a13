"""Writes the demo archive of the twin experiment (``engine/data/twin.py``) in the real formats.

One GRIB2 file per run and lead time with the 16 channels (ECMWF short names, ``tp`` accumulated from the run's
start, as operational centres write it), and one CF NetCDF QPE file per valid hour. Streams: one hour in memory.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from engine.channels import CHANNEL_NAMES
from engine.data.atomic import atomic_write_bytes
from engine.data.grib import GribWriter
from engine.data.lexicon import LEXICONS
from engine.data.qpe import qpe_filename, write_qpe
from engine.data.twin import Twin
from engine.errors import DataError
from engine.grid import KOREA
from engine.parallel import in_processes

DEFAULT_START = pd.Timestamp("2026-07-01 00:00")
GENERATOR_VERSION = 1


def nwp_path(out: Path, init: pd.Timestamp, lead: int) -> Path:
    run = f"{init:%Y%m%d%H}"
    return out / "nwp" / run / f"nwp_{run}_f{lead:03d}.grib2"


def generate(
    out: str | Path,
    runs: int = 6,
    seed: int = 7,
    leads: int = 48,
    start: pd.Timestamp = DEFAULT_START,
    progress: bool = True,
    workers: int = 1,
) -> Path:
    """Generate ``runs`` daily 00 UTC runs (lead times 0..``leads`` h) and the QPE of every valid hour.

    ``workers`` > 1 writes the runs and days of QPE in up to that many processes (``engine.parallel``); the files
    are byte-identical to a single process's, since every hour of the twin is a pure function of (seed, start,
    hour)."""
    if runs < 1 or not 0 <= leads <= 240:
        raise DataError(
            f"a demo archive needs at least 1 run and a last lead time of 0-240 h (asked: {runs} run(s), {leads} h)"
        )
    out = Path(out)
    start = pd.Timestamp(start).floor("D")
    days = runs + leads // 24 + 1
    hours = (runs - 1) * 24 + leads + 1
    # One job per day of QPE and one per run; each returns the number of files it wrote.
    jobs = [(_write_qpe_hours, (out, seed, start, days, h, min(h + 24, hours))) for h in range(0, hours, 24)]
    jobs += [(_write_run, (out, seed, start, days, r, leads)) for r in range(runs)]
    bar = tqdm(total=hours + runs * (leads + 1), desc="demo archive", unit="file", disable=not progress)
    for written in in_processes(jobs, workers):
        bar.update(written)
    bar.close()
    meta = {
        "generator": "engine.data.demo",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "runs": [f"{start + pd.Timedelta(days=r):%Y%m%d%H}" for r in range(runs)],
        "lead_times": list(range(leads + 1)),
        "source": "demo",
        "grid": KOREA.name,
    }
    atomic_write_bytes(out / "archive.json", (json.dumps(meta, indent=2) + "\n").encode())
    return out


def _write_qpe_hours(out: Path, seed: int, start: pd.Timestamp, days: int, first: int, stop: int) -> int:
    """The QPE files of hours ``first`` .. ``stop`` - 1 after ``start``."""
    twin = Twin(seed, start, days=days)
    for hour in range(first, stop):
        valid = start + pd.Timedelta(hours=hour)
        write_qpe(out / "qpe" / qpe_filename(valid), valid, twin.qpe(hour, twin.state(hour)["tp"]))
    return stop - first


def _write_run(out: Path, seed: int, start: pd.Timestamp, days: int, r: int, leads: int) -> int:
    """The GRIB2 files of run ``r`` (lead times 0..``leads``), ``tp`` accumulated from the run's start."""
    twin = Twin(seed, start, days=days)
    init = start + pd.Timedelta(days=r)
    accumulated = np.zeros(KOREA.shape)
    with GribWriter(LEXICONS["demo"], KOREA) as writer:
        for lead in range(leads + 1):
            state = twin.state(24 * r + lead, twin.nwp_errors(r, lead), cell_seed=(seed, 21, r))
            if lead > 0:
                accumulated = accumulated + state["tp"]
            fields = {ch: state[ch] for ch in CHANNEL_NAMES if ch != "tp"}
            fields["tp"] = accumulated
            writer.write(nwp_path(out, init, lead), init, lead, fields)
    return leads + 1
