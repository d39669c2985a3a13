"""Model card: what the model is, how it was trained and evaluated, its provenance and its limits."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import streamlit as st

from app.state import weights_problem
from engine.errors import DataError
from engine.model.manifest import DEFAULT_WEIGHTS, FULL_METHOD, fair_unet, read_manifest, shipped_method

RESULTS = Path(__file__).resolve().parents[2] / "training" / "results" / "README.md"

DATASETS = {
    "test": "test runs (training season)",
    "heldout_seed2024": "held-out archive (a generator seed never trained on)",
}
SCORES = {"csi": "CSI", "f1": "F1", "bias": "bias"}


def headline_networks(ship: str) -> dict[str, str]:
    """Evaluation method -> label, for the networks set against each other; a shipped recipe beyond the full
    method (e.g. ``_grid2``) is shown beside the full method and a U-Net trained the same way."""
    names = {"unet": "U-Net from scratch", "scratch": "this network, no pre-training"}
    if ship != FULL_METHOD:
        names[fair_unet(ship)] = "U-Net, trained as the shipped network"
        names[FULL_METHOD] = "this network, pre-trained, crops only"
    return {**names, ship: "this network, pre-trained (shipped)"}


def recipe(manifest: dict | None) -> str:
    """One sentence on a second fine-tuning phase of the shipped network, if it had one."""
    tail = ((manifest or {}).get("method") or {}).get("tail")
    if not tail:
        return ""
    where = "the whole 160 x 160-pixel grid" if tail["whole_grid"] else "crops"
    return (
        f" After fine-tuning on crops it trained {tail['epochs']} more epochs on {where} at "
        f'{tail["lr_scale"]:.0%} of the learning rates (training/results/experiments.md, "Crops, then a short '
        'whole-grid phase").'
    )


def deviations(manifest: dict | None) -> str:
    """The shipped network's departures from the paper's recipe, read from its manifest (each was chosen on
    validation runs; README, "The model")."""
    model = (manifest or {}).get("model_config") or {}
    pretrain = ((manifest or {}).get("training_config") or {}).get("pretrain") or {}
    found = []
    if model.get("patch", 16) != 16:
        found.append(f"{model['patch']}-pixel patches (the paper 16)")
    if model.get("high_res_skip"):
        reads = " and the input fields" if model.get("skip_reads_input") else ""
        found.append(f"a full-resolution refinement of the head's output from the patch embedding{reads}")
    if "restart_epochs" in pretrain and pretrain["restart_epochs"] is None:
        found.append(
            f"a pre-training learning rate annealed once over its {pretrain.get('epochs', '?')} epochs (the paper "
            "restarts every 120 epochs, which a short run never reaches)"
        )
    if not found:
        return "No deviation from the paper's architecture or pre-training schedule is recorded."
    count = ("One deviation", "Two deviations", "Three deviations", "Four deviations")[min(len(found), 4) - 1]
    return f"{count} from the paper, each chosen on validation runs: " + "; ".join(found) + "."


def headline_table(metrics: dict) -> pd.DataFrame:
    """The manifest's headline metrics, one row per data set and forecast, with the heavy-rain CSI ratio."""
    rows = []
    for key, where in DATASETS.items():
        for source, name in ((key, "post-processed"), (f"raw_nwp_{key}", "raw NWP")):
            if source not in metrics:
                continue
            m = metrics[source]
            row = {"data": where, "forecast": name}
            row |= {f"{label} {t} mm/h": m.get(f"{k}_{t}") for t in ("0.1", "10") for k, label in SCORES.items()}
            raw = metrics.get(f"raw_nwp_{key}", {}).get("csi_10")
            row["CSI 10 mm/h vs raw NWP"] = f"{m['csi_10'] / raw:.1f}x" if raw else "-"
            rows.append(row)
    return pd.DataFrame(rows).round(3)


