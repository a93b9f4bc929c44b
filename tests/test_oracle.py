"""Hindsight oracle and best static mix against scipy's HiGHS, infeasible cases, energy ratios."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from messenv.oracle import best_static_mix, energy_ratio, hindsight_oracle, reference_rows


def lp_optimum(quality: np.ndarray, energy: np.ndarray, alpha: float):
    """The oracle's LP on T·M variables, solved by HiGHS."""
    n, m = quality.shape
    return linprog(
        energy.ravel(), A_ub=-(quality.ravel() / n)[None, :], b_ub=[-alpha],
        A_eq=np.kron(np.eye(n), np.ones(m)), b_eq=np.ones(n), bounds=(0, None), method="highs",
    )


def check_against_highs(quality: np.ndarray, energy: np.ndarray, alpha: float) -> None:
    solution = hindsight_oracle(quality, energy, alpha)
    reference = lp_optimum(quality, energy, alpha)
    assert solution.feasible == (reference.status == 0), solution.message
    allocation = solution.choice
    np.testing.assert_allclose(allocation.sum(axis=1), 1.0)
    assert (allocation >= -1e-12).all()
    fractional_rows = ((allocation > 1e-12) & (allocation < 1 - 1e-12)).any(axis=1).sum()
    assert fractional_rows <= 1
    assert solution.energy_j == pytest.approx((allocation * energy).sum())
    if solution.feasible:
        # HiGHS stops within its own feasibility/optimality tolerances (1e-7), e.g. 6e-8 J where the
        # exact optimum is 0: compare at that precision, relatively tight for larger figures.
        assert solution.energy_j == pytest.approx(reference.fun, rel=1e-9, abs=1e-6)
        assert solution.mean_quality >= alpha - 1e-9


@pytest.mark.parametrize("seed", range(60))
def test_matches_highs_on_random_instances(seed):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 40)), int(rng.integers(2, 6))
    binary = seed % 2 == 0
    quality = (rng.random((n, m)) < rng.random(m)).astype(float) if binary else rng.random((n, m))
    energy = rng.uniform(0, 10, (n, m)) if seed % 3 else rng.integers(0, 3, (n, m)).astype(float)  # many ties
    check_against_highs(quality, energy, float(rng.uniform(0, 1)))


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 12).flatmap(
        lambda n: st.tuples(
            st.lists(st.lists(st.sampled_from([0.0, 0.25, 0.5, 1.0]), min_size=3, max_size=3), min_size=n, max_size=n),
            st.lists(st.lists(st.floats(0, 100, allow_nan=False), min_size=3, max_size=3), min_size=n, max_size=n),
        )
    ),
    st.floats(0, 1),
)
def test_matches_highs_property(instance, alpha):
    quality, energy = (np.array(part) for part in instance)
    # Within HiGHS's 1e-7 feasibility tolerance of the best achievable mean, "feasible" is the
    # solver's rounding, not the instance's (found: all-zero quality, alpha = 6e-8).
    assume(abs(alpha - quality.max(axis=1).mean()) > 1e-6)
    check_against_highs(quality, energy, alpha)


def test_infeasible_says_so_and_returns_best_quality():
    quality = np.array([[0.0, 1.0, 1.0], [0.0, 0.0, 0.5]])
    energy = np.array([[1.0, 3.0, 2.0], [1.0, 2.0, 3.0]])
    solution = hindsight_oracle(quality, energy, alpha=0.9)
    assert not solution.feasible
    assert solution.mean_quality == solution.max_quality == pytest.approx(0.75)
    assert "infeasible" in solution.message and "0.75" in solution.message
    np.testing.assert_array_equal(solution.choice, [[0, 0, 1], [0, 0, 1]])  # cheapest of the best


def test_cheapest_suffices_gives_dual_zero():
    quality = np.array([[1.0, 1.0], [0.0, 1.0]])
    energy = np.array([[1.0, 5.0], [1.0, 5.0]])
    solution = hindsight_oracle(quality, energy, alpha=0.5)
    assert solution.dual == 0.0 and solution.energy_j == 2.0
    np.testing.assert_array_equal(solution.model_share, [1.0, 0.0])


