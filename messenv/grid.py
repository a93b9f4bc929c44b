"""A grid of evaluations (benchmark/α pairs × agent parameters × seeds) in one process pool.

Hydra's multirun starts a job per grid point: composing the config, creating a run dir, loading
the recording and its features, every time. The MESS+ paper grid is 8 benchmarks × 9 (c, V)
pairs × 3 seeds = 216 episodes, so the per-job overhead would dominate. Here a *cell* is one
(benchmark, α, seed): its stream is drawn once, every parameter set of the agent (and any
baseline) plays it, and the oracle is solved once. Cells are independent and seeded, so they run
on ``n_jobs`` worker processes with results identical to a sequential run. On Linux the workers
are forks of the runner made after it loaded the recording, so they share it (copy-on-write) and
start without importing anything; elsewhere joblib's workers each load the recording once and
keep it. Either way the prompt features are read memory-mapped from the one cache file
(:func:`messenv.recordings.features.ensure_features`), so the workers share a single copy of them
through the page cache instead of holding one each.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

from joblib import Parallel, delayed

from messenv.evaluate import TaskSettings, evaluate
from messenv.progress import Callback
from messenv.recordings import Recording
from messenv.recordings.catalogue import load
from messenv.results import ResultRow


@dataclass(frozen=True)
class Cell:
    """One stream of the grid: a benchmark under its α, with one seed."""

    benchmark: str
    alpha: float
    seed: int


def grid_cells(alphas: Mapping[str, float], seeds: Sequence[int]) -> list[Cell]:
    """Every (benchmark, α) pair with every seed, in config order."""
    return [Cell(benchmark, float(alpha), int(seed)) for benchmark, alpha in alphas.items() for seed in seeds]


def cells_of(grid: Any) -> list[Cell]:
    """The cells of a ``grid`` config node: its (benchmark, α) pairs, restricted to
    ``grid.benchmarks`` when set, each with every seed of ``grid.seeds``."""
    wanted = grid.benchmarks
    alphas = {benchmark: alpha for benchmark, alpha in grid.alphas.items() if wanted is None or benchmark in wanted}
    return grid_cells(alphas, list(grid.seeds))


def parameter_sets(params: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """The product of the swept parameters, e.g. ``{c: [1, 2], V: [3]}`` -> two dicts."""
    names = list(params)
    return [dict(zip(names, values)) for values in itertools.product(*(params[n] for n in names))]


@dataclass(frozen=True)
class RecordingSource:
    """What a worker needs to load the grid's recording itself (cheaper than pickling it to every
    task): the catalogue name or path, the features kind, and the ``MESSENV_HOME`` of the caller.

    The home travels explicitly because joblib keeps its worker processes for later grids: a
    worker started under another ``MESSENV_HOME`` (an earlier grid in the same Python session)
    would otherwise look for the recording and its features in the wrong cache.
    """

    reference: str
    features: str | None
    home: str | None

    @classmethod
    def here(cls, reference: str, features: str | None) -> RecordingSource:
        """A source resolved against this process's ``MESSENV_HOME``."""
        return cls(reference, features, os.environ.get("MESSENV_HOME"))


@lru_cache(maxsize=2)
def load_source(source: RecordingSource) -> Recording:
    """The recording of ``source``, loaded once per process and kept."""
    if source.home is not None:
        os.environ["MESSENV_HOME"] = source.home
    return load(source.reference, features=source.features)


def run_cell(
    source: RecordingSource, env: dict[str, Any], agents: list[tuple[dict, str]], cell: Cell
) -> tuple[Cell, list[ResultRow]]:
    """Play every agent node on the cell's stream; returns the cell and its result rows."""
    task = TaskSettings.from_config(env, benchmarks=(cell.benchmark,), alpha=cell.alpha)
    return cell, evaluate(load_source(source), task, agents, cell.seed, trace=False).rows


def parallel_cells(
    source: RecordingSource, env: dict[str, Any], agents: list[tuple[dict, str]], cells: list[Cell], n_jobs: int
) -> Iterator[tuple[Cell, list[ResultRow]]]:
    """The cells' results as they finish, on ``n_jobs`` worker processes.

    Where the platform can fork (Linux), the workers are forks of this process made after it has
    loaded the recording: they start with messenv imported and the recording in memory (shared
    copy-on-write), instead of paying an interpreter start, the imports and a load each, which
    cost more than a short grid gains from a second core. Elsewhere, joblib's fresh workers.
    The pool forks all its workers when it is made, before the first cell finishes and so before
    the progress bar's refresh thread can start (:class:`messenv.progress.DelayedProgress` starts
    it on an update): no thread of ours holds a lock at the fork.
    """
    if "fork" not in multiprocessing.get_all_start_methods():
        jobs = (delayed(run_cell)(source, env, agents, cell) for cell in cells)
        yield from Parallel(n_jobs=n_jobs, return_as="generator_unordered")(jobs)
        return
    load_source(source)  # inherited by every fork
    with multiprocessing.get_context("fork").Pool(n_jobs) as pool:
        yield from pool.imap_unordered(partial(run_cell, source, env, agents), cells)


def run_grid(
    source: RecordingSource,
    env: dict[str, Any],
    agents: list[tuple[dict, str]],
    cells: list[Cell],
    n_jobs: int,
    progress: Callback | None = None,
) -> list[ResultRow]:
    """Run every cell (on ``n_jobs`` processes) and return all rows in cell order.

    ``progress(done, total)`` is called as cells finish. Rows do not depend on ``n_jobs``.
    """
    if n_jobs == 1:
        finished: Iterator[tuple[Cell, list[ResultRow]]] = (run_cell(source, env, agents, cell) for cell in cells)
    else:
        finished = parallel_cells(source, env, agents, cells, n_jobs)
    by_cell: dict[Cell, list[ResultRow]] = {}
    for cell, rows in finished:
        by_cell[cell] = rows
        if progress is not None:
            progress(len(by_cell), len(cells))
    return [row for cell in cells for row in by_cell[cell]]