def any_hour_table(any_hour: dict, manifest: dict) -> pd.DataFrame:
    """The manifest's scores of the event at some hour of a run: per data set and event, the raw NWP and the
    model at its hourly and at its any-hour probability threshold."""
    from engine.calibration import any_hour_probability, default_probability_threshold

    rows = []
    for dataset, events in any_hour.items():
        for event, by_forecast in events.items():
            thr = float(event)
            names = {
                "raw_nwp": "raw NWP",
                "model_hourly": f"model, P >= {default_probability_threshold(manifest, thr):.2f} (hourly threshold)",
                "model_any_hour": f"model, P >= {any_hour_probability(manifest, thr):.2f} (any-hour threshold)",
            }
            for key, name in names.items():
                r = by_forecast[key]
                rows.append(
                    {
                        "data": DATASETS.get(dataset, dataset),
                        "event": f">= {event} mm/h",
                        "forecast": name,
                        "CSI": r["csi"],
                        "CSI 95% interval": "{:.3f}-{:.3f}".format(*r["csi_ci95"]),
                        "bias": r["bias"],
                    }
                )
    return pd.DataFrame(rows)


def digits(table: pd.DataFrame, places: int) -> dict:
    """Column settings that show every numeric column of ``table`` to ``places`` decimals."""
    numeric = table.select_dtypes("number").columns
    return {c: st.column_config.NumberColumn(format=f"%.{places}f") for c in numeric}


def trained_on(environment: dict | None) -> str:
    """The machine the weights were trained on: its kernels decide their bits (``engine.machine``)."""
    if not environment:
        return "not recorded (a rebuild on a CPU with other SIMD kernels trains other weights of like skill)"
    where = environment.get("gpu") or (
        f"CPU with {environment.get('cpu_capability')} kernels, {environment.get('threads')} threads"
    )
    return f"{where}, torch {environment.get('torch')}"


def code_state(uncommitted: list[str] | None) -> str:
    """What the commit leaves out of the code the weights trained with (``training.code_version``)."""
    if uncommitted is None:
        return " (uncommitted changes not recorded)"
    return f", with uncommitted changes to {', '.join(uncommitted)}" if uncommitted else " (clean)"


def markdown_table(body: str) -> pd.DataFrame:
    """The first markdown table in ``body`` as a frame of strings."""
    lines = [line.strip() for line in body.splitlines() if line.strip().startswith("|")]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    return pd.DataFrame(cells[2:], columns=cells[0]) if len(cells) > 2 else pd.DataFrame()


def _ranking_clause(ship: str, baseline: str) -> str:
    """What ``python -m training probabilities`` found for the shipped method against ``baseline`` (a U-Net) at
    10 mm/h on the test runs, if it was run for both: the threshold-free side of the comparison."""
    path = RESULTS.with_name("probabilities.json")
    if not path.exists():
        return ""
    result = json.loads(path.read_text())
    wanted = (ship, baseline, "test", 10.0)

    def pair(rows: list[dict]) -> dict | None:
        return next((c for c in rows if (c["a"], c["b"], c["dataset"], c["threshold"]) == wanted), None)

    c = pair(result.get("comparisons", []))
    if c is None:
        return ""
    ranks = c["low"] > 0
    verdict = "ranks heavy-rain pixels better" if ranks else "ranks heavy-rain pixels no better"
    clause = (
        f" As a probability forecast it {verdict} than that U-Net: ROC area {c['difference']:+.3f} "
        f"({c['low']:+.3f} to {c['high']:+.3f}, run bootstrap; training/results/probabilities.md)."
    )
    h = pair(result.get("thresholds", {}).get("comparisons", []))
    if h is not None and h["hindsight"]["low"] <= 0:
        b = h["hindsight"]
        if ranks:
            lead = " That lead is not where CSI is decided: even at"
        else:
            lead = " Nor does another threshold close the CSI gap: at" if b["difference"] < 0 else " At"
        clause += (
            lead + f" the best threshold in hindsight its CSI at 10 mm/h is {b['difference']:+.3f} against the "
            f"U-Net's ({b['low']:+.3f} to {b['high']:+.3f})."
        )
    return clause


def results_sections(text: str) -> dict[str, str]:
    """The results README split at its ``## `` headings: {heading: body}."""
    parts = text.split("\n## ")
    return {part.split("\n", 1)[0]: part.split("\n", 1)[1] if "\n" in part else "" for part in parts[1:]}


st.title("Model card")
try:
    manifest = read_manifest(DEFAULT_WEIGHTS)
except DataError as exc:
    st.warning(f"No shipped weights: {exc}")
    manifest = None
if manifest is not None and (problem := weights_problem()):
    st.error(f"{problem}: the other pages show raw NWP against QPE only. This card is what the manifest records.")
