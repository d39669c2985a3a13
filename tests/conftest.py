"""Shared fixtures: one small demo archive per test session, written by the real generator."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.data.demo import generate


@pytest.fixture(autouse=True)
def _main_module_restored():
    """Streamlit installs the app's script as ``__main__`` while it runs it (AppTest too) and leaves it there; a
    worker process spawned by a later test (``engine.parallel``) would then run the whole app before its job."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture(scope="session")
def demo_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two runs x 49 lead times of the twin experiment, seed 7 (about 10 s)."""
    out = tmp_path_factory.mktemp("demo")
    return generate(out, runs=2, seed=7, leads=48, progress=False)


@pytest.fixture(scope="session")
def prediction_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ``PRECIP_CACHE`` for the tests that do not test the cache itself. Its entries are keyed by the run's
    files, the grid and the weights, so tests share a prediction exactly where one server's users would, and the
    network runs once per run of the suite instead of once per test (``test_predict`` tests the cache)."""
    return tmp_path_factory.mktemp("prediction_cache")


@pytest.fixture(scope="session")
def random_lite_weights(demo_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Lite weights (random init, real normalisation statistics) written through the shipping code path."""
    import torch

    from engine.data.catalog import Catalog
    from engine.model.config import LITE
    from engine.model.network import PostProcessor
    from engine.model.weights import save_weights
    from engine.normalise import compute_stats, stack_channels

    torch.manual_seed(0)
    stats = compute_stats(stack_channels(Catalog(demo_archive).load_run("2026070100", [1, 2, 3])))
    path = tmp_path_factory.mktemp("weights") / "test.safetensors"
    manifest = {
        "name": "test",
        "architecture": "postprocessor",
        "task": "segment",
        "model_config": LITE.to_dict(),
        "normalisation": stats.to_dict(),
    }
    save_weights(path, PostProcessor(LITE), manifest)
    return path


def run_engine(*args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """``python -m engine ARGS`` as a user runs it: a separate process, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "engine", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.fixture
def engine_cli() -> Callable[..., subprocess.CompletedProcess]:
    return run_engine
