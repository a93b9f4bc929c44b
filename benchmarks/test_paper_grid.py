"""Wall time of the MESS+ paper grid, run with ONE command, against a peer grid in the same run.

The grid (``experiment=paper_grid``): the 8 Llama-3 benchmarks, each with its own α, × c ∈ {0.01,
0.1, 1} × V ∈ {1e-5, 1e-3, 1e-2} × 3 seeds = 216 MESS+ episodes over ~355k requests, plus the
oracle and the best static mix of every stream, results.json and the Pareto plot. The peer plays
the same 216 episodes with ``cheapest_first`` (no learning: the cost of the env, the harness, the
oracle and the worker pool), through the same code path and pool, so the ratio is the price of
MESS+ itself and does not depend on how fast the machine is.

Goal (issue 4): the full grid in under 3 minutes on 2 cores. Measured on the 2-core dev machine
(shared with other jobs): grid 26.3 s, peer 4.9 s, ratio 5.3 at load average ~4.5; with MESS+'s
later defaults (replay memory) grid 12.0 s, peer 1.4 s, ratio 8.5 at load ~1.2. The enforced goal,
ratio <= 20, keeps the grid well under the 3 minutes at those peer speeds and fails on a 2-4x
slowdown of MESS+ or of the grid machinery. Run with::

    pytest benchmarks/test_paper_grid.py --benchmark-enable

Needs ``../shared/data/messplus-llama3`` (imported into a temporary MESSENV_HOME); features are
the dependency-free hashed n-grams, so the timing does not include a text encoder (MiniLM
features are computed once per recording and cached; the grid then costs the same). With timing
disabled (the default in the test suite) a 1-benchmark, 1-seed slice runs instead, as a smoke test.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from benchmarks.conftest import enforce_goal
from messenv.config import compose_config
from messenv.grid import RecordingSource, cells_of, run_grid
from messenv.recordings.catalogue import import_local
from messenv.results import AGENT
from messenv.run import run

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "messplus-llama3" / "inference_outputs.tar.gz"
GOAL = 20.0  # MESS+ grid / cheapest_first grid; measured 5.3 and 8.5 (see the module docstring)


def paper_grid_config(smoke: bool):
    overrides = ["experiment=paper_grid", "env.features=hashed", "progress=false"]
    if smoke:
        overrides += ["grid.benchmarks=[arc_challenge]", "grid.seeds=[0]"]
    return compose_config(*overrides)


@pytest.fixture(scope="module")
def llama3(tmp_path_factory, monkeypatch_module):
    if not SHARED.is_file():
        pytest.skip(f"real recording not found at {SHARED}")
    home = tmp_path_factory.mktemp("grid_home")
    monkeypatch_module.setenv("MESSENV_HOME", str(home))
    import_local(SHARED, "messplus-llama3")
    return home


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def peer_seconds(cfg) -> float:
    """The same cells and episode count with cheapest_first, through the same pool."""
    n_sets = len(cfg.grid.params.c) * len(cfg.grid.params.V)
    cells = cells_of(cfg.grid)
    node = {"name": "cheapest_first", "_target_": "messenv_agents.fixed.CheapestFirstAgent"}
    started = time.perf_counter()
    source = RecordingSource.here(cfg.env.recording, cfg.env.features)
    rows = run_grid(source, dict(cfg.env), [(node, AGENT)] * n_sets, cells, cfg.grid.n_jobs)
    elapsed = time.perf_counter() - started
    assert len(rows) == len(cells) * (n_sets + 2)
    return elapsed


def test_paper_grid_wall_time(benchmark, llama3, tmp_path):
    cfg = paper_grid_config(smoke=benchmark.disabled)
    rows = benchmark.pedantic(run, args=(cfg, tmp_path), rounds=1, iterations=1)
    assert sum(row.label == "mess_plus" for row in rows) == len(cells_of(cfg.grid)) * 9
    assert (tmp_path / "results.json").is_file() and (tmp_path / "pareto.png").is_file()
    if not benchmark.disabled:
        peer = peer_seconds(cfg)
        benchmark.extra_info["grid_seconds"] = benchmark.stats.stats.min
        benchmark.extra_info["peer_seconds"] = peer
        enforce_goal(benchmark, benchmark.stats.stats.min / peer, GOAL, "mess_plus grid / cheapest_first grid")


IDLE_LOAD = 1.0  # one-minute load average below which two cores count as idle


def test_two_workers_beat_one_on_idle_cores(benchmark, llama3, tmp_path):
    """Goal (issue 13): the paper grid with ``grid.n_jobs=2`` faster than with ``n_jobs=1`` on two
    idle cores. Both are timed alternately, twice, and the best of each compared (ratio < 1 meets
    it). Skipped when the machine is busy (the second worker then has no core to run on), and
    with timing off."""
    if benchmark.disabled:
        pytest.skip("times two whole paper grids per worker count: only with --benchmark-enable")
    if os.getloadavg()[0] > IDLE_LOAD or (os.cpu_count() or 1) < 2:
        pytest.skip(f"needs 2 idle cores (load average {os.getloadavg()[0]:.1f})")
    best = {1: float("inf"), 2: float("inf")}

    def alternate() -> None:
        for round_ in range(2):
            for n_jobs in (2, 1):
                overrides = ("experiment=paper_grid", "env.features=hashed", "progress=false", f"grid.n_jobs={n_jobs}")
                cfg = compose_config(*overrides)
                started = time.perf_counter()
                run(cfg, tmp_path / f"{n_jobs}-{round_}")
                best[n_jobs] = min(best[n_jobs], time.perf_counter() - started)

    benchmark.pedantic(alternate, rounds=1, iterations=1)
    benchmark.extra_info.update({"n_jobs_1_seconds": best[1], "n_jobs_2_seconds": best[2]})
    enforce_goal(benchmark, best[2] / best[1], 1.0, "paper grid n_jobs=2 / n_jobs=1")
