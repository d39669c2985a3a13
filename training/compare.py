"""Paired tests between methods of two ``evaluation.json`` files: how a method trained under one config (more
runs, another schedule) compares with one trained under another, on the runs both files scored.

``python -m training compare FILE:METHOD FILE:METHOD [--dataset heldout_seed2024|test] [--pool-seeds|--pool-draws]``.
The held-out archive (generator seed 2024) is the same for every config with the same ``heldout_runs``; test runs
are only shared by configs with the same data, and a comparison over different runs is refused. Pooled, each
repeat's CSI is tested too (``repeat_test``): the run bootstrap covers the weather's luck, not the seeds'.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from scipy import stats

from engine.errors import DataError
from engine.verify.categorical import TABLE_KEYS, categorical_scores, sum_tables
from training.config import HELDOUT
from training.fingerprint import is_listing, short
from training.provenance import SEEN, archive_label, archives, members, unseen
from training.questions import compare, pooled_repeats

RUN_KEYS = {"test": ("test_runs", "run_tables"), HELDOUT: ("heldout_runs", "heldout_run_tables")}
ARCHIVE_KEYS = {"test": "test_archive", HELDOUT: "heldout_archive"}  # where each dataset's observations came from


def parse_spec(spec: str) -> tuple[Path, str]:
    """``results/evaluation.json:unet`` -> (path, method)."""
    path, sep, method = spec.rpartition(":")
    if not sep or not path or not method:
        raise DataError(f"{spec!r}: expected FILE:METHOD, e.g. training/results/evaluation.json:unet")
    return Path(path), method


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a method (or a pool of its repeats) as one ``evaluation.json`` scored it."""

    runs: list[str]  # the runs of the dataset, in the file's order
    tables: dict  # {threshold: [one contingency table per run]}
    label: str  # the method, or ``X, N seeds`` / ``X, N draws``
    trained_on: set[str | None]  # training-archive fingerprints of the networks behind it
    seen: list[str]  # runs of the dataset its config's pre-training read
    scored_on: str | None  # fingerprint of the archive the dataset's observations came from, if recorded
    networks: dict  # each network behind it (one, or each pooled repeat): {name: {threshold: per-run tables}}


def method_tables(path: Path, method: str, dataset: str, pool: str | None) -> Side:
    """``method``'s per-run contingency tables on ``dataset`` in the evaluation at ``path``; with ``pool="seed"``
    (``"draw"``), summed with its ``_seedN`` (``_drawN``) twins, as ``evaluate`` pools them."""
    if dataset not in RUN_KEYS:
        raise DataError(f"unknown dataset {dataset!r}: one of {sorted(RUN_KEYS)}")
    try:
        result = json.loads(path.read_text())
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from exc
    except ValueError as exc:
        raise DataError(f"{path}: not JSON ({exc})") from exc
    runs_key, tables_key = RUN_KEYS[dataset]
    if not isinstance(result, dict) or tables_key not in result:
        raise DataError(f"{path}: no {tables_key} (not written by `python -m training evaluate`)")
    tables = result[tables_key]
    trained_on = result.get("trained_on", {})
    if method not in tables:
        raise DataError(f"{path}: no method {method!r} on {dataset}; it has {', '.join(tables)}")
    seen = result.get(SEEN, []) if dataset == HELDOUT else []
    scored_on = result.get(ARCHIVE_KEYS[dataset])
    if pool is None:
        return Side(
            result[runs_key],
            tables[method],
            method,
            archives(method, trained_on),
            seen,
            scored_on,
            {method: tables[method]},
        )
    if pool not in ("seed", "draw"):
        raise ValueError(f"pool must be 'seed', 'draw' or None, not {pool!r}")
    pools = {name: t for name, t in pooled_repeats(tables, pool).items() if name.startswith(f"{method}, ")}
    if not pools:
        raise DataError(f"{path}: no _{pool}N twins of {method!r} to pool on {dataset}")
    label, pooled = next(iter(pools.items()))
    networks = {m: tables[m] for m in members(label, tables)}
    return Side(result[runs_key], pooled, label, archives(label, trained_on), seen, scored_on, networks)


def network_csi(per_run: Sequence[Sequence[int]]) -> float:
    """CSI of one network over runs: its per-run tables (``TABLE_KEYS`` order) summed first, as ``evaluate``
    aggregates, never an average of per-run ratios."""
    return float(categorical_scores(sum_tables(dict(zip(TABLE_KEYS, t, strict=True)) for t in per_run))["csi"])


def repeat_index(name: str, kind: str) -> int:
    """Which repeat a network is: N of its ``_seedN`` / ``_drawN``, 0 for the base name."""
    found = re.search(rf"_{kind}(\d+)", name)
    return int(found[1]) if found else 0


