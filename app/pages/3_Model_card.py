"""Model card: what the model is, how it was trained and evaluated, its provenance and its limits."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import streamlit as st

from engine.errors import DataError
from engine.model.weights import DEFAULT_WEIGHTS, read_manifest

st.set_page_config(page_title="Model card", page_icon="🧾", layout="wide")
RESULTS = Path(__file__).resolve().parents[2] / "training" / "results" / "README.md"

st.title("Model card")
st.markdown(
    """
**What it is.** A deep post-processor for hourly NWP rain over Korea: the 16 NWP fields of a lead time
(heights, temperatures, humidity and winds at 850/500 hPa and near the surface, sea-level pressure, NWP rain) go
in; the probabilities of three rain classes per 5 km pixel come out: < 0.1, 0.1–10 and ≥ 10 mm/h.

**Method** (An et al. 2023, arXiv 2310.20187; Lee et al. 2025, arXiv 2412.05825): 3-D patch embedding over
(variable groups, y, x) with MAE-style masking, an InternImage encoder (deformable convolution v3) and a UPerNet
head; self-supervised pre-training reconstructs masked patches (75 % masked in the shipped model; the paper uses
90 %); the encoder is then fine-tuned for
segmentation with a mix of one-hot and continuous (probability-density) labels, class weights [1, 5, 10].
Two deviations from the paper, both chosen on validation runs: the shipped lite model uses 8-pixel patches (the
paper 16) and refines the head at full resolution from the patch embedding and the input fields.
"""
)
try:
    manifest = read_manifest(DEFAULT_WEIGHTS)
except DataError as exc:
    st.warning(f"No shipped weights: {exc}")
    manifest = None
if manifest:
    c1, c2 = st.columns(2)
    c1.subheader("Provenance")
    c1.markdown(
        f"- weights: `{manifest['file']}`\n- sha256: `{manifest['sha256']}`\n"
        f"- git commit: `{manifest.get('git_commit', '?')}`\n"
        f"- data fingerprint: `{manifest.get('data_fingerprint', '?')[:16]}…`\n"
        f"- training runs: {len(manifest.get('train_runs', []))}, test runs: {len(manifest.get('test_runs', []))}"
    )
    c2.subheader("Headline metrics")
    c2.json(manifest.get("metrics", {}))
    with st.expander("Model configuration"):
        st.json(manifest["model_config"])
st.subheader("Evaluation")
if RESULTS.exists():
    st.markdown(RESULTS.read_text().split("\n", 1)[1])
else:
    st.info("No evaluation table yet: run `python -m training evaluate --config training/configs/lite.yaml`.")
st.subheader("Limits")
st.markdown(
    """
- Trained on the **twin-experiment demo data**, not on KMA observations: its skill numbers say what the method
  recovers from a known, synthetic error model. Retrain (`python -m training reproduce`) on real KIM/RDAPS + QPE
  before operational use.
- Knows two rain thresholds only (0.1 and 10 mm/h); other thresholds are scored for the raw NWP alone.
- The NWP's random errors (unpredictable convection, measurement noise) cannot be recovered by any post-processor.
"""
)
