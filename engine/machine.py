"""The machine a network was trained (or a benchmark timed) on: what decides a network's bits besides the code, the
data and the seeds, and what a speed figure was measured on.

Training is deterministic on one machine, but its bits depend on which SIMD kernels the libraries dispatch to:
ATen's vectorised kernels (``ATEN_CPU_CAPABILITY``), MKL's GEMMs (``MKL_ENABLE_INSTRUCTIONS``) and oneDNN's
convolutions (``ONEDNN_MAX_CPU_ISA``) round differently on AVX2 and AVX-512 machines, and a few hundred optimiser
steps turn those last-bit differences into other weights. A manifest therefore records the machine, so that a
rebuild that is not bit-identical can say whether the machine differed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

# CPU features that select different floating-point kernels (from /proc/cpuinfo's flags).
SIMD_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile")
# Environment variables that override the libraries' kernel dispatch.
DISPATCH_VARIABLES = ("ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS", "MKL_CBWR", "ONEDNN_MAX_CPU_ISA")


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> list[str] | None:
    """The SIMD features of this CPU among ``SIMD_FLAGS``; None where /proc/cpuinfo cannot tell (not Linux)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return None
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), None)
    if line is None:
        return None
    present = set(line.split(":", 1)[1].split())
    return [f for f in SIMD_FLAGS if f in present]


def machine(device: torch.device | str = "cpu") -> dict:
    """The arithmetic a training or benchmark ran on, as a manifest records it (``environment``)."""
    device = torch.device(device)
    return {
        "device": device.type,
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_flags": cpu_flags(),
        "threads": torch.get_num_threads(),
        "dispatch_overrides": {k: os.environ[k] for k in DISPATCH_VARIABLES if k in os.environ},
    }


def machine_differences(old: dict | None, new: dict | None) -> list[str] | None:
    """How two recorded machines differ (``key old -> new``); None when either manifest did not record one."""
    if not old or not new:
        return None
    return [f"{k} {old.get(k)} -> {new.get(k)}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
