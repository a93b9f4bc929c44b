"""The closed-form cheapest mix against scipy's HiGHS (the static-mix solver of messenv.oracle)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from messenv.oracle import best_static_mix
from messenv_agents.mix_lp import Mix, cheapest_mix, cheapest_mix_within

unit = st.integers(0, 1000).map(lambda k: k / 1000)  # qualities on a 0.001 grid, as mean accuracies
energy = st.floats(0.1, 5000.0, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 5).flatmap(
        lambda m: st.tuples(st.lists(energy, min_size=m, max_size=m), st.lists(unit, min_size=m, max_size=m))
    ),
    unit,
)
def test_matches_highs(points, target):
    energies, qualities = points
    mix = cheapest_mix(energies, qualities, target)
    reference = best_static_mix(np.array(qualities), np.array(energies), target)
    assert mix.feasible == reference.feasible
    weights = np.zeros(len(energies))
    weights[mix.low] += 1.0 - mix.w_high
    weights[mix.high] += mix.w_high
    assert weights @ energies == pytest.approx(reference.energy_j, rel=1e-6, abs=1e-6)
    if mix.feasible:
        assert weights @ qualities >= target - 1e-9


def test_mixes_two_adjacent_hull_models():
    # (energy, quality): 10/0.5, 40/0.7, 150/0.9, and 100/0.6 which is above the hull
    mix = cheapest_mix([10.0, 40.0, 150.0, 100.0], [0.5, 0.7, 0.9, 0.6], 0.6)
    assert mix == Mix(0, 1, pytest.approx(0.5), True)


def test_one_model_when_it_already_reaches_the_target_and_the_best_when_none_does():
    assert cheapest_mix([10.0, 40.0], [0.5, 0.7], 0.4) == Mix(0, 0, 0.0, True)
    assert cheapest_mix([10.0, 40.0, 30.0], [0.5, 0.7, 0.7], 0.95) == Mix(2, 2, 0.0, False)


def test_energy_scale_does_not_change_the_mix():
    qualities = [0.4, 0.55, 0.6]
    joules = [80.0, 390.0, 2000.0]
    assert cheapest_mix(joules, qualities, 0.5) == cheapest_mix([e / 400.0 for e in joules], qualities, 0.5)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 4).flatmap(
        lambda m: st.tuples(*(st.lists(s, min_size=m, max_size=m) for s in (energy, unit, unit)))
    ),
    unit,
    unit,
)
def test_within_a_cost_limit_matches_highs_when_two_models_suffice(points, target, limit):
    energies, qualities, costs = points
    mix = cheapest_mix_within(energies, qualities, costs, target, limit)
    weights = np.zeros(len(energies))
    weights[mix.low] += 1.0 - mix.w_high
    weights[mix.high] += mix.w_high
    ones = np.ones((1, len(energies)))
    reference = linprog(
        energies,
        A_ub=np.array([[-q for q in qualities], costs]),
        b_ub=[-target, limit],
        A_eq=ones,
        b_eq=[1.0],
        bounds=(0, None),
        method="highs",
    )
    if reference.status == 0 and np.count_nonzero(reference.x > 1e-9) <= 2:
        assert weights @ energies == pytest.approx(reference.fun, rel=1e-6, abs=1e-6)
    if reference.status == 0:
        assert weights @ energies >= reference.fun - 1e-6 * max(1.0, reference.fun)
    if mix.feasible and weights @ costs <= limit + 1e-6:
        assert weights @ qualities >= target - 1e-9
    else:  # no mix of two meets both: the quality SLA alone
        assert mix == cheapest_mix(energies, qualities, target)
