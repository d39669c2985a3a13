"""The GPU inference path (bf16 autocast, pinned transfers). Skipped where no CUDA GPU is visible, as on CI; run
on a lent GPU by ``training/paper_gpu.sh``."""

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.data.catalog import Catalog
from engine.model.manifest import DEFAULT_WEIGHTS
from engine.normalise import normalise, stack_channels
from engine.predict import Predictor

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_shipped_weights_give_the_same_rain_classes_on_the_gpu_as_on_the_cpu(demo_archive: Path):
    cat = Catalog(demo_archive)
    cpu, gpu = Predictor(DEFAULT_WEIGHTS, device="cpu"), Predictor(DEFAULT_WEIGHTS, device="cuda")
    x = normalise(stack_channels(cat.load_run(cat.runs()[0], list(range(1, 13)))), cpu.stats)
    p_cpu, p_gpu = cpu.probabilities(x), gpu.probabilities(x)
    assert np.isfinite(p_gpu).all() and np.allclose(p_gpu.sum(axis=1), 1, atol=1e-3)
    assert np.abs(p_gpu - p_cpu).max() < 0.05  # bf16 autocast on the GPU, float32 on the CPU
    assert (p_gpu.argmax(axis=1) == p_cpu.argmax(axis=1)).mean() > 0.99
