"""Which code a network was trained with: the git commit, and the training code that differed from it.

A manifest's ``git_commit`` names the commit checked out when the network trained; ``git_uncommitted`` lists the
Python files under ``engine/`` and ``training/`` that had uncommitted changes then, new files included. Weights
trained with any cannot be rebuilt from the commit alone; ``reproduce`` names them when a rebuild differs.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE = ("engine", "training")  # what trains a network; configs are recorded in the manifest itself


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    except (OSError, subprocess.CalledProcessError):
        return None


def git_commit() -> str:
    """The checked-out commit, or ``"unknown"`` outside a git checkout."""
    out = _git("rev-parse", "HEAD")
    return out.strip() if out else "unknown"


def uncommitted() -> list[str] | None:
    """Training code (``*.py`` under ``CODE``) that differs from the checked-out commit, new files included; None
    where git cannot tell."""
    out = _git("status", "--porcelain", "--untracked-files=all", "--", *CODE)
    if out is None:
        return None
    return sorted(line[3:] for line in out.splitlines() if line.endswith(".py"))


def changed_between(a: str, b: str) -> list[str] | None:
    """Training code that differs between commits ``a`` and ``b``; None where either is not in this history."""
    out = _git("diff", "--name-only", a, b, "--", *(f"{d}/*.py" for d in CODE))
    return None if out is None else sorted(out.split())


def code_clause(previous: dict, new: dict) -> str | None:
    """Why two manifests' networks may have run different code, or None where both record the same code: an
    uncommitted change on either side, or training code that changed between their commits."""
    for side, manifest in (("old", previous), ("new", new)):
        if files := manifest.get("git_uncommitted"):
            return f"the {side} weights were trained with uncommitted changes to {', '.join(files)}"
    a, b = previous.get("git_commit"), new.get("git_commit")
    if a and b and a != b and "unknown" not in (a, b) and (files := changed_between(a, b)):
        return f"the training code changed between their commits ({a[:8]} -> {b[:8]}: {', '.join(files)})"
    return None
