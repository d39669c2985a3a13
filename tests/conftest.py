"""Shared fixtures: one small demo archive per test session, written by the real generator."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.data.demo import generate


@pytest.fixture(scope="session")
def demo_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two runs x 49 lead times of the twin experiment, seed 7 (about 10 s)."""
    out = tmp_path_factory.mktemp("demo")
    return generate(out, runs=2, seed=7, leads=48, progress=False)
