"""The contextual safe mix: the held-out gate, routing by predicted gain, and the blind fallback."""

from __future__ import annotations

import numpy as np
import pytest

from messenv.harness import run_episode
from messenv_agents.mix_lp import Mix
from messenv_agents.safe_mix import SafeMixAgent
from messenv_agents.safe_mix_contextual import SafeMixContextualAgent
from tests.agents.helpers import make_info, make_obs, make_spec


def test_plays_exactly_as_the_blind_agent_while_the_gate_is_closed(make_env):
    env = make_env(alpha=0.6, n_requests=300)
    blind = run_episode(env, SafeMixAgent(), seed=4)
    gated = run_episode(env, SafeMixContextualAgent(min_checks=10**6), seed=4)
    np.testing.assert_array_equal(blind.action, gated.action)
    assert not gated.trace["routed_by_context"].any()


def teach(agent: SafeMixContextualAgent, model: int, n: int, rule, seed: int = 0) -> None:
    """Reveal ``n`` qualities of ``model`` on random 2-d features, ``rule(x, rng)`` giving each quality."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        x = rng.normal(size=2).astype(np.float32)
        agent.learn(make_obs(x, feature_dim=2), model, float(rule(x, rng)))


def test_gate_opens_where_the_regressions_rank_the_held_out_qualities():
    agent = SafeMixContextualAgent(min_checks=50)
    agent.reset(make_spec(feature_dim=2), seed=0)
    teach(agent, 0, 200, lambda x, rng: x[0] > 0)  # quality follows the features
    teach(agent, 1, 200, lambda x, rng: x[1] > 0, seed=1)
    assert agent.context_helps(0, 1)
    assert not agent.context_helps(0, 2)  # model 2 never checked


def test_gate_stays_closed_for_a_regression_that_ranks_worse_than_chance():
    agent = SafeMixContextualAgent(min_checks=150)
    agent.reset(make_spec(feature_dim=2), seed=0)
    teach(agent, 0, 150, lambda x, rng: x[0] > 0)  # learnt, not checked
    teach(agent, 0, 150, lambda x, rng: x[0] < 0, seed=1)  # then the relation flips: its ranking is backwards
    teach(agent, 1, 300, lambda x, rng: rng.random() < 0.5, seed=2)  # model 1: a coin
    assert agent.rank_sum[0] < 0
    assert not agent.context_helps(0, 1)


def test_ranking_check_counts_only_after_min_checks_and_gate_z_raises_the_bar():
    agent = SafeMixContextualAgent(min_checks=50, gate_z=1e6)
    agent.reset(make_spec(feature_dim=2), seed=0)
    teach(agent, 0, 50, lambda x, rng: x[0] > 0)
    assert agent.rank_terms[0] == 0 and agent.rank_sum[0] == 0.0  # the regression's first 50 are not checked
    teach(agent, 0, 150, lambda x, rng: x[0] > 0, seed=1)
    teach(agent, 1, 200, lambda x, rng: x[1] > 0, seed=2)
    assert agent.rank_terms[0] == 150 and agent.rank_sum[0] > 0
    assert not agent.context_helps(0, 1)  # signal, but not a million standard deviations of it
    agent.gate_z = 2.0
    assert agent.context_helps(0, 1)


def test_routes_the_upgrade_share_to_the_largest_predicted_gains():
    agent = SafeMixContextualAgent(window=100, min_checks=0)
    agent.reset(make_spec(feature_dim=1), seed=0)
    agent.theta[0] = [0.0, 0.5]  # low model: 0.5 everywhere
    agent.theta[1] = [0.4, 0.5]  # high model: better where the feature is large
    mix = Mix(0, 1, 0.25, True)
    features = np.linspace(-1.0, 1.0, 100)
    picks = [agent.pick(make_obs(np.array([f]), feature_dim=1), mix) for f in features]
    later = np.array([agent.pick(make_obs(np.array([f]), feature_dim=1), mix) for f in features])
    assert picks[-1] == 1 and agent.routed
    assert later.mean() == pytest.approx(0.25, abs=0.02)
    assert later[features > 0.51].all() and not later[features < 0.49].any()


def test_explored_steps_teach_every_model():
    agent = SafeMixContextualAgent()
    agent.reset(make_spec(), seed=0)
    outcomes = {"quality": np.array([0.0, 1.0, 1.0]), "energy_j": np.array([1.0, 2.0, 3.0]), "latency_s": np.ones(3)}
    agent.update(make_obs(), 3, -6.0, make_info(3, 1.0, 6.0, outcomes=outcomes))
    np.testing.assert_array_equal(agent.checks, [1, 1, 1])
    assert agent.predict(1, np.append(np.zeros(4), 1.0)) > agent.predict(0, np.append(np.zeros(4), 1.0)) == 0.0


def test_rejects_bad_parameters():
    with pytest.raises(ValueError, match="safe_mix_contextual: need ridge > 0"):
        SafeMixContextualAgent(ridge=0.0)
    with pytest.raises(ValueError, match="a finite gate_z, got 10.0, 200, 50, nan"):
        SafeMixContextualAgent(gate_z=float("nan"))


def test_regression_is_the_ridge_solution():
    agent = SafeMixContextualAgent(ridge=2.0)
    agent.reset(make_spec(feature_dim=3), seed=0)
    rng = np.random.default_rng(5)
    design = np.column_stack([rng.normal(size=(60, 3)).astype(np.float32), np.ones(60)])  # as observed
    qualities = (rng.random(60) < 0.6).astype(float)
    for row, quality in zip(design, qualities, strict=True):
        agent.learn(make_obs(row[:3], feature_dim=3), 1, float(quality))
    expected = np.linalg.solve(design.T @ design + 2.0 * np.eye(4), design.T @ qualities)
    np.testing.assert_allclose(agent.theta[1], expected, atol=1e-10)
    inverse = np.linalg.inv(design.T @ design + 2.0 * np.eye(4))
    np.testing.assert_allclose(np.tril(agent.a_inverse[1]), np.tril(inverse), atol=1e-12)  # the triangle BLAS keeps
    assert not agent.theta[0].any()


@pytest.mark.parametrize("share", [0.0, 0.1, 0.25, 0.5, 0.73, 0.999, 1.0])
def test_threshold_is_numpys_linear_quantile(share):
    agent = SafeMixContextualAgent(window=50)
    rng = np.random.default_rng(int(share * 1000))
    agent.gains = np.round(rng.normal(size=50), 1)  # ties included
    for gain in agent.gains:
        assert agent.at_or_above_quantile(gain, share) == (gain >= np.quantile(agent.gains, share))
