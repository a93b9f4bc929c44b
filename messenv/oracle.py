"""Reference solutions that know more than any online agent: the hindsight oracle and the best
static mix. Every agent's energy is reported as a ratio to the oracle's.

Hindsight oracle — knows every request's quality and energy for every model and solves the LP

    minimise Σ_t Σ_m e_tm·x_tm   s.t.  Σ_m x_tm = 1 (each t),  (1/T) Σ_t Σ_m a_tm·x_tm ≥ α,  x ≥ 0.

Its Lagrangian separates by request: for a multiplier λ ≥ 0 each request picks
``argmin_m e_tm − λ·a_tm``, and the mean quality of those picks grows with λ. Bisection on λ finds
the smallest λ whose picks reach α; the requests whose pick differs at the two ends of the final
bracket are switched, cheapest quality first, until α is met, so at most one request is split
between two models. This is the exact LP optimum (tests check it against scipy's HiGHS on random
instances) and runs in O(T·M) per bisection step, far faster than a generic LP on T·M variables.
An integral policy cannot beat it, so ``energy / oracle energy ≥ 1`` for every agent meeting α.

Best static mix — knows only each model's MEAN quality and energy and picks mixture weights w
(``min w·ē  s.t.  w·ā ≥ α, Σw = 1, w ≥ 0``, scipy HiGHS): what a router that ignores the prompt
could at best achieve in expectation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linprog

BISECTION_STEPS = 200
QUALITY_TOL = 1e-12
LP_ENERGY_LIMIT = 2.0**20
"""Largest energy (J) handed to HiGHS unscaled. HiGHS reads a cost of 1e20 or more as infinite
(its ``kHighsInf``) and fails on the LP ("model_status is Unknown"), so a zoo of one's own whose
energies reach that range is solved on energies divided by a power of two (:func:`lp_energy_scale`).
2**20 J is far above any recorded request (the Llama-3 recording's largest is 2.8 kJ), so the
published recordings are solved unscaled, as before."""


@dataclass(frozen=True, eq=False)
class OracleSolution:
    """The hindsight-optimal (fractional) routing of a stream.

    Attributes:
        energy_j: total energy of the allocation (J).
        mean_quality: its mean quality.
        feasible: False if even the best model per request cannot reach α; the allocation is
            then the best-quality one (cheapest among equal quality) and ``mean_quality`` is the
            maximum achievable.
        alpha: the SLA asked for.
        max_quality: the best achievable mean quality (every request to its best model).
        dual: the multiplier λ* of the quality constraint (J per unit of summed quality).
        choice: the per-request choice ``x[T, M]``: rows sum to 1, at most one row is
            fractional (split between two models).
        model_share: mean of ``choice`` over requests, per model.
        message: one line saying what was solved, or why it is infeasible.
    """

    energy_j: float
    mean_quality: float
    feasible: bool
    alpha: float
    max_quality: float
    dual: float
    choice: np.ndarray
    model_share: np.ndarray
    message: str


@dataclass(frozen=True, eq=False)
class StaticMix:
    """The best prompt-blind mixture of models, from per-model means only.

    Attributes:
        weights: probability of each model, sums to 1.
        energy_j: expected energy per request (J) under ``weights``.
        quality: expected quality per request under ``weights``.
        feasible: False if no mixture reaches α (``weights`` then puts all mass on the model with
            the best mean quality, cheapest among ties).
        message: one line saying what was solved, or why it is infeasible.
    """

    weights: np.ndarray
    energy_j: float
    quality: float
    feasible: bool
    message: str


def _validated(quality: np.ndarray, energy_j: np.ndarray, alpha: float, ndim: int) -> tuple[np.ndarray, np.ndarray]:
    quality = np.asarray(quality, dtype=np.float64)
    energy_j = np.asarray(energy_j, dtype=np.float64)
    shape = "[T, M]" if ndim == 2 else "[M]"
    if quality.ndim != ndim or quality.shape != energy_j.shape or quality.size == 0:
        raise ValueError(f"quality {quality.shape} and energy_j {energy_j.shape} must both be non-empty {shape}")
    for name, array in (("quality", quality), ("energy_j", energy_j)):
        if not np.isfinite(array).all():
            raise ValueError(f"{name} has non-finite values")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    return quality, energy_j


def lp_energy_scale(energy_j: np.ndarray) -> float:
    """The power of two that brings the largest energy to at most :data:`LP_ENERGY_LIMIT` (1 if it is).

    Dividing by a power of two is exact, and an LP's optimal weights do not change when its costs
    are scaled; its objective and duals scale back by the same factor.
    """
    largest = float(np.max(np.abs(energy_j), initial=0.0))
    if largest <= LP_ENERGY_LIMIT:
        return 1.0
    return float(2.0 ** np.ceil(np.log2(largest / LP_ENERGY_LIMIT)))


def best_response(quality: np.ndarray, energy_j: np.ndarray, lam: float) -> np.ndarray:
    """Per request, ``argmin_m e − λ·a``; among exact ties the higher quality (then lower index)."""
    score = energy_j - lam * quality
    ties = score == score.min(axis=1, keepdims=True)
    return np.where(ties, quality, -np.inf).argmax(axis=1)


def _picked(matrix: np.ndarray, choice: np.ndarray) -> np.ndarray:
    return np.take_along_axis(matrix, choice[:, None], axis=1)[:, 0]


def _solution(
    quality: np.ndarray, energy_j: np.ndarray, allocation: np.ndarray, alpha: float, dual: float, feasible: bool, message: str
) -> OracleSolution:
    return OracleSolution(
        energy_j=float((allocation * energy_j).sum()),
        mean_quality=float((allocation * quality).sum() / len(quality)),
        feasible=feasible,
        alpha=alpha,
        max_quality=float(quality.max(axis=1).mean()),
        dual=dual,
        choice=allocation,
        model_share=allocation.mean(axis=0),
        message=message,
    )


def _one_hot(choice: np.ndarray, n_models: int) -> np.ndarray:
    allocation = np.zeros((len(choice), n_models))
    allocation[np.arange(len(choice)), choice] = 1.0
    return allocation


def _bracket(quality: np.ndarray, energy_j: np.ndarray, target: float) -> tuple[float, float]:
    """``lo < hi`` with mean best-response quality below ``target`` at lo and at least it at hi."""

    def mean_quality(lam: float) -> float:
        return float(_picked(quality, best_response(quality, energy_j, lam)).sum())

    lo, hi = 0.0, max(1.0, float(np.ptp(energy_j)))
    while mean_quality(hi) < target:
        lo, hi = hi, hi * 2.0
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if mean_quality(mid) >= target:
            hi = mid
        else:
            lo = mid
    return lo, hi


def hindsight_oracle(quality: np.ndarray, energy_j: np.ndarray, alpha: float) -> OracleSolution:
    """The minimum-energy allocation of a stream with mean quality ≥ ``alpha`` (see module doc).

    Args:
        quality: ``a[T, M]``, each request's quality under each model.
        energy_j: ``e[T, M]``, each request's energy under each model (J).
        alpha: the SLA.
    """
    quality, energy_j = _validated(quality, energy_j, alpha, ndim=2)
    n_requests, n_models = quality.shape
    target = alpha * n_requests - QUALITY_TOL * n_requests
    best = _best_quality_cheapest(quality, energy_j)
    max_quality = float(_picked(quality, best).mean())
    if max_quality * n_requests < target:
        return _solution(
            quality, energy_j, _one_hot(best, n_models), alpha, float("inf"), False,
            f"infeasible: alpha={alpha:g} is above the best achievable mean quality {max_quality:.6g} "
            "(every request routed to its best model); this is that allocation",
        )
    cheapest = best_response(quality, energy_j, 0.0)
    if _picked(quality, cheapest).sum() >= target:
        return _solution(
            quality, energy_j, _one_hot(cheapest, n_models), alpha, 0.0, True,
            f"alpha={alpha:g} is met by the cheapest model of every request (dual 0)",
        )
    lo, hi = _bracket(quality, energy_j, target)
    allocation = _split_bracket(quality, energy_j, target, best_response(quality, energy_j, lo), best_response(quality, energy_j, hi))
    return _solution(quality, energy_j, allocation, alpha, hi, True, f"optimal for alpha={alpha:g} (dual {hi:.6g})")


def _best_quality_cheapest(quality: np.ndarray, energy_j: np.ndarray) -> np.ndarray:
    """Per request, the model with the highest quality, the cheapest among ties."""
    top = quality == quality.max(axis=1, keepdims=True)
    return np.where(top, -energy_j, -np.inf).argmax(axis=1)


def _split_bracket(
    quality: np.ndarray, energy_j: np.ndarray, target: float, low: np.ndarray, high: np.ndarray
) -> np.ndarray:
    """Start from the picks at λ_lo and move requests to their λ_hi pick, cheapest quality first,
    until the summed quality reaches ``target``; the last move may be fractional."""
    allocation = _one_hot(low, quality.shape[1])
    need = target - _picked(quality, low).sum()
    rows = np.flatnonzero(low != high)
    gain = _picked(quality, high)[rows] - _picked(quality, low)[rows]
    cost = _picked(energy_j, high)[rows] - _picked(energy_j, low)[rows]
    useful = gain > 0
    rows, gain, cost = rows[useful], gain[useful], cost[useful]
    for index in np.argsort(cost / gain, kind="stable"):
        if need <= 0:
            break
        row, fraction = rows[index], min(1.0, need / gain[index])
        allocation[row, low[row]] -= fraction
        allocation[row, high[row]] += fraction
        need -= fraction * gain[index]
    return allocation


def best_static_mix(mean_quality: np.ndarray, mean_energy_j: np.ndarray, alpha: float) -> StaticMix:
    """The cheapest mixture of models (weights) whose expected quality reaches ``alpha``.

    Solved with ``scipy.optimize.linprog(method="highs")``; if ``alpha`` exceeds every model's
    mean quality the result says so (``feasible=False``) and puts all weight on the best model.
    """
    quality, energy_j = _validated(mean_quality, mean_energy_j, alpha, ndim=1)
    if alpha > quality.max() + QUALITY_TOL:
        weights = _one_hot(_best_quality_cheapest(quality[None, :], energy_j[None, :]), len(quality))[0]
        return StaticMix(
            weights, float(weights @ energy_j), float(weights @ quality), False,
            f"infeasible: alpha={alpha:g} is above every model's mean quality (best {quality.max():.6g})",
        )
    result = linprog(
        energy_j / lp_energy_scale(energy_j), A_ub=-quality[None, :], b_ub=[-alpha],
        A_eq=np.ones((1, len(quality))), b_eq=[1.0], bounds=(0, None), method="highs",
    )
    if not result.success:
        raise RuntimeError(f"best_static_mix: HiGHS failed on a feasible LP: {result.message}")
    weights = np.clip(result.x, 0.0, None)
    weights /= weights.sum()
    return StaticMix(weights, float(weights @ energy_j), float(weights @ quality), True, f"optimal mix for alpha={alpha:g}")


def energy_ratio(agent_energy: float, oracle_energy: float) -> float:
    """``agent_energy / oracle_energy``: 1.0 is the oracle, 2.0 twice its energy."""
    if not (np.isfinite(agent_energy) and agent_energy >= 0):
        raise ValueError(f"agent energy must be finite and >= 0, got {agent_energy}")
    if not (np.isfinite(oracle_energy) and oracle_energy > 0):
        raise ValueError(f"oracle energy must be finite and > 0 to form a ratio, got {oracle_energy}")
    return float(agent_energy) / float(oracle_energy)


def reference_rows(quality: np.ndarray, energy_j: np.ndarray, alpha: float) -> list[dict[str, Any]]:
    """Result-table rows for the hindsight oracle and the best static mix on one stream.

    The static mix's figures are its expectation on this stream: ``T·w·ē`` joules (exactly the
    mean of playing ``w`` on these requests) and ``w·ā`` quality, where ``ā, ē`` are the per-model
    means over the stream. Each row also holds its ``choice`` (not a table column): the oracle's
    ``x[T, M]``, the static mix's weights ``w[M]``, so that plots of the references reuse this
    solve instead of solving again.
    """
    oracle = hindsight_oracle(quality, energy_j, alpha)
    quality, energy_j = np.asarray(quality, dtype=np.float64), np.asarray(energy_j, dtype=np.float64)
    mix = best_static_mix(quality.mean(axis=0), energy_j.mean(axis=0), alpha)
    rows = []
    for name, energy, mean_quality, feasible, share, message, choice in (
        ("oracle", oracle.energy_j, oracle.mean_quality, oracle.feasible, oracle.model_share, oracle.message,
         oracle.choice),
        ("static_mix", mix.energy_j * len(quality), mix.quality, mix.feasible, mix.weights, mix.message, mix.weights),
    ):  # fmt: skip
        rows.append(
            {
                "agent": name,
                "total_energy_j": float(energy),
                "mean_quality": float(mean_quality),
                "sla_met": bool(mean_quality >= alpha - QUALITY_TOL),
                "feasible": feasible,
                "model_share": [float(s) for s in share],
                "energy_ratio": energy_ratio(energy, oracle.energy_j),
                "note": message,
                "choice": choice,
            }
        )
    return rows
