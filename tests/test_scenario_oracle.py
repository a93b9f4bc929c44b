"""The constrained (scenario) oracle and static mix: dual certificates, the one-constraint case, hand-solved cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from messenv.env.scenario import LatencySLO, Scenario
from messenv.oracle import best_static_mix, hindsight_oracle
from messenv.scenario_oracle import (
    MeanConstraint,
    constrained_oracle,
    constrained_static_mix,
    lagrangian_dual,
    scenario_constraints,
)

VALUES = st.sampled_from([0.0, 0.25, 0.5, 1.0])


def instance(n_models: int = 3):
    """Random (quality, energy, latency) streams with many ties, and an α and a latency bound."""
    return st.integers(1, 12).flatmap(
        lambda n: st.tuples(
            st.lists(st.lists(VALUES, min_size=n_models, max_size=n_models), min_size=n, max_size=n),
            st.lists(st.lists(st.floats(0, 100), min_size=n_models, max_size=n_models), min_size=n, max_size=n),
            st.lists(st.lists(st.floats(0.1, 3), min_size=n_models, max_size=n_models), min_size=n, max_size=n),
            # Bounds on a grid: a bound within HiGHS's 1e-7 tolerance of the best achievable mean
            # would make "feasible" depend on the solver's tolerance rather than on the instance.
            st.integers(0, 20).map(lambda i: i / 20),
            st.integers(1, 30).map(lambda i: i / 10),
        )
    )


def dense_highs_status(energy, constraints) -> int:
    """HiGHS on the dense, unnormalised LP (0 optimal, 2 infeasible): an independent formulation."""
    n, m = energy.shape
    rows, bounds = [], []
    for c in constraints:
        row = np.zeros((n, m))
        span = c.span(n)
        row[span.start : span.stop] = c.values[span.start : span.stop]
        rows.append(c.sign * row.ravel())
        bounds.append(c.sign * c.limit * len(span))
    result = linprog(
        energy.ravel(),
        A_ub=np.array(rows),
        b_ub=bounds,
        A_eq=np.kron(np.eye(n), np.ones(m)),
        b_eq=np.ones(n),
        bounds=(0, None),
        method="highs",
    )
    return result.status


@settings(max_examples=80, deadline=None)
@given(instance())
def test_two_constraints_optimal_by_dual_certificate(case):
    quality, energy, latency, alpha, limit = (np.array(part) for part in case)
    constraints = scenario_constraints(
        quality, latency, float(alpha), Scenario(latency=LatencySLO(mean_s=float(limit)))
    )
    solution = constrained_oracle(energy, constraints)
    assert solution.feasible == (dense_highs_status(energy, constraints) == 0), solution.message
    np.testing.assert_allclose(solution.choice.sum(axis=1), 1.0)
    assert solution.energy_j == pytest.approx((solution.choice * energy).sum())
    if solution.feasible:
        assert max(solution.violations) <= 1e-7
        assert (solution.duals >= -1e-9).all()
        # Weak duality makes g(μ) a lower bound on any feasible routing; equality certifies optimality.
        bound = lagrangian_dual(energy, constraints, np.clip(solution.duals, 0, None))
        assert bound <= solution.energy_j + 1e-6 * max(1.0, solution.energy_j)
        assert bound == pytest.approx(solution.energy_j, rel=1e-6, abs=1e-5)
    else:
        assert max(solution.violations) > 0


@settings(max_examples=60, deadline=None)
@given(instance())
def test_the_quality_constraint_alone_matches_the_bisection_oracle(case):
    quality, energy, _, alpha, _ = (np.array(part) for part in case)
    solution = constrained_oracle(energy, scenario_constraints(quality, quality, float(alpha), Scenario()))
    reference = hindsight_oracle(quality, energy, float(alpha))
    assert solution.feasible == reference.feasible
    if reference.feasible:
        assert solution.energy_j == pytest.approx(reference.energy_j, rel=1e-7, abs=1e-5)


def test_hand_solved_latency_bound_binds():
    # Two requests; model 1 is the only one good enough but slow, model 0 is fast and wrong.
    quality = np.array([[0.0, 1.0], [0.0, 1.0]])
    energy = np.array([[1.0, 2.0], [1.0, 2.0]])
    latency = np.array([[1.0, 3.0], [1.0, 3.0]])
    scenario = Scenario(latency=LatencySLO(mean_s=2.0))
    # α = 0.5 alone: one request to model 1, mean latency 2.0, energy 3.
    solution = constrained_oracle(energy, scenario_constraints(quality, latency, 0.5, scenario))
    assert solution.feasible and solution.energy_j == pytest.approx(3.0)
    assert solution.means == pytest.approx([0.5, 2.0])
    assert solution.duals[1] >= 0
    # α = 0.75 needs mean latency 2.5 > 2.0: infeasible, least violation keeps quality 0.5 and latency 2.0.
    worst = constrained_oracle(energy, scenario_constraints(quality, latency, 0.75, scenario))
    assert not worst.feasible and "infeasible" in worst.message
    assert sum(worst.violations) == pytest.approx(0.25)


@pytest.mark.parametrize("scale", [1.0, 1e20, 1e200])
def test_astronomical_energies_give_the_same_routing_and_scaled_duals(scale):
    # HiGHS reads costs of 1e20 and above as infinite; the LP is solved on scaled energies instead.
    quality = np.array([[0.0, 1.0], [0.0, 1.0]])
    latency = np.array([[1.0, 3.0], [1.0, 3.0]])
    constraints = scenario_constraints(quality, latency, 0.5, Scenario(latency=LatencySLO(mean_s=2.0)))
    solution = constrained_oracle(np.array([[1.0, 2.0], [1.0, 2.0]]) * scale, constraints)
    assert solution.feasible
    assert solution.energy_j == pytest.approx(3.0 * scale)
    bound = lagrangian_dual(np.array([[1.0, 2.0], [1.0, 2.0]]) * scale, constraints, np.clip(solution.duals, 0, None))
    assert bound == pytest.approx(solution.energy_j, rel=1e-6)


def test_the_deadline_form_bounds_the_late_share():
    quality = np.array([[0.0, 1.0]] * 4)
    energy = np.array([[1.0, 5.0]] * 4)
    latency = np.array([[0.5, 2.0]] * 4)
    constraints = scenario_constraints(
        quality, latency, 0.5, Scenario(latency=LatencySLO(deadline_s=1.0, max_late_share=0.25))
    )
    assert constraints[1].name == "late"
    solution = constrained_oracle(energy, constraints)
    assert not solution.feasible and solution.means[1] <= 0.5
    loose = scenario_constraints(
        quality, latency, 0.5, Scenario(latency=LatencySLO(deadline_s=1.0, max_late_share=0.5))
    )
    assert constrained_oracle(energy, loose).energy_j == pytest.approx(12.0)


def test_static_mix_with_quality_alone_matches_best_static_mix():
    rng = np.random.default_rng(0)
    quality, energy = rng.random((50, 3)), rng.uniform(1, 10, (50, 3)) * [1, 3, 9]
    mix = constrained_static_mix(energy, scenario_constraints(quality, quality, 0.55, Scenario()))
    reference = best_static_mix(quality.mean(axis=0), energy.mean(axis=0), 0.55)
    assert mix.feasible and mix.energy_j == pytest.approx(reference.energy_j * 50)


def test_static_mix_hand_solved_with_a_latency_bound():
    quality = np.array([[0.2, 0.6, 1.0]] * 3)
    energy = np.array([[1.0, 2.0, 4.0]] * 3)
    latency = np.array([[1.0, 1.0, 3.0]] * 3)
    # α = 0.6: model 1 alone (energy 2/request) meets it at latency 1.0.
    mix = constrained_static_mix(
        energy, scenario_constraints(quality, latency, 0.6, Scenario(latency=LatencySLO(mean_s=1.0)))
    )
    np.testing.assert_allclose(mix.weights, [0, 1, 0], atol=1e-9)
    assert mix.energy_j == pytest.approx(6.0)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="energy_j must be"):
        constrained_oracle(np.array([1.0, np.nan]), [MeanConstraint("q", np.ones((1, 2)), 0.5)])
    with pytest.raises(ValueError, match="values must be finite"):
        constrained_oracle(np.ones((2, 2)), [MeanConstraint("q", np.ones((3, 2)), 0.5)])
    with pytest.raises(ValueError, match="covers no request"):
        constrained_oracle(np.ones((2, 2)), [MeanConstraint("q", np.ones((2, 2)), 0.5, start=2)])
    with pytest.raises(ValueError, match="at least one constraint"):
        constrained_oracle(np.ones((2, 2)), [])


@settings(max_examples=60, deadline=None)
@given(instance(), st.integers(1, 5))
def test_windowed_sla_optimal_by_dual_certificate(case, window):
    quality, energy, latency, alpha, _ = (np.array(part) for part in case)
    constraints = scenario_constraints(quality, latency, float(alpha), Scenario(window=window))
    assert len(constraints) == 1 + -(-len(quality) // window)
    solution = constrained_oracle(energy, constraints)
    assert solution.feasible == (dense_highs_status(energy, constraints) == 0), solution.message
    if solution.feasible:
        assert max(solution.violations) <= 1e-7
        bound = lagrangian_dual(energy, constraints, np.clip(solution.duals, 0, None))
        assert bound == pytest.approx(solution.energy_j, rel=1e-6, abs=1e-5)


def test_hand_solved_windows_cost_more_than_the_whole_stream_sla():
    # Model 0 is free and right on the first two requests only; model 1 costs 1 and is always right.
    quality = np.array([[1.0, 1.0], [1.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    energy = np.array([[0.0, 1.0]] * 4)
    whole = constrained_oracle(
        energy, scenario_constraints(quality, quality, 0.5, Scenario(name="w", window=None, latency=None))
    )
    windows = scenario_constraints(quality, quality, 0.5, Scenario(window=2))
    windowed = constrained_oracle(energy, windows)
    # Whole stream: requests 0, 1 on model 0 reach 0.5 for free. Windows of 2: the second window needs 0.5 too.
    assert whole.energy_j == pytest.approx(0.0) and windowed.energy_j == pytest.approx(1.0)
    assert [m for c, m in zip(windows, windowed.means) if c.name == "window_quality"] == pytest.approx([1.0, 0.5])


@settings(max_examples=60, deadline=None)
@given(instance(), st.integers(0, 2**32 - 1))
def test_unavailable_models_get_no_share_and_the_certificate_holds(case, seed):
    quality, energy, latency, alpha, limit = (np.array(part) for part in case)
    available = np.random.default_rng(seed).random(quality.shape) < 0.6
    available[np.arange(len(quality)), np.random.default_rng(seed).integers(0, 3, len(quality))] = True
    quality, energy = np.where(available, quality, np.nan), np.where(available, energy, np.nan)
    scenario = Scenario(latency=LatencySLO(mean_s=float(limit)))
    constraints = scenario_constraints(quality, latency, float(alpha), scenario, available)
    solution = constrained_oracle(energy, constraints, available)
    assert (solution.choice[~available] == 0).all()
    if solution.feasible:
        bound = lagrangian_dual(
            np.where(available, energy, 0), constraints, np.clip(solution.duals, 0, None), available
        )
        assert bound == pytest.approx(solution.energy_j, rel=1e-6, abs=1e-5)


def test_a_request_with_no_available_model_is_refused():
    with pytest.raises(ValueError, match="with a model for every request"):
        constrained_oracle(np.ones((2, 2)), [MeanConstraint("q", np.ones((2, 2)), 0.5)], np.array([[1, 0], [0, 0]]))
