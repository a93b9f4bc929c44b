"""Hindsight oracle and best static mix for scenarios with several mean constraints (scipy HiGHS).

A scenario's constraints are all of one form, a bound on the mean over a range of requests of a
per-(request, model) value of the chosen model: the quality SLA (mean quality ≥ α), a latency SLO
(mean latency ≤ L, or mean lateness ≤ β). The hindsight oracle solves the LP

    minimise Σ_t Σ_m e_tm·x_tm   s.t.  Σ_m x_tm = 1 (each t),  x ≥ 0,
              (1/|S_k|) Σ_{t∈S_k} Σ_m v^k_tm·x_tm  ≤ b_k   (each constraint k; ≥ flips the sign)

on T·M variables with scipy's HiGHS (``scipy.optimize.linprog(method="highs")``, sparse rows):
with two or more constraints the one-multiplier bisection of :mod:`messenv.oracle` no longer
applies. Its multipliers μ_k (HiGHS's marginals) certify optimality: the Lagrangian dual
``g(μ) = Σ_t min_m (e_tm + Σ_k μ_k·v^k_tm/|S_k|) − Σ_k μ_k·b_k`` is a lower bound on every feasible
routing and equals the LP optimum at μ*; tests/test_scenario_oracle.py checks that equality on
random instances, and that with the quality constraint alone the LP matches the bisection oracle.

When no routing meets every constraint, the oracle returns the allocation with the least total
(normalised) violation and, among those, the least energy (two HiGHS solves with slack
variables), and says so (``feasible=False``).

The best static mix is the same problem for prompt-blind weights w over models (each constraint's
per-model means over its requests), as in :func:`messenv.oracle.best_static_mix`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from messenv.env.scenario import Scenario
from messenv.oracle import energy_ratio, lp_energy_scale

FEASIBILITY_TOL = 1e-9
WINDOW = "window_quality"  # the name of a windowed SLA's constraints


@dataclass(frozen=True, eq=False)
class MeanConstraint:
    """The mean of the chosen model's ``values`` over requests ``start:stop`` is ≤ ``limit`` (≥ if ``at_least``).

    Attributes:
        name: what it bounds (``quality``, ``latency_s``, ``late``), for messages and results.
        values: ``[T, M]``, the value of each model on each request of the stream.
        limit: the bound on the mean.
        at_least: a lower bound (the quality SLA) rather than an upper one.
        start, stop: the requests it covers (all by default; a window otherwise).
    """

    name: str
    values: np.ndarray
    limit: float
    at_least: bool = False
    start: int = 0
    stop: int | None = None

    def span(self, n_requests: int) -> range:
        """The request indices the constraint covers."""
        return range(self.start, n_requests if self.stop is None else self.stop)

    @property
    def sign(self) -> float:
        """+1 for an upper bound, −1 for a lower bound (rows are written as ≤)."""
        return -1.0 if self.at_least else 1.0


@dataclass(frozen=True, eq=False)
class ConstrainedSolution:
    """The hindsight-optimal (fractional) routing under several mean constraints.

    Attributes:
        energy_j: total energy of the allocation (J).
        feasible: whether the allocation meets every constraint (see the module doc otherwise).
        choice: ``x[T, M]``, rows sum to 1.
        model_share: mean of ``choice`` over requests, per model.
        means: each constraint's achieved mean, by constraint name (the first of a name).
        violations: each constraint's ``max(0, violation)`` of its bound, in constraint order.
        duals: the multiplier μ_k ≥ 0 of each constraint, in constraint order.
        message: one line saying what was solved, or why it is infeasible.
    """

    energy_j: float
    feasible: bool
    choice: np.ndarray
    model_share: np.ndarray
    means: list[float]
    violations: list[float]
    duals: np.ndarray
    message: str


def scenario_constraints(
    quality: np.ndarray, latency_s: np.ndarray, alpha: float, scenario: Scenario, available: np.ndarray | None = None
) -> list[MeanConstraint]:
    """The constraints a scenario puts on a stream with outcomes ``quality[T, M]``, ``latency_s[T, M]``:
    the SLA, the latency SLO if any, and one ``window_quality`` constraint per window of a windowed SLA.
    Entries of unavailable models (``available`` False, NaN in a changing zoo) are set to 0: the
    oracle gives them no share."""
    quality = np.asarray(quality, dtype=np.float64)
    if available is not None:
        quality = np.where(available, quality, 0.0)
        latency_s = np.where(available, latency_s, 0.0)
    constraints = [MeanConstraint("quality", quality, alpha, at_least=True)]
    slo = scenario.latency
    if slo is not None:
        constraints.append(MeanConstraint(slo.cost_name, slo.cost(np.asarray(latency_s, dtype=np.float64)), slo.limit))
    if scenario.window is not None:
        n, window = len(quality), scenario.window
        constraints += [
            MeanConstraint(WINDOW, quality, alpha, at_least=True, start=start, stop=min(start + window, n))
            for start in range(0, n, window)
        ]
    return constraints


def _constraint_rows(
    constraints: list[MeanConstraint], n_requests: int, n_models: int
) -> tuple[sparse.csr_array, np.ndarray]:
    """``A_ub`` (one normalised row per constraint, over the T·M variables) and ``b_ub``."""
    data, rows, columns, bounds = [], [], [], []
    for k, constraint in enumerate(constraints):
        values = np.asarray(constraint.values, dtype=np.float64)
        if values.shape != (n_requests, n_models) or not np.isfinite(values).all():
            raise ValueError(f"constraint {constraint.name!r}: values must be finite [{n_requests}, {n_models}]")
        span = constraint.span(n_requests)
        if len(span) == 0:
            raise ValueError(f"constraint {constraint.name!r} covers no request")
        block = values[span.start : span.stop].ravel()
        data.append(constraint.sign * block / len(span))
        rows.append(np.full(block.size, k))
        columns.append(np.arange(span.start * n_models, span.stop * n_models))
        bounds.append(constraint.sign * constraint.limit)
    matrix = sparse.csr_array(
        (np.concatenate(data), (np.concatenate(rows), np.concatenate(columns))),
        shape=(len(constraints), n_requests * n_models),
    )
    return matrix, np.asarray(bounds)


def _one_per_request(n_requests: int, n_models: int) -> sparse.csr_array:
    """``A_eq``: each request's shares sum to 1."""
    return sparse.csr_array(
        (
            np.ones(n_requests * n_models),
            (np.repeat(np.arange(n_requests), n_models), np.arange(n_requests * n_models)),
        ),
        shape=(n_requests, n_requests * n_models),
    )


