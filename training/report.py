"""``results/README.md``: the evaluation's tables for a reader, written from ``evaluation.json`` (aggregate scores per
dataset and decision, the training archives, the label-share and seed-spread tables, the paired differences)."""

from __future__ import annotations

import re

import numpy as np

from engine.verify.categorical import TABLE_KEYS, categorical_scores
from training.config import HELDOUT, THRESHOLDS
from training.fingerprint import short
from training.provenance import SEEN, UNKNOWN, by_archive, unseen


def _decision_ok(r: dict, decision: str) -> bool:
    return r["decision"] == decision or r["method"] == "raw_nwp"


def headline(rows: list[dict], method: str, dataset: str = "test", decision: str = "val_tuned") -> dict:
    out = {}
    for r in rows:
        if r["method"] == method and r["dataset"] == dataset and r["lead_time"] is None and _decision_ok(r, decision):
            out[f"csi_{r['threshold']:g}"] = r["csi"]
            out[f"f1_{r['threshold']:g}"] = r["f1"]
            out[f"bias_{r['threshold']:g}"] = r["bias"]
    return out


def window_csi(rows: list[dict], method: str, dataset: str, thr: float, decision: str, lo: int = 25, hi: int = 30):
    """CSI of ``method`` over lead times ``lo``-``hi`` h: its per-lead tables summed before the ratio."""
    sel = [
        r
        for r in rows
        if r["method"] == method
        and _decision_ok(r, decision)
        and r["dataset"] == dataset
        and r["threshold"] == thr
        and r["lead_time"] is not None
        and lo <= r["lead_time"] <= hi
    ]
    t = {k: sum(r[k] for r in sel) for k in TABLE_KEYS}
    v = categorical_scores(t)["csi"]
    return None if not np.isfinite(v) else round(float(v), 4)


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def render(result: dict) -> str:
    rows = result["rows"]
    lines = [
        "# Evaluation",
        "",
        f"Written by `python -m training evaluate --config {result['config']}` (every lead time is in",
        "`evaluation.json`). Contingency tables are summed over all test runs, lead times 1-48 h and QPE-valid",
        "pixels before the ratio. Model decisions: **val-tuned** = the event is forecast where P(event) reaches the",
        "probability threshold that maximised CSI on the validation runs (never the test runs); **argmax** = the most",
        "likely class. The raw NWP is its rain field against the same thresholds.",
        "",
        f"Test runs: {', '.join(result['test_runs'])}",
        "",
        f"Held-out runs ({HELDOUT}): {', '.join(result.get('heldout_runs', []))}",
        "",
        *_seen_note(result.get(SEEN, [])),
        "Val-tuned probability thresholds: "
        + "; ".join(
            f"{m}: " + ", ".join(f"{k} mm/h -> {v}" for k, v in t.items())
            for m, t in result.get("decision_thresholds", {}).items()
        ),
        "",
        "Validation CSI at those thresholds (the shipped method is chosen on these, never on the test runs): "
        + "; ".join(
            f"{m}: " + ", ".join(f"{v} at {k} mm/h" for k, v in t.items())
            for m, t in result.get("validation_csi", {}).items()
        ),
        "",
        *_archives(result),
    ]
    for dataset in sorted({r["dataset"] for r in rows}, key=lambda d: d != "test"):
        for decision in ("val_tuned", "argmax"):
            lines += [
                f"## {dataset}, {decision.replace('_', '-')} decisions",
                "",
                "| method | CSI 0.1 | F1 0.1 | bias 0.1 | CSI 10 | F1 10 | POD 10 | FAR 10 | bias 10 | ETS 10 "
                "| CSI 10, 25-30 h | CSI 10 vs NWP |",
                "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
            ]
            base = headline(rows, "raw_nwp", dataset).get("csi_10")
            for method in dict.fromkeys(r["method"] for r in rows if r["dataset"] == dataset):
                agg = {
                    r["threshold"]: r
                    for r in rows
                    if r["method"] == method
                    and r["dataset"] == dataset
                    and r["lead_time"] is None
                    and _decision_ok(r, decision)
                }
                a, b = agg[0.1], agg[10.0]
                ratio = f"{b['csi'] / base:.2f}x" if base and b["csi"] is not None else "-"
                lines.append(
                    f"| {method} | {_fmt(a['csi'])} | {_fmt(a['f1'])} | {_fmt(a['bias'])} | {_fmt(b['csi'])} | "
                    f"{_fmt(b['f1'])} | {_fmt(b['pod'])} | {_fmt(b['far'])} | {_fmt(b['bias'])} | {_fmt(b['ets'])} | "
                    f"{_fmt(window_csi(rows, method, dataset, 10.0, decision))} | {ratio} |"
                )
            lines.append("")
    comparisons = _comparisons(result.get("comparisons", []), result.get(SEEN, []))
    unseen = _unseen_heldout(result)
    return "\n".join(lines + unseen + _label_share(rows) + _seed_spread(rows) + comparisons)


