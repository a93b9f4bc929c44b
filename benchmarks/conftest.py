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
