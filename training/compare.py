"""Paired tests between methods of two ``evaluation.json`` files: how a method trained under one config (more
runs, another schedule) compares with one trained under another, on the runs both files scored.

``python -m training compare FILE:METHOD FILE:METHOD [--dataset heldout_seed2024|test] [--pool-seeds|--pool-draws]``.
The held-out archive (generator seed 2024) is the same for every config with the same ``heldout_runs``; test runs
are only shared by configs with the same data, and a comparison over different runs is refused.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.errors import DataError
from training.config import HELDOUT
from training.provenance import SEEN, archive_label, archives, unseen
from training.questions import compare, pooled_repeats

RUN_KEYS = {"test": ("test_runs", "run_tables"), HELDOUT: ("heldout_runs", "heldout_run_tables")}


def parse_spec(spec: str) -> tuple[Path, str]:
    """``results/evaluation.json:unet`` -> (path, method)."""
    path, sep, method = spec.rpartition(":")
    if not sep or not path or not method:
        raise DataError(f"{spec!r}: expected FILE:METHOD, e.g. training/results/evaluation.json:unet")
    return Path(path), method


def method_tables(
    path: Path, method: str, dataset: str, pool: str | None
) -> tuple[list[str], dict, str, set[str | None], list[str]]:
    """The runs of ``dataset`` in the evaluation at ``path`` and ``method``'s per-run contingency tables there;
    with ``pool="seed"`` (``"draw"``), summed with its ``_seedN`` (``_drawN``) twins, as ``evaluate`` pools them.
    Also returns the label used, the training archives of the networks behind it and the runs of ``dataset`` the
    file's pre-training read (``training.provenance``)."""
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
    if pool is None:
        return result[runs_key], tables[method], method, archives(method, trained_on), seen
    if pool not in ("seed", "draw"):
        raise ValueError(f"pool must be 'seed', 'draw' or None, not {pool!r}")
    pools = {name: t for name, t in pooled_repeats(tables, pool).items() if name.startswith(f"{method}, ")}
    if not pools:
        raise DataError(f"{path}: no _{pool}N twins of {method!r} to pool on {dataset}")
    label, pooled = next(iter(pools.items()))
    return result[runs_key], pooled, label, archives(label, trained_on), seen


def compare_results(
    a: tuple[Path, str], b: tuple[Path, str], dataset: str = HELDOUT, pool: str | None = None
) -> list[dict]:
    """CSI of method ``a`` minus method ``b`` per event threshold, with the 95 % paired-bootstrap interval over
    the runs both files scored (``training.questions.compare``), less any run either side's pre-training read;
    ``pool``: see ``method_tables``. Each row says whether the two sides' networks learnt from the same training
    archive (``archives``) and how many runs were left out as seen (``seen_left_out``)."""
    runs_a, tables_a, label_a, archives_a, seen_a = method_tables(*a, dataset, pool)
    runs_b, tables_b, label_b, archives_b, seen_b = method_tables(*b, dataset, pool)
    if runs_a != runs_b:
        raise DataError(
            f"{a[0]} and {b[0]} scored different {dataset} runs ({len(runs_a)} and {len(runs_b)}): "
            f"a paired test needs the same runs (the held-out archive is shared by configs with equal heldout_runs)"
        )
    seen = set(seen_a) | set(seen_b)
    runs, tables_a = unseen(runs_a, tables_a, seen)
    _, tables_b = unseen(runs_b, tables_b, seen)
    if not runs:
        raise DataError(f"every {dataset} run of {a[0]} and {b[0]} was read in pre-training: nothing left to judge")
    rows = compare({"a": tables_a, "b": tables_b}, [("a", "b")])
    return [
        {
            **r,
            "a": f"{a[0]}:{label_a}",
            "b": f"{b[0]}:{label_b}",
            "dataset": dataset,
            "runs": len(runs),
            "seen_left_out": len(runs_a) - len(runs),
            "archives": archive_label(archives_a, archives_b),
        }
        for r in rows
    ]