def constrained_oracle(
    energy_j: np.ndarray, constraints: list[MeanConstraint], available: np.ndarray | None = None
) -> ConstrainedSolution:
    """The minimum-energy routing of a stream under ``constraints`` (see the module doc).

    Args:
        energy_j: ``e[T, M]``, each request's energy under each model (J); entries of
            unavailable models are ignored (they may be NaN).
        constraints: at least one :class:`MeanConstraint` over ``[T, M]`` values.
        available: ``[T, M]`` bool, which model can serve each request (a changing zoo); those
            that cannot get the bound ``x_tm = 0``. ``None``: every model, always.

    Raises:
        ValueError: non-finite or mis-shaped input, or a constraint that covers no request.
        RuntimeError: HiGHS fails on an LP it should solve (a bug, not bad input).
    """
    energy_j = np.asarray(energy_j, dtype=np.float64)
    if energy_j.ndim != 2 or energy_j.size == 0:
        raise ValueError(f"energy_j must be a finite, non-empty [T, M] array, got shape {energy_j.shape}")
    available = np.ones(energy_j.shape, dtype=bool) if available is None else np.asarray(available, dtype=bool)
    if available.shape != energy_j.shape or not available.any(axis=1).all():
        raise ValueError(f"available must be [T, M] like energy_j {energy_j.shape}, with a model for every request")
    energy_j = np.where(available, energy_j, 0.0)
    if not np.isfinite(energy_j).all():
        raise ValueError("energy_j must be a finite, non-empty [T, M] array: it has non-finite values")
    if not constraints:
        raise ValueError("give at least one constraint")
    n_requests, n_models = energy_j.shape
    a_ub, b_ub = _constraint_rows(constraints, n_requests, n_models)
    a_eq = _one_per_request(n_requests, n_models)
    bounds = np.column_stack([np.zeros(available.size), np.where(available.ravel(), np.inf, 0.0)])
    scale = lp_energy_scale(energy_j)  # HiGHS reads costs of 1e20 J and above as infinite
    result = linprog(
        energy_j.ravel() / scale, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=np.ones(n_requests), bounds=bounds,
        method="highs",
    )
    if result.status == 0:
        x = result.x
        duals = -np.asarray(result.ineqlin.marginals) * scale
        message = f"optimal under {_describe(constraints)} (HiGHS)"
        feasible = True
    elif result.status == 2:
        x = _least_violation(energy_j / scale, a_ub, b_ub, a_eq, bounds)
        duals = np.full(len(constraints), np.inf)
        feasible = False
        message = (
            f"infeasible: no routing meets {_describe(constraints)}; this is the least-violation allocation "
            "(then least energy)"
        )
    else:
        raise RuntimeError(f"constrained_oracle: HiGHS failed: {result.message}")
    choice = np.clip(x[: n_requests * n_models].reshape(n_requests, n_models), 0.0, None)
    choice /= choice.sum(axis=1, keepdims=True)
    means = [_mean(constraint, choice) for constraint in constraints]
    violations = [max(0.0, c.sign * (mean - c.limit)) for c, mean in zip(constraints, means)]
    return ConstrainedSolution(
        energy_j=float((choice * energy_j).sum()),
        feasible=feasible,
        choice=choice,
        model_share=choice.mean(axis=0),
        means=means,
        violations=violations,
        duals=duals,
        message=message,
    )