def test_hand_solved_split():
    # Request 0 gains 1 quality for 4 J, request 1 gains 1 for 2 J: α = 0.75 needs 1.5 units
    # beyond the cheapest picks (0): all of request 1, half of request 0 -> 2 + 2 + 2 + 1 J.
    quality = np.array([[0.0, 1.0], [0.0, 1.0]])
    energy = np.array([[1.0, 5.0], [1.0, 3.0]])
    solution = hindsight_oracle(quality, energy, alpha=0.75)
    assert solution.energy_j == pytest.approx(6.0)
    np.testing.assert_allclose(solution.choice, [[0.5, 0.5], [0.0, 1.0]])
    np.testing.assert_allclose(solution.model_share, [0.25, 0.75])


def test_rejects_bad_input():
    with pytest.raises(ValueError, match="must both be non-empty"):
        hindsight_oracle(np.ones((3, 2)), np.ones((3, 3)), 0.5)
    with pytest.raises(ValueError, match="alpha must be in"):
        hindsight_oracle(np.ones((3, 2)), np.ones((3, 2)), 1.5)
    with pytest.raises(ValueError, match="energy_j has non-finite"):
        hindsight_oracle(np.ones((1, 2)), np.array([[1.0, np.nan]]), 0.5)


def test_best_static_mix_hand_solved_and_infeasible():
    mix = best_static_mix(np.array([0.5, 0.9]), np.array([1.0, 10.0]), alpha=0.7)
    assert mix.feasible
    np.testing.assert_allclose(mix.weights, [0.5, 0.5], atol=1e-9)
    assert mix.energy_j == pytest.approx(5.5) and mix.quality == pytest.approx(0.7)
    out_of_reach = best_static_mix(np.array([0.5, 0.9, 0.9]), np.array([1.0, 10.0, 8.0]), alpha=0.95)
    assert not out_of_reach.feasible and "infeasible" in out_of_reach.message
    np.testing.assert_array_equal(out_of_reach.weights, [0.0, 0.0, 1.0])


@pytest.mark.parametrize("scale", [1e20, 1e100, 1e300])
def test_best_static_mix_of_a_zoo_with_astronomical_energies(scale):
    # HiGHS reads costs of 1e20 and above as infinite: it failed on this feasible LP ("model_status
    # is Unknown"), and the runner stopped with a traceback on a zoo of one's own with such a cell.
    mix = best_static_mix(np.array([0.5, 0.9]), np.array([1.0, 10.0]) * scale, alpha=0.7)
    assert mix.feasible
    np.testing.assert_allclose(mix.weights, [0.5, 0.5], atol=1e-9)
    assert mix.energy_j == pytest.approx(5.5 * scale)


def test_energy_ratio():
    assert energy_ratio(30.0, 20.0) == 1.5
    with pytest.raises(ValueError, match="oracle energy must be finite and > 0"):
        energy_ratio(1.0, 0.0)
    with pytest.raises(ValueError, match="agent energy"):
        energy_ratio(float("nan"), 1.0)


def test_reference_rows_oracle_beats_static_mix():
    rng = np.random.default_rng(0)
    quality = (rng.random((400, 3)) < [0.4, 0.6, 0.8]).astype(float)
    energy = rng.uniform(0.8, 1.2, (400, 3)) * [1.0, 4.0, 15.0]
    oracle, mix = reference_rows(quality, energy, alpha=0.7)
    assert (oracle["agent"], mix["agent"]) == ("oracle", "static_mix")
    assert oracle["energy_ratio"] == 1.0
    assert mix["energy_ratio"] > 1.0  # the static mix is one feasible point of the oracle's LP
    assert mix["mean_quality"] == pytest.approx(0.7) and mix["sla_met"]
    assert sum(mix["model_share"]) == pytest.approx(1.0)
