"""Lagrangian bandits: the dual update, feedback handling, index rules, convergence on 2 arms."""

from __future__ import annotations

import numpy as np
import pytest

from messenv_agents.lagrangian import ArmStatistics
from messenv_agents.linucb import LinUCBAgent
from messenv_agents.primal_dual import PrimalDualAgent
from messenv_agents.thompson import ThompsonAgent
from messenv_agents.ucb import UCB1Agent
from tests.agents.helpers import make_info, make_obs, make_spec

BANDITS = [PrimalDualAgent, UCB1Agent, ThompsonAgent, LinUCBAgent]


def play_two_arms(agent, alpha: float, steps: int = 3000, seed: int = 0) -> np.ndarray:
    """Arm 0: quality ~ Bernoulli(0.4), 1 J; arm 1: Bernoulli(0.9), 5 J. Returns the actions."""
    rng = np.random.default_rng(seed)
    agent.reset(make_spec(n_models=2, alpha=alpha, explore=False, feature_dim=2), seed=seed)
    p_correct, energy = np.array([0.4, 0.9]), np.array([1.0, 5.0])
    actions = []
    for _ in range(steps):
        obs = make_obs(rng.normal(size=2), feature_dim=2)
        action = agent.act(obs)
        quality = float(rng.random() < p_correct[action])
        agent.update(obs, action, -energy[action], make_info(action, quality, energy[action], n_models=2))
        actions.append(action)
    return np.array(actions)


@pytest.mark.parametrize("bandit", BANDITS)
def test_cheap_arm_when_it_meets_the_sla(bandit):
    actions = play_two_arms(bandit(), alpha=0.3)
    assert (actions[-500:] == 0).mean() > 0.9


@pytest.mark.parametrize("bandit", BANDITS)
def test_accurate_arm_when_the_sla_is_out_of_reach(bandit):
    actions = play_two_arms(bandit(), alpha=0.95)  # above both arms: λ grows, the best arm wins
    assert (actions[-500:] == 1).mean() > 0.9


@pytest.mark.parametrize("bandit", BANDITS)
def test_mixes_to_track_an_sla_between_the_arms(bandit):
    """α = 0.65 lies between the arms' 0.4 and 0.9: the long-run quality must approach it."""
    actions = play_two_arms(bandit(), alpha=0.65, steps=6000)
    share_accurate = (actions[-3000:] == 1).mean()
    expected_quality = 0.4 + 0.5 * share_accurate
    assert expected_quality == pytest.approx(0.65, abs=0.05), (bandit.name, share_accurate)


def test_dual_update_is_projected_gradient_ascent():
    agent = PrimalDualAgent(eta=0.5, lambda_init=1.0, lambda_max=2.0)
    agent.reset(make_spec(alpha=0.7, explore=False), seed=0)
    expected = [(0.0, 1.35), (1.0, 1.2), (1.0, 1.05), (None, 1.05), (0.0, 1.4), (0.0, 1.75), (0.0, 2.0)]
    for quality, lam in expected:
        agent.update(make_obs(), 0, -1.0, make_info(0, quality, 1.0))
        assert agent.lam == pytest.approx(lam)
    for _ in range(20):
        agent.update(make_obs(), 0, -1.0, make_info(0, 1.0, 1.0))
    assert agent.lam == 0.0


def test_sparse_feedback_moves_energy_statistics_only():
    agent = UCB1Agent()
    agent.reset(make_spec(explore=False), seed=0)
    agent.update(make_obs(), 1, -4.0, make_info(1, None, 4.0))
    assert agent.stats.quality_count.tolist() == [0, 0, 0]
    assert agent.stats.energy_count.tolist() == [0, 1, 0]
    assert agent.lam == agent.lambda_init


def test_plays_each_arm_until_its_quality_is_revealed():
    agent = PrimalDualAgent(c=0.0)
    agent.reset(make_spec(explore=False), seed=0)
    played = []
    for quality in (1.0, None, 0.0, 1.0):  # the second play of arm 1 is withheld: play it again
        action = agent.act(make_obs())
        played.append(action)
        agent.update(make_obs(), action, -1.0, make_info(action, quality, float(action + 1)))
    assert played == [0, 1, 1, 2]