def _archives(result: dict) -> list[str]:
    """Which training archive each network learnt from, when the evaluation recorded it."""
    trained_on = result.get("trained_on")
    if not trained_on:
        return []
    test = result.get("test_archive")
    groups = [
        f"{'not recorded' if fp is None else f'`{short(fp)}`'}"
        + (" (the archive the latest evaluation read its test runs from)" if fp is not None and fp == test else "")
        + f": {', '.join(methods)}"
        for fp, methods in by_archive(trained_on).items()
    ]
    lines = ["Training archive of each network (the fingerprint in its manifest): " + "; ".join(groups) + "."]
    if len(by_archive(trained_on)) > 1:
        lines += [
            "",
            "Networks trained on different archives differ by about one training seed's luck even where the",
            "archives differ only at rounding level (experiments.md), so a comparison across archives (the",
            "`training archives` column below) measures the archive as well as the method.",
        ]
    return [*lines, ""]


def _seen_note(seen: list[str]) -> list[str]:
    """What a config that pre-trained on held-out runs' NWP must say beside its held-out figures."""
    if not seen:
        return []
    return [
        f"**Pre-training read the NWP (never the QPE) of {len(seen)} of these held-out runs** ({seen[0]} to "
        f"{seen[-1]}). The held-out rows below include them; the table of the runs no pre-training read and the "
        "paired tests leave them out, as `python -m training compare` does.",
        "",
    ]