method = (manifest or {}).get("method") or {}
masked = f"{method['pretrain_mask_ratio']:.0%} masked in the shipped model" if method.get("pretrain_mask_ratio") else ""
weights = (method.get("loss") or {}).get("class_weights")
st.markdown(
    f"""
**What it is.** A deep post-processor for hourly NWP rain over Korea: the 16 NWP fields of a lead time
(heights, temperatures, humidity and winds at 850/500 hPa and near the surface, sea-level pressure, NWP rain) go
in; the probabilities of three rain classes per 5 km pixel come out: < 0.1, 0.1–10 and ≥ 10 mm/h.

**Method** (An et al. 2023, arXiv 2310.20187; Lee et al. 2025, arXiv 2412.05825): 3-D patch embedding over
(variable groups, y, x) with MAE-style masking, an InternImage encoder (deformable convolution v3) and a UPerNet
head; self-supervised pre-training reconstructs masked patches ({masked + "; " if masked else ""}the paper masks
90%); the encoder is then fine-tuned for segmentation with a mix of one-hot and continuous (probability-density)
labels{f", class weights {', '.join(f'{w:g}' for w in weights)}" if weights else ""}.
"""
    + deviations(manifest)
    + recipe(manifest)
)
metrics = manifest.get("metrics", {}) if manifest else {}
SHIP = (shipped_method(manifest) if manifest else None) or FULL_METHOD
if manifest:
    st.subheader("Headline metrics")
    st.caption(
        "Contingency tables summed over runs, lead times 1-48 h and QPE-valid pixels; the model forecasts an event "
        "where its probability reaches the threshold tuned on validation runs. Bias = forecast / observed area."
    )
    table = headline_table(metrics)
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        placeholder="–",
        column_config=digits(table, 3),  # every score to three decimals: 0.050 beside 0.352, not 0.05
    )
    c1, c2 = st.columns(2)
    c1.subheader("Provenance")
    c1.markdown(
        f"- weights: `{manifest['file']}`\n- sha256: `{manifest['sha256']}`\n"
        f"- git commit: `{manifest.get('git_commit', '?')}`{code_state(manifest.get('git_uncommitted'))}\n"
        f"- data fingerprint: `{manifest.get('data_fingerprint', '?')[:16]}…`\n"
        f"- training runs: {len(manifest.get('train_runs', []))}, test runs: {len(manifest.get('test_runs', []))}\n"
        f"- trained on: {trained_on(manifest.get('environment'))}"
    )
    with c2.expander("Model configuration"):
        st.json(manifest["model_config"])
    with c2.expander("Metrics as stored in the manifest"):
        st.json(metrics)
calibration = metrics.get("calibration")
if calibration:
    st.subheader("Probabilities")
    st.caption(
        "The class weights that buy heavy-rain detection inflate the network's probabilities. The maps show them "
        "calibrated: isotonic regression fitted on the validation runs, checked here on runs it was not fitted on. "
        "Reliability term: Murphy's mean squared gap between forecast probability and observed frequency "
        "(0 = a forecast P happens P of the time)."
    )
    probabilities = pd.DataFrame(
        [
            {
                "data": DATASETS.get(dataset, dataset),
                "event": f">= {event} mm/h",
                "observed frequency": r["observed_frequency"],
                "mean P, raw": r["mean_probability_raw"],
                "mean P, calibrated": r["mean_probability_calibrated"],
                "reliability, raw": r["reliability_raw"],
                "reliability, calibrated": r["reliability_calibrated"],
            }
            for dataset, events in calibration.items()
            for event, r in events.items()
        ]
    )
    st.dataframe(
        probabilities,
        hide_index=True,
        width="stretch",
        placeholder="–",
        # frequencies to 4 decimals; reliability terms, as small as 2e-5 at heavy rain, to 5
        column_config={**digits(probabilities, 4), **digits(probabilities.filter(like="reliability"), 5)},
    )
any_hour = metrics.get("any_hour")
if any_hour:
    st.subheader("Rain at some hour of the run")
    st.caption(
        "The event at any hour of a run: a pixel has it if rain reaches the threshold in some observed hour, the "
        "model if its highest P over those hours reaches a threshold of its own, tuned on validation runs "
        "(`python -m training any-hour`); a hit wherever both had it, whichever hours. The hourly threshold, "
        "tuned for single hours, flags too little of a run. The wettest-hour table and the verification page's "
        "*any hour* columns start at the any-hour threshold. 95 % intervals: bootstrap over runs."
    )
    table = any_hour_table(any_hour, manifest)
    st.dataframe(table, hide_index=True, width="stretch", placeholder="–", column_config=digits(table, 3))