def test_ucb1_index_on_hand_set_statistics():
    agent = UCB1Agent(lambda_init=2.0)
    agent.reset(make_spec(n_models=2, explore=False), seed=0)
    for arm, quality, energy in ((0, 0.5, 1.0), (0, 0.5, 1.0), (1, 1.0, 4.0), (1, 1.0, 4.0)):
        agent.stats.add_quality(arm, quality)
        agent.stats.add_energy(arm, energy)
    bonus = np.sqrt(2 * np.log(4) / 2)
    np.testing.assert_allclose(agent.quality_index(make_obs()), [0.5 + bonus, 1.0 + bonus])
    np.testing.assert_allclose(agent.energy_index(), [0.25, 1.0])  # scale = largest mean energy
    # 2·(0.5 + b) − 0.25 < 2·(1 + b) − 1  ⇔  0.75 < 1: arm 1
    assert agent.act(make_obs()) == 1


def test_arm_statistics_running_moments():
    stats = ArmStatistics(1)
    for energy in (1.0, 2.0, 6.0):
        stats.add_energy(0, energy)
    assert stats.energy_mean[0] == pytest.approx(3.0)
    assert stats.energy_variance()[0] == pytest.approx(np.var([1.0, 2.0, 6.0], ddof=1))


def test_linucb_learns_a_linear_quality():
    """Ridge regression with Sherman-Morrison must equal the closed form."""
    agent = LinUCBAgent(beta=0.0, ridge=1.0)
    agent.reset(make_spec(n_models=2, explore=False, feature_dim=2), seed=0)
    rng = np.random.default_rng(0)
    xs, qs = rng.normal(size=(50, 2)), rng.random(50)
    for x, q in zip(xs, qs):
        agent.learn(make_obs(x, feature_dim=2), 0, float(q))
    design = np.hstack([xs, np.ones((50, 1))]).astype(np.float32).astype(np.float64)
    theta = np.linalg.solve(design.T @ design + np.eye(3), design.T @ qs)
    probe = np.array([0.3, -1.2])
    expected = np.append(probe, 1.0) @ theta
    assert agent.quality_index(make_obs(probe, feature_dim=2))[0] == pytest.approx(expected, rel=1e-6)


def test_thompson_is_deterministic_per_seed():
    first, second, other = (play_two_arms(ThompsonAgent(), 0.65, steps=300, seed=s) for s in (4, 4, 5))
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


def test_thompson_quality_draws_are_the_beta_posterior_draws_of_the_agents_generator():
    """One scalar draw per model gives the numbers ``rng.beta`` draws for the whole arrays."""
    agent = ThompsonAgent()
    agent.reset(make_spec(n_models=3, explore=False), seed=7)
    for arm, quality in ((0, 1.0), (0, 0.0), (1, 1.0), (2, 0.25), (2, 1.0), (2, 1.0)):
        agent.stats.add_quality(arm, quality)
    counts, means = agent.stats.quality_count, agent.stats.quality_mean
    successes = counts * means
    expected = np.random.default_rng(7).beta(1.0 + successes, 1.0 + counts - successes)
    np.testing.assert_array_equal(agent.quality_index(make_obs()), expected)


def test_bad_parameters_are_rejected():
    with pytest.raises(ValueError, match="eta must be > 0"):
        UCB1Agent(eta=0.0)
    with pytest.raises(ValueError, match="lambda_init <= lambda_max"):
        PrimalDualAgent(lambda_init=5.0, lambda_max=1.0)
    with pytest.raises(ValueError, match="ridge > 0"):
        LinUCBAgent(ridge=0.0)
    with pytest.raises(ValueError, match="c must be >= 0"):
        PrimalDualAgent(c=-1.0)


def test_primal_dual_explores_at_rate_c_over_cube_root_t():
    agent = PrimalDualAgent(c=2.0)
    agent.reset(make_spec(n_models=2, explore=False), seed=0)
    agent.stats.add_quality(0, 1.0)
    agent.stats.add_quality(1, 0.0)
    agent.stats.add_energy(0, 1.0)
    agent.stats.add_energy(1, 5.0)
    actions = np.array([agent.act(make_obs()) for _ in range(8000)])  # greedy choice: model 0
    epsilon = np.minimum(1.0, 2.0 / np.arange(1, 8001) ** (1 / 3))
    expected_random_ones = (epsilon / 2).sum()
    assert abs(actions.sum() - expected_random_ones) < 5 * np.sqrt((epsilon / 2 * (1 - epsilon / 2)).sum())
