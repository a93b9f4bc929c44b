"""Helpers for the speed benchmarks: time a peer in the same run, so goals are ratios, not seconds."""

from __future__ import annotations

import shutil
import subprocess
import sys
import timeit
from pathlib import Path
from typing import Callable

import pytest

ROOT = Path(__file__).resolve().parents[1]
needs_valgrind = pytest.mark.skipif(
    shutil.which("valgrind") is None or shutil.which("callgrind_control") is None, reason="no valgrind"
)


def run_under_callgrind(out_file: Path, module: str, *arguments: str) -> str:
    """Run ``python -m module arguments`` under ``valgrind --tool=callgrind --instr-atstart=no``
    (the module switches instrumentation on for what it measures) and return callgrind's stderr."""
    command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out_file}"]
    done = subprocess.run(
        [*command, sys.executable, "-m", module, *arguments], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stderr


def peer_seconds(function: Callable[[], object], number: int, repeat: int = 7) -> float:
    """Best time of one call of ``function`` over ``repeat`` rounds of ``number`` calls."""
    return min(timeit.repeat(function, number=number, repeat=repeat)) / number


def interleaved_seconds(functions: dict[str, Callable[[], object]], repeat: int = 5) -> dict[str, float]:
    """Best time of one call of each function over ``repeat`` rounds, the functions alternating
    within each round, so that a change in the machine's load hits all of them alike."""
    best = {name: float("inf") for name in functions}
    for _ in range(repeat):
        for name, function in functions.items():
            best[name] = min(best[name], timeit.timeit(function, number=1))
    return best


def enforce_goal(benchmark, ratio: float, goal: float, what: str) -> None:
    """Record ``ratio`` and fail if it misses ``goal`` (only when timing is on: --benchmark-enable)."""
    benchmark.extra_info[what] = ratio
    if not benchmark.disabled and ratio > goal:
        pytest.fail(f"{what} = {ratio:.3f}, goal <= {goal}")


def dense_minilm_env(n_requests: int):
    """``messenv/MessEnv-v0`` on the default recording with dense, unit-norm 384-d features (seeded):
    MiniLM's shape, which the paper configs use, without needing torch to embed the prompts."""
    import gymnasium as gym
    import numpy as np

    import messenv  # noqa: F401  (registers messenv/MessEnv-v0)
    from messenv.recordings import load
    from messenv.recordings.catalogue import DEFAULT_RECORDING

    recording = load(DEFAULT_RECORDING)
    features = np.random.default_rng(0).normal(size=(recording.n_requests, 384)).astype(np.float32)
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    dense = recording.with_features(features, "dense-384-test")
    return gym.make("messenv/MessEnv-v0", recording=dense, alpha=0.7, explore_action=True, n_requests=n_requests)


# Each scenario (conf/scenario) against the stationary env (issue 12: a step within 1.5×), timed in
# benchmarks/test_env_speed.py and counted in instructions in benchmarks/test_scenario_instructions.py.
SCENARIOS = {
    "latency_slo": {"latency": {"mean_s": 0.5}},
    "latency_deadline": {"latency": {"deadline_s": 1.0, "max_late_share": 0.05}},
    "delayed_feedback": {"delay": {"steps": 2}},
    "delayed_geometric": {"delay": {"steps": 2, "distribution": "geometric"}},
    "drift_windowed": {"drift": {"start": "arc_easy", "end": "boolq", "n_requests": 2000}, "window": 200},
    # Action 1 (medium) stays available: the zoo changes around it.
    "zoo_change": {"zoo": {"joins": {"large": 10}, "updates": [{"model": "medium", "step": 20, "source": "small"}]}},
}
SCENARIO_GOAL = 1.5


def with_length(scenario: dict, n_requests: int) -> dict:
    """The scenario with a smooth drift stretched to ``n_requests`` (a drift sets the stream length)."""
    if "drift" not in scenario:
        return scenario
    return {**scenario, "drift": {**scenario["drift"], "n_requests": n_requests}}


def single_env(recording, name: str | None, n_requests: int):
    """A MessEnv on ``recording`` under scenario ``name`` (``None``: stationary), reset with seed 0
    for a stream of ``n_requests`` requests drawn with replacement."""
    from messenv.env import MessEnv

    options = {"replace": True, "n_requests": n_requests}
    if name is None:
        env = MessEnv(recording=recording, alpha=0.7)
    else:
        env = MessEnv(recording=recording, alpha=0.7, replace=True, scenario=with_length(SCENARIOS[name], n_requests))
        if "drift" in SCENARIOS[name]:
            options = {**options, "n_requests": None}  # the drift sets the length
    env.reset(seed=0, options=options)
    return env