def _least_violation(
    energy_j: np.ndarray, a_ub: sparse.csr_array, b_ub: np.ndarray, a_eq: sparse.csr_array, bounds: np.ndarray
) -> np.ndarray:
    """Stage 1: least total slack; stage 2: least energy with that slack (variables ``[x, s]``)."""
    n_constraints, n_variables = a_ub.shape
    with_slack = sparse.hstack([a_ub, -sparse.identity(n_constraints)], format="csr")
    eq = sparse.hstack([a_eq, sparse.csr_array((a_eq.shape[0], n_constraints))], format="csr")
    b_eq = np.ones(a_eq.shape[0])
    slack_cost = np.r_[np.zeros(n_variables), np.ones(n_constraints)]
    with_slack_bounds = np.vstack([bounds, np.column_stack([np.zeros(n_constraints), np.full(n_constraints, np.inf)])])
    stage1 = linprog(
        slack_cost, A_ub=with_slack, b_ub=b_ub, A_eq=eq, b_eq=b_eq, bounds=with_slack_bounds, method="highs"
    )
    if stage1.status != 0:
        raise RuntimeError(f"constrained_oracle: HiGHS failed on the least-violation LP: {stage1.message}")
    cap = sparse.csr_array(slack_cost[None, :])
    stage2 = linprog(
        np.r_[energy_j.ravel(), np.zeros(n_constraints)],
        A_ub=sparse.vstack([with_slack, cap], format="csr"),
        b_ub=np.r_[b_ub, stage1.fun * (1 + 1e-9) + FEASIBILITY_TOL],
        A_eq=eq,
        b_eq=b_eq,
        bounds=with_slack_bounds,
        method="highs",
    )
    if stage2.status != 0:
        raise RuntimeError(f"constrained_oracle: HiGHS failed on the least-energy stage: {stage2.message}")
    return stage2.x


def _mean(constraint: MeanConstraint, choice: np.ndarray) -> float:
    span = constraint.span(len(choice))
    return float((choice[span.start : span.stop] * constraint.values[span.start : span.stop]).sum() / len(span))


def _describe(constraints: list[MeanConstraint]) -> str:
    parts = [f"mean {c.name} {'>=' if c.at_least else '<='} {c.limit:g}" for c in constraints[:3]]
    more = f" and {len(constraints) - 3} more" if len(constraints) > 3 else ""
    return ", ".join(parts) + more


