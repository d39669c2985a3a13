"""Independent jobs in worker processes, results in order: how the demo archive and the training store use a
machine's cores. Processes are spawned, not forked (the caller may hold torch's thread pools, which do not survive a
fork), and only where they pay back their start-up."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor

# A worker process spends about 2 s importing the engine before its first job (a run or a day of files, 2-4 s):
# with fewer jobs each than this, fewer processes (or this one) are faster.
JOBS_PER_WORKER = 3


def _call(job: tuple[Callable, tuple]) -> object:
    fn, args = job
    return fn(*args)


def in_processes(jobs: Sequence[tuple[Callable, tuple]], workers: int) -> Iterator:
    """``fn(*args)`` for each ``(fn, args)`` job, yielded in job order, in up to ``workers`` processes with at least
    ``JOBS_PER_WORKER`` jobs each; in this process when that leaves one. ``fn`` must be a module-level function."""
    workers = min(workers, len(jobs) // JOBS_PER_WORKER)
    if workers <= 1:
        yield from (_call(job) for job in jobs)
        return
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield from pool.map(_call, jobs)