st.subheader("Against the baselines")
sections = results_sections(RESULTS.read_text()) if RESULTS.exists() else {}
seeds = next((body for head, body in sections.items() if head.startswith("Spread over training seeds")), None)
spread = markdown_table(seeds) if seeds else pd.DataFrame()
if not spread.empty:
    st.markdown(
        "The same data and training budget for every network, each trained from several random seeds (test runs, "
        "validation-tuned thresholds):"
    )
    networks = headline_networks(SHIP)
    headline = spread[spread["method"].isin(networks)].assign(network=lambda d: d["method"].map(networks))
    st.dataframe(headline.set_index("network"), width="stretch", placeholder="–")
    with st.expander("Full evaluation: every method and ablation, per data set, with paired tests"):
        st.markdown(RESULTS.read_text().split("\n## ")[0].split("\n", 1)[1])  # how the tables were made
        st.markdown("\n".join(f"### {head}\n{body}" for head, body in sections.items()))
else:
    st.info("No evaluation table yet: run `python -m training evaluate --config training/configs/lite.yaml`.")
st.subheader("Limits")
limits = [
    "Trained on the **twin-experiment demo data**, not on KMA observations: its skill numbers say what the method "
    "recovers from a known, synthetic error model. Retrain (`python -m training reproduce`) on real KIM/RDAPS + QPE "
    "before operational use.",
    "Knows two rain thresholds only (0.1 and 10 mm/h); other thresholds are scored for the raw NWP alone.",
    "**Two thresholds: the hour's and the run's.** The sidebar's probability threshold is tuned for single hours: "
    "over a whole run it flags about a third of the area heavy rain covers, and scored that way (timing forgiven) "
    "it is level with the raw NWP. The event at some hour of a run has a threshold of its own, lower, tuned on "
    "validation runs (*Rain at some hour of the run* above; training/results/findings.md). Read a run's heavy-rain "
    "footprint on the *wettest hour of the run* map at that threshold, not at the hourly one.",
    "The NWP's random errors (unpredictable convection, measurement noise) cannot be recovered by any post-processor.",
]
mean10 = dict(zip(spread.get("method", []), pd.to_numeric(spread.get("CSI 10 mean", []), errors="coerce"), strict=True))
# Against the U-Net trained as the shipped network where the evaluation has it (the fair pair), else the plain one.
baseline = next((u for u in (fair_unet(SHIP), "unet") if u in mean10), None)
if baseline and SHIP in mean10 and mean10[SHIP] < mean10[baseline] + 0.01:
    limits.insert(
        1,
        "**Not better than a U-Net at heavy rain in CSI.** With all training labels, its CSI at 10 mm/h on the "
        "test runs averages "
        f"{mean10[SHIP]:.3f} over seeds against {mean10[baseline]:.3f} for a U-Net trained on the same data"
        f"{' the same way' if baseline != 'unet' else ''} (`{baseline}`; paired tests in the full evaluation). "
        "Pre-training pays only with scarce labels and only at light rain: with 10 % of the training runs labelled "
        "it gains light rain on average over which runs are labelled, not on every choice of them, and costs a "
        "little heavy rain; with 25 % it no longer pays." + _ranking_clause(SHIP, baseline),
    )
held = metrics.get("heldout_seed2024", {})
raw_held = metrics.get("raw_nwp_heldout_seed2024", {}).get("bias_10", float("nan"))
held_runs = ((manifest or {}).get("training_config") or {}).get("heldout_runs")
held_sample = f"{held_runs} runs" if held_runs else "run count not recorded in the manifest"
if held.get("bias_10", 1.0) > 1.25:
    limits.insert(
        2,
        f"**Over-forecasts heavy-rain area on unseen weather**: bias {held['bias_10']:.2f} at 10 mm/h on the held-out "
        f"archive ({held_sample}; 1 = right area; raw NWP {raw_held:.2f}). One season's weather moves this "
        "figure: the full evaluation scores a longer held-out season too."
        " Raise the model probability threshold in the viewer to trade hits for fewer false alarms.",
    )
st.markdown("\n".join(f"- {line}" for line in limits))
