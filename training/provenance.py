"""Which training archive each scored network learnt from, and whether a comparison mixes archives.

Every network's manifest records the fingerprint of the archive it was trained on (``data_fingerprint``,
``training.fingerprint``). Two archives that differ only at rounding level (the same generator on another machine)
still send training elsewhere, by about as much as another training seed: on this twin the full method
retrained on a regenerated archive scored 0.015 CSI lower at 10 mm/h on the test runs (experiments.md, "Which full
method to compare with"). A paired test between networks trained on different archives therefore measures the
archive as well as the method. ``evaluate`` records each method's archive (``trained_on`` in ``evaluation.json``)
and labels its comparisons; ``compare`` says so for methods of two files.

A config may also pre-train on NWP runs of the held-out archive itself (``data.unlabelled`` pointing at it, with
``before``: the season so far). ``evaluate`` then records those runs (``heldout_seen_in_pretraining``), and every
paired test on the held-out archive leaves them out (``unseen``): a network is never judged on a run whose inputs
it has read.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping

from training.fingerprint import is_listing, short

POOLED = re.compile(r"^(?P<base>.+), \d+ (?P<kind>seed|draw)s$")
SAME = "same"
UNKNOWN = "cannot tell"
SEEN = "heldout_seen_in_pretraining"  # evaluation.json: held-out runs whose NWP the config's pre-training read


def members(name: str, methods: Iterable[str]) -> list[str]:
    """The networks behind a method name among ``methods``: the method itself, or for a pooled name ``X, N seeds``
    (``X, N draws``, as ``training.questions.pooled_repeats`` names them) ``X`` and its ``_seedN`` (``_drawN``)
    twins."""
    pooled = POOLED.match(name)
    if pooled is None:
        return [name]
    base, kind = pooled["base"], pooled["kind"]
    return [m for m in methods if re.sub(rf"_{kind}\d+", "", m) == base]


def archives(name: str, trained_on: Mapping[str, str | None]) -> set[str | None]:
    """The training-archive fingerprints of the networks behind ``name`` (None where a network's is unknown)."""
    return {trained_on.get(m) for m in members(name, trained_on) or [name]}


def archive_label(a: set[str | None], b: set[str | None]) -> str:
    """``"same"`` when every network on both sides learnt from one archive; ``"cannot tell"`` when an archive was
    not recorded or the fingerprints are of two kinds (``training.fingerprint``: an older listing fingerprint and a
    content one never match, even for one archive); otherwise the short fingerprints of each side,
    ``"3b7b1ff1 vs 778d44bc"`` (``+`` joins a side's several archives)."""
    both = a | b
    if None in both or not a or not b or len({is_listing(fp) for fp in both if fp is not None}) > 1:
        return UNKNOWN
    if len(both) == 1:
        return SAME

    def side(fps: set) -> str:
        return "+".join(sorted(short(fp) for fp in fps))

    return f"{side(a)} vs {side(b)}"


def comparison_archives(a: str, b: str, trained_on: Mapping[str, str | None]) -> str:
    """``archive_label`` for methods (or pooled names) ``a`` and ``b`` of one evaluation."""
    return archive_label(archives(a, trained_on), archives(b, trained_on))


def by_archive(trained_on: Mapping[str, str | None]) -> dict[str | None, list[str]]:
    """Methods grouped by the archive they learnt from, in ``trained_on``'s order."""
    out: dict[str | None, list[str]] = {}
    for method, fp in trained_on.items():
        out.setdefault(fp, []).append(method)
    return out


def seen_in_pretraining(sources: Iterable[tuple[str | None, Iterable[str]]], heldout_fingerprint: str) -> list[str]:
    """The held-out runs a config's pre-training read. ``sources``: (fingerprint, runs) of the unlabelled data as
    its store holds it now and as each network's manifest recorded it at training time (a store rebuilt later
    with an earlier cut-off must not hide what a network read); runs count where the unlabelled data is the
    held-out archive itself, compared by content fingerprint, so a copy under another path counts too."""
    return sorted({run for fp, runs in sources if fp == heldout_fingerprint for run in runs})


def unseen(runs: list[str], tables: Mapping[str, list], seen: Collection[str]) -> tuple[list[str], dict]:
    """``runs`` without those in ``seen``, and per-run ``tables`` (``{threshold: [one table per run]}``) on them."""
    keep = [i for i, r in enumerate(runs) if r not in seen]
    return [runs[i] for i in keep], {thr: [per_run[i] for i in keep] for thr, per_run in tables.items()}


def data_changes(then: Mapping[str, str], now: Mapping[str, str]) -> list[str]:
    """The entries that differ between two records of the data a training read (``training.pretrain.
    pretraining_data``: fingerprints and runs). Fingerprints of two kinds (listing and content) cannot be compared
    and pass; a record that holds nothing (written before records were kept) passes."""
    if not then:
        return []
    changed = [
        key
        for key in sorted(then.keys() & now.keys())
        if then[key] != now[key] and not (key.endswith("fingerprint") and is_listing(then[key]) != is_listing(now[key]))
    ]
    return changed + sorted(then.keys() ^ now.keys())
