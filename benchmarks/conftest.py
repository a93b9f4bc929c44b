"""Helpers for the speed benchmarks: time a peer in the same run, so goals are ratios, not seconds."""

from __future__ import annotations

import timeit
from typing import Callable

import pytest


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