def lagrangian_dual(
    energy_j: np.ndarray, constraints: list[MeanConstraint], duals: np.ndarray, available: np.ndarray | None = None
) -> float:
    """``g(μ)``: a lower bound on the energy of every routing meeting ``constraints``, for any ``μ ≥ 0``.

    Computed per request in closed form (each request takes its cheapest penalised model), with no
    LP solver: the independent check of :func:`constrained_oracle`'s optimality.
    """
    energy_j = np.asarray(energy_j, dtype=np.float64)
    n_requests = len(energy_j)
    penalised = energy_j.copy()
    offset = 0.0
    for constraint, mu in zip(constraints, duals):
        span = constraint.span(n_requests)
        penalised[span.start : span.stop] += (
            mu * constraint.sign * constraint.values[span.start : span.stop] / len(span)
        )
        offset += mu * constraint.sign * constraint.limit
    if available is not None:
        penalised[~np.asarray(available, dtype=bool)] = np.inf
    return float(penalised.min(axis=1).sum() - offset)


@dataclass(frozen=True, eq=False)
class ConstrainedMix:
    """The best prompt-blind mixture under several constraints (per-model means only).

    Attributes:
        weights: probability of each model.
        energy_j: expected energy over the stream (J) under ``weights``.
        means: each constraint's expected mean under ``weights``.
        feasible: False if no mixture meets every constraint (then the least-violation mixture).
        message: one line.
    """

    weights: np.ndarray
    energy_j: float
    means: list[float]
    feasible: bool
    message: str


def constrained_static_mix(energy_j: np.ndarray, constraints: list[MeanConstraint]) -> ConstrainedMix:
    """The cheapest fixed weights over models meeting each constraint in expectation on this stream.

    The same LP as :func:`constrained_oracle` on a one-request stream whose outcomes are each
    constraint's per-model means over its requests (and the stream's mean energy).
    """
    energy_j = np.asarray(energy_j, dtype=np.float64)
    n_requests = len(energy_j)
    means = [
        MeanConstraint(
            c.name,
            c.values[c.span(n_requests).start : c.span(n_requests).stop].mean(axis=0)[None, :],
            c.limit,
            c.at_least,
        )
        for c in constraints
    ]
    solution = constrained_oracle(energy_j.mean(axis=0)[None, :], means)
    weights = solution.choice[0]
    return ConstrainedMix(
        weights=weights,
        energy_j=float(weights @ energy_j.sum(axis=0)),
        means=solution.means,
        feasible=solution.feasible,
        message=solution.message.replace("HiGHS", "HiGHS, static mix"),
    )


def scenario_reference_rows(
    quality: np.ndarray,
    energy_j: np.ndarray,
    latency_s: np.ndarray,
    alpha: float,
    scenario: Scenario,
    available: np.ndarray | None = None,
) -> list[dict]:
    """Result-table rows (as :func:`messenv.oracle.reference_rows`) for the oracle and the static mix
    facing the scenario's constraints, with ``constraints_met``, ``latency_violation`` and
    ``worst_window_quality`` added.

    Under a changing zoo (``available`` given) there is no static-mix row: one fixed mixture over
    models that come and go is not defined, and the oracle row alone is returned. Each row's
    ``choice`` is its allocation, as in :func:`messenv.oracle.reference_rows`.
    """
    constraints = scenario_constraints(quality, latency_s, alpha, scenario, available)
    oracle = constrained_oracle(energy_j, constraints, available)
    references = [
        ("oracle", oracle.energy_j, oracle.means, oracle.feasible, oracle.model_share, oracle.message, oracle.choice)
    ]
    if available is None:
        mix = constrained_static_mix(energy_j, constraints)
        references.append(("static_mix", mix.energy_j, mix.means, mix.feasible, mix.weights, mix.message, mix.weights))
    rows = []
    for name, energy, means, feasible, share, message, choice in references:
        latency_violation = max(0.0, means[1] - scenario.latency.limit) if scenario.latency is not None else None
        windows = [mean for constraint, mean in zip(constraints, means) if constraint.name == WINDOW]
        rows.append(
            {
                "agent": name,
                "total_energy_j": float(energy),
                "mean_quality": float(means[0]),
                "sla_met": bool(means[0] >= alpha - FEASIBILITY_TOL),
                "feasible": feasible,
                "constraints_met": feasible if scenario.constrained else None,
                "latency_violation": latency_violation,
                "worst_window_quality": min(windows) if windows else None,
                "model_share": [float(s) for s in share],
                "energy_ratio": energy_ratio(energy, oracle.energy_j),
                "note": message,
                "choice": choice,
            }
        )
    return rows
