"""The cheapest mix of models that reaches a target mean quality: the LP of the best static mix,
solved in closed form for a handful of models.

The problem ``min_w Σ w_m·e_m  s.t.  Σ w_m·q_m ≥ r,  Σ w_m = 1,  w ≥ 0`` has two equality-type
constraints, so an optimal basic solution has at most two non-zero weights: either one model with
``q_m ≥ r``, or two models ``i, j`` with ``q_i < r < q_j`` mixed so that the mean quality is
exactly ``r`` (``w_j = (r − q_i)/(q_j − q_i)``). These pairs are the segments of the lower convex
hull of the points ``(q_m, e_m)``, and with M ≤ ~5 models enumerating all O(M²) candidates in
plain Python is faster than any LP call (a few µs; ``tests/agents/test_mix_lp.py`` checks it
against scipy's HiGHS, the solver :func:`messenv.oracle.best_static_mix` uses). Energy scale
does not matter: multiplying every ``e_m`` by a constant leaves the solution unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

TOLERANCE = 1e-9
"""A model within this of the target reaches it (LP solvers such as HiGHS use a feasibility tolerance too)."""


class Mix(NamedTuple):
    """A mix of at most two models: play ``high`` with probability ``w_high``, else ``low``.

    ``feasible`` is False when no mix reaches the target; the mix is then the single model with
    the highest quality (cheapest among ties).
    """

    low: int
    high: int
    w_high: float
    feasible: bool


def cheapest_mix(energy: Sequence[float], quality: Sequence[float], target: float) -> Mix:
    """The minimum-energy mix whose mean quality is at least ``target`` (see module docstring)."""
    n = len(energy)
    target -= TOLERANCE
    best_cost, best = float("inf"), None
    for i in range(n):
        q_i, e_i = quality[i], energy[i]
        if q_i >= target:
            if e_i < best_cost:
                best_cost, best = e_i, Mix(i, i, 0.0, True)
            continue
        for j in range(n):
            q_j = quality[j]
            if q_j > target:
                w = min(1.0, max(0.0, target + TOLERANCE - q_i) / (q_j - q_i))
                cost = e_i + w * (energy[j] - e_i)
                if cost < best_cost:
                    best_cost, best = cost, Mix(i, j, w, True)
    if best is not None:
        return best
    top = max(range(n), key=lambda m: (quality[m], -energy[m]))
    return Mix(top, top, 0.0, False)


def cheapest_mix_within(
    energy: Sequence[float], quality: Sequence[float], cost: Sequence[float], target: float, limit: float
) -> Mix:
    """The minimum-energy mix of at most two models whose mean quality is at least ``target`` and
    whose mean cost (a latency SLO's cost) is at most ``limit``.

    With the second constraint an optimal basic solution can mix three models; this searches the
    mixes of one or two (on a pair the feasible weights form an interval and the energy is linear
    in the weight, so an endpoint is optimal), which finds the optimum whenever it mixes at most
    two models. When no such mix meets both, the cost constraint is dropped (the quality SLA comes
    first): :func:`cheapest_mix`.
    """
    n = len(energy)
    best_cost, best = float("inf"), None
    for i in range(n):
        for j in range(i, n):
            low, high = 0.0, 1.0  # feasible weights of j
            for slope, gap in ((quality[j] - quality[i], target - quality[i]), (cost[i] - cost[j], cost[i] - limit)):
                # slope·w >= gap
                if slope > 0:
                    low = max(low, gap / slope)
                elif slope < 0:
                    high = min(high, gap / slope)
                elif gap > TOLERANCE:
                    high = -1.0
            if low > high + TOLERANCE:
                continue
            for w in (low, max(low, high)):
                value = energy[i] + w * (energy[j] - energy[i])
                if value < best_cost:
                    best_cost, best = value, Mix(i, j, w, True)
    return best if best is not None else cheapest_mix(energy, quality, target)