def _unseen_heldout(result: dict) -> list[str]:
    """Where a config's pre-training read some held-out runs: each network's scores on the others alone (its
    per-run tables summed, val-tuned decisions). The raw NWP keeps no per-run tables, so it is not in this table."""
    seen = result.get(SEEN, [])
    runs = unseen(result.get("heldout_runs", []), {}, seen)[0]
    if not seen or not runs:
        return []
    lines = [
        f"## {HELDOUT}, the {len(runs)} runs no pre-training read ({runs[0]} to {runs[-1]}), val-tuned",
        "",
        "| method | CSI 0.1 | bias 0.1 | CSI 10 | POD 10 | FAR 10 | bias 10 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for method, tables in result.get("heldout_run_tables", {}).items():
        kept = unseen(result["heldout_runs"], tables, seen)[1]
        scores = {}
        for thr in THRESHOLDS:
            summed = {k: sum(t[j] for t in kept[f"{thr:g}"]) for j, k in enumerate(TABLE_KEYS)}
            scores[thr] = {k: float(v) if np.isfinite(v) else None for k, v in categorical_scores(summed).items()}
        lo, hi = scores[THRESHOLDS[0]], scores[THRESHOLDS[1]]
        lines.append(
            f"| {method} | {_fmt(lo['csi'])} | {_fmt(lo['bias'])} | {_fmt(hi['csi'])} | {_fmt(hi['pod'])} | "
            f"{_fmt(hi['far'])} | {_fmt(hi['bias'])} |"
        )
    return [*lines, ""]


def _comparisons(comparisons: list[dict], seen: list[str]) -> list[str]:
    """One table of paired differences per dataset (rows without a dataset predate the held-out tests: test)."""
    lines: list[str] = []
    for dataset in dict.fromkeys(c.get("dataset", "test") for c in comparisons):
        runs = "test runs" if dataset == "test" else f"{dataset} runs (a generator seed never used in training)"
        left_out = f", less the {len(seen)} the pre-training read" if dataset == HELDOUT and seen else ""
        lines += [
            f"## Are the differences real? ({runs}{left_out}, val-tuned, paired bootstrap over runs)",
            "",
            "CSI(A) - CSI(B) on all those runs, its 95 % interval from 2000 resamples of the runs (the same draw",
            "for both, Hamill 1999), and the share of resamples in which A scores higher.",
            "",
            "| A | B | event | CSI(A) - CSI(B) | 95 % interval | P(A better) | training archives |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for c in comparisons:
            if c.get("dataset", "test") == dataset:
                lines.append(
                    f"| {c['a']} | {c['b']} | >= {c['threshold']:g} mm/h | {c['difference']:+.3f} | "
                    f"{c['low']:+.3f} to {c['high']:+.3f} | {c['p_better']:.2f} | {c.get('archives', UNKNOWN)} |"
                )
        lines.append("")
    return lines


def _test_aggregates(rows: list[dict]) -> list[dict]:
    """The rows the ablation tables read: test runs, all lead times together, val-tuned decisions."""
    return [r for r in rows if r["dataset"] == "test" and r["lead_time"] is None and r["decision"] == "val_tuned"]


def _label_share(rows: list[dict]) -> list[str]:
    """CSI against the share of labelled training runs, for each method trained at several shares."""
    share = re.compile(r"_(\d+)pct")
    by: dict[str, dict[int, dict]] = {}
    for r in _test_aggregates(rows):
        m = share.search(r["method"])
        base = share.sub("", r["method"]).replace("_continuous", "")
        by.setdefault(base, {}).setdefault(int(m.group(1)) if m else 100, {})[r["threshold"]] = r["csi"]
    by = {b: v for b, v in by.items() if len(v) > 1}
    if not by:
        return []
    shares = sorted({p for v in by.values() for p in v})
    lines = [
        "## Skill against the labelled share of the training runs (test, val-tuned)",
        "",
        "| method | "
        + " | ".join(f"CSI 0.1, {p} %" for p in shares)
        + " | "
        + " | ".join(f"CSI 10, {p} %" for p in shares)
        + " |",
        "| --- |" + " --- |" * (2 * len(shares)),
    ]
    for base, v in by.items():
        cells = [_fmt(v.get(p, {}).get(thr)) for thr in THRESHOLDS for p in shares]
        lines.append(f"| {base} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _seed_spread(rows: list[dict]) -> list[str]:
    """Test CSI of each training seed of the methods trained more than once (``_seedN``, val-tuned)."""
    by: dict[str, dict[str, dict]] = {}
    for r in _test_aggregates(rows):
        by.setdefault(re.sub(r"_seed\d+", "", r["method"]), {}).setdefault(r["method"], {})[r["threshold"]] = r
    by = {b: v for b, v in by.items() if len(v) > 1}
    if not by:
        return []
    lines = [
        "## Spread over training seeds (test, val-tuned)",
        "",
        "The same method trained again from other random numbers (pre-training included): initial weights, data",
        "order, crops, masks. A difference between methods smaller than this spread is one training run's luck.",
        "",
        "| method | seeds | CSI 0.1 per seed | CSI 10 per seed | CSI 10 mean | CSI 10 range |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for base, seeds in by.items():
        seeds = dict(sorted(seeds.items(), key=lambda kv: _seed_of(kv[0])))  # seed 0 first, whatever the row order
        heavy = [v[10.0]["csi"] for v in seeds.values()]
        scored = [c for c in heavy if c is not None]  # None: a seed that never forecast or saw the event
        mean, spread = (float(np.mean(scored)), max(scored) - min(scored)) if scored else (None, None)
        lines.append(
            f"| {base} | {len(seeds)} | {', '.join(_fmt(v[0.1]['csi']) for v in seeds.values())} | "
            f"{', '.join(_fmt(c) for c in heavy)} | {_fmt(mean)} | {_fmt(spread)} |"
        )
    return [*lines, ""]


def _seed_of(method: str) -> int:
    seed = re.search(r"_seed(\d+)", method)
    return int(seed.group(1)) if seed else 0
