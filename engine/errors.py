"""The one exception type that bad input raises; the CLI and the app turn it into a one-line message."""

from __future__ import annotations

from pathlib import Path


class DataError(Exception):
    """Input the engine cannot use: names the offending file (if any) and what is wrong with it."""

    def __init__(self, problem: str, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path is not None else problem)
