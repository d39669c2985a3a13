"""The paired questions an evaluation answers, and their tests: which methods are compared with which (the shipped
method against the U-Net, scratch, its ablations; pre-trained against scratch at each labelled share ...), methods
pooled over training seeds or draws of the labelled runs, and the paired bootstrap over runs of each CSI difference
(``engine.verify.categorical.paired_bootstrap_difference``). ``evaluate`` and ``leadtime`` ask them of their run
tables, ``compare`` of two result files."""

from __future__ import annotations

import re
from collections.abc import Mapping

from engine.verify.categorical import TABLE_KEYS, paired_bootstrap_difference
from training.config import THRESHOLDS
from training.methods import (
    config_length_twin,
    last_epoch_twin,
    protocol,
    stopping_rule,
    without_protocol,
)
from training.provenance import comparison_archives


def comparison_pairs(methods: list[str], ship: str) -> list[tuple[str, str]]:
    """The questions the evaluation answers with a paired test: the shipped method against the U-Net, against
    the same network from scratch (and that network against the U-Net: the architecture alone) and against its
    one-hot twin, also pooled over training seeds; the shipped method against each of its ablations with all
    labels (loss, masking ratio, frozen encoder ...); a longer pre-training (``_ptNN``) against the config's with
    the same labels; pre-trained against scratch and against the U-Net at each labelled share (the same labelled
    runs: the same ``_drawN``), and with all draws of a share pooled (pooled names from ``pooled_repeats``).
    Methods fine-tuned otherwise than the config says (early stopping ``_valbest``, ``_valbest10``; ``_ftNN``
    epochs) are paired among methods of the same ``protocol`` in the same way, and each with its twin that kept
    the last epoch (ran the config's epochs)."""
    pairs = []
    for proto in dict.fromkeys(["", *map(protocol, methods)]):
        plain = {without_protocol(m): m for m in methods if protocol(m) == proto}
        pairs += [(plain[a], plain[b]) for a, b in _pairs(list(plain), without_protocol(ship)) if {a, b} <= set(plain)]
    pairs += [(m, last_epoch_twin(m)) for m in methods if stopping_rule(m)]
    pairs += [(m, config_length_twin(m)) for m in methods]
    present = set(methods)
    return [p for p in dict.fromkeys(pairs) if p[0] in present and p[1] in present and p[0] != p[1]]


def _pairs(methods: list[str], ship: str) -> list[tuple[str, str]]:
    """``comparison_pairs`` among methods of one fine-tuning protocol (the names without ``_valbest``)."""
    # the network without pre-training against the U-Net: what the architecture alone is worth
    pairs = [(ship, "unet"), (ship, "scratch"), ("scratch", "unet"), ("pretrained_continuous", "pretrained_onehot")]
    pairs += [(ship, m) for m in methods if m.startswith("pretrained_") and not re.search(r"pct|_seed|_draw|, ", m)]
    for m in methods:
        if seeds := re.fullmatch(rf"{re.escape(ship)}(, \d+ seeds)", m):
            pairs += [(m, f"unet{seeds.group(1)}"), (m, f"scratch{seeds.group(1)}")]
            pairs.append((f"scratch{seeds.group(1)}", f"unet{seeds.group(1)}"))
        if m.startswith("pretrained") and (shorter := re.sub(r"_pt\d+", "", m)) not in (m, ship):
            pairs.append((m, shorter))  # longer pre-training against the config's, the labels otherwise the same
        share = re.search(r"_(\d+)pct", m)
        if not (m.startswith("pretrained") and share):
            continue
        pooled, draw = re.search(r", \d+ draws$", m), re.search(r"_draw\d+", m)
        same_runs = pooled.group(0) if pooled else draw.group(0) if draw else ""
        # against scratch (what pre-training is worth) and the U-Net (the baseline) on the same labelled runs
        pairs += [(m, f"{other}_{share.group(1)}pct{same_runs}") for other in ("scratch", "unet")]
    return pairs


def pooled_repeats(run_tables: dict[str, dict], kind: str = "draw") -> dict[str, dict]:
    """``X`` and its ``X_drawN`` twins (other random choices of the labelled runs; ``kind="seed"``: ``X_seedN``,
    other training seeds) as one method ``X, N draws`` (``seeds``): per test run, the twins' contingency tables
    summed, so a paired test over runs compares the methods averaged over which runs were labelled (over the luck
    of one training run)."""
    groups: dict[str, list[str]] = {}
    for m in run_tables:
        groups.setdefault(re.sub(rf"_{kind}\d+", "", m), []).append(m)
    out = {}
    for base, members in groups.items():
        if len(members) < 2 or base not in members:
            continue
        out[f"{base}, {len(members)} {kind}s"] = {
            thr: [
                [sum(col) for col in zip(*per_run, strict=True)]
                for per_run in zip(*(run_tables[m][thr] for m in members), strict=True)
            ]
            for thr in run_tables[base]
        }
    return out


def compare(run_tables: dict[str, dict], pairs: list[tuple[str, str]]) -> list[dict]:
    """Paired bootstrap over test runs of the CSI difference, per pair and event threshold."""
    out = []
    for a, b in pairs:
        for thr in THRESHOLDS:
            ta = [dict(zip(TABLE_KEYS, c, strict=True)) for c in run_tables[a][f"{thr:g}"]]
            tb = [dict(zip(TABLE_KEYS, c, strict=True)) for c in run_tables[b][f"{thr:g}"]]
            d = paired_bootstrap_difference(ta, tb, "csi")
            out.append({"a": a, "b": b, "threshold": thr, **{k: round(v, 4) for k, v in d.items()}})
    return out


def compare_all(run_tables: dict[str, dict], ship: str, trained_on: Mapping[str, str | None]) -> list[dict]:
    """Every paired question (``comparison_pairs``) the methods in ``run_tables`` and their pools can answer, each
    labelled with whether its two sides learnt from the same training archive (``training.provenance``)."""
    pooled = {**pooled_repeats(run_tables), **pooled_repeats(run_tables, "seed")}
    pairs = comparison_pairs([*run_tables, *pooled], ship)
    return [
        {**c, "archives": comparison_archives(c["a"], c["b"], trained_on)}
        for c in compare({**run_tables, **pooled}, pairs)
    ]