def repeat_test(a: Mapping[str, float], b: Mapping[str, float], kind: str | None) -> dict:
    """The repeats (training seeds, labelled-run draws) as the sample: the mean CSI of ``a``'s networks minus
    ``b``'s with a t-test. The paired run bootstrap resamples runs with each side's repeats summed, so its interval
    covers the weather's luck, not the repeats'; this asks whether other seeds (draws) would keep the order.

    Draws of the same index share their labelled runs, so where both sides hold the same draws the test is paired
    over them (Student's paired t, ``scipy.stats.ttest_rel``); seeds share nothing, so they, and unmatched draws,
    get Welch's unequal-variance t-test (Welch 1947, Biometrika 34, 28-35; ``scipy.stats.ttest_ind`` with
    ``equal_var=False``). ``t`` and ``p`` (two-sided) are None with fewer than two repeats on a side or no spread."""
    va, vb = list(a.values()), list(b.values())
    difference = sum(va) / len(va) - sum(vb) / len(vb)
    ia, ib = ({repeat_index(n, "draw"): v for n, v in side.items()} for side in (a, b))
    paired = kind == "draw" and len(ia) == len(a) and ia.keys() == ib.keys()
    if paired:
        va, vb = [ia[i] for i in sorted(ia)], [ib[i] for i in sorted(ia)]
        flat = len(va) < 2 or len({x - y for x, y in zip(va, vb, strict=True)}) == 1
    else:
        flat = min(len(va), len(vb)) < 2 or (len(set(va)) == 1 and len(set(vb)) == 1)
    test = "paired" if paired else "welch"
    if flat:
        return {"difference": difference, "t": None, "p": None, "test": test}
    result = stats.ttest_rel(va, vb) if paired else stats.ttest_ind(va, vb, equal_var=False)
    t, p = float(result.statistic), float(result.pvalue)
    return {
        "difference": difference,
        "t": None if math.isnan(t) else t,
        "p": None if math.isnan(p) else p,
        "test": test,
    }


def _networks_on(side: Side, keep: list[str], threshold: str) -> dict[str, float]:
    """CSI of each network behind ``side`` at ``threshold`` over the runs in ``keep``."""
    index = [side.runs.index(r) for r in keep]
    return {name: network_csi([t[threshold][i] for i in index]) for name, t in side.networks.items()}


def compare_results(
    a: tuple[Path, str], b: tuple[Path, str], dataset: str = HELDOUT, pool: str | None = None
) -> list[dict]:
    """CSI of method ``a`` minus method ``b`` per event threshold, with the 95 % paired-bootstrap interval over
    the runs both files scored (``training.questions.compare``), less any run either side's pre-training read;
    ``pool``: see ``method_tables``. Each row says whether the two sides' networks learnt from the same training
    archive (``archives``) and how many runs were left out as seen (``seen_left_out``). Files that recorded
    different archives for the dataset's observations are refused: their runs share names, not data."""
    sa, sb = method_tables(*a, dataset, pool), method_tables(*b, dataset, pool)
    if sa.runs != sb.runs:
        raise DataError(
            f"{a[0]} and {b[0]} scored different {dataset} runs ({len(sa.runs)} and {len(sb.runs)}): "
            f"a paired test needs the same runs (the held-out archive is shared by configs with equal heldout_runs)"
        )
    fps = {sa.scored_on, sb.scored_on} - {None}
    if len(fps) > 1 and len({is_listing(fp) for fp in fps}) == 1:
        raise DataError(
            f"{a[0]} and {b[0]} scored {dataset} runs of different archives ({short(sa.scored_on)} and "
            f"{short(sb.scored_on)}): the same run names, other observations"
        )
    seen = set(sa.seen) | set(sb.seen)
    runs, tables_a = unseen(sa.runs, sa.tables, seen)
    _, tables_b = unseen(sb.runs, sb.tables, seen)
    if not runs:
        raise DataError(f"every {dataset} run of {a[0]} and {b[0]} was read in pre-training: nothing left to judge")
    rows = compare({"a": tables_a, "b": tables_b}, [("a", "b")])
    out = []
    for r in rows:
        each = {k: _networks_on(side, runs, f"{r['threshold']:g}") for k, side in (("a", sa), ("b", sb))}
        out.append(
            {
                **r,
                "a": f"{a[0]}:{sa.label}",
                "b": f"{b[0]}:{sb.label}",
                "dataset": dataset,
                "runs": len(runs),
                "seen_left_out": len(sa.runs) - len(runs),
                "archives": archive_label(sa.trained_on, sb.trained_on),
                "networks_a": each["a"],
                "networks_b": each["b"],
                "repeats": repeat_test(each["a"], each["b"], pool),
            }
        )
    return out
