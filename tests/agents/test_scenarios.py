"""Agents under scenarios: MESS+'s latency queue, and every feedback-driven agent under delayed feedback."""

from __future__ import annotations

import numpy as np
import pytest

from messenv.env.scenario import LatencySLO
from messenv.harness import run_episode
from messenv_agents import AGENTS
from messenv_agents.base import PendingRequests
from messenv_agents.latency_queue import LatencyQueue
from messenv_agents.mess_plus import MessPlusAgent
from messenv_agents.ucb import UCB1Agent

LATENCY = {"name": "latency", "latency": {"mean_s": 0.3}}


def mean_latency(env) -> float:
    summary = env.unwrapped.summary()
    return summary["mean_costs"][1]


def test_pending_requests_pair_each_late_quality_with_its_observation():
    pending = PendingRequests(delayed=True)
    first, second = {"step": np.array(0)}, {"step": np.array(1)}
    assert pending.arrivals(first, {"delayed_feedback": []}) == []
    entry = {"step": 0, "action": 2, "quality": 1.0, "cost": 0.0, "outcomes": None}
    assert pending.arrivals(second, {"delayed_feedback": [entry]}) == [(first, entry)]
    assert PendingRequests().arrivals(first, {"delayed_feedback": [entry]}) == []


def test_latency_queue_grows_while_over_the_limit_and_penalises_slow_models():
    queue = LatencyQueue(LatencySLO(mean_s=1.0))
    assert queue.penalty() == 0.0
    queue.observe_explored(np.array([0.5, 3.0]))
    queue.observe_step(3.0)
    queue.observe_step(0.5)
    assert queue.queue == pytest.approx(1.5)
    np.testing.assert_allclose(queue.penalty(), [1.5 * -0.5, 1.5 * 2.0])
    late = LatencyQueue(LatencySLO(deadline_s=1.0, max_late_share=0.1))
    late.observe_explored(np.array([0.5, 3.0]))
    late.observe_step(3.0)
    assert late.queue == pytest.approx(0.9) and late.penalty()[0] < 0 < late.penalty()[1]


def test_mess_plus_latency_queue_lowers_latency_towards_the_slo(make_env):
    latencies = {}
    for queues in (False, True):
        env = make_env(n_requests=600, scenario=LATENCY)
        agent = MessPlusAgent(c=0.3, constraint_queues=queues)
        episode = run_episode(env, agent, seed=0)
        latencies[queues] = mean_latency(env)
        assert ("agent/latency_queue" in episode.arrays()) == queues
    assert latencies[True] < 0.8 * latencies[False], latencies


def test_mess_plus_without_a_latency_slo_is_unchanged_by_the_option(make_env):
    episodes = [
        run_episode(make_env(n_requests=200), MessPlusAgent(constraint_queues=q), seed=3) for q in (False, True)
    ]
    assert episodes[0].same_as(episodes[1])


@pytest.mark.parametrize("name", ["mess_plus", "ucb1", "thompson", "linucb", "primal_dual"])
def test_feedback_driven_agents_learn_from_delayed_qualities(make_env, name):
    env = make_env(n_requests=300, scenario={"name": "delay", "delay": {"steps": 5, "distribution": "geometric"}})
    agent = AGENTS[name]()
    episode = run_episode(env, agent, seed=1)
    assert not episode.feedback.any()  # no step revealed its own quality
    if name == "mess_plus":
        assert agent.queue > 0 or episode.trace["queue"].max() > 0  # the queue moved on late qualities
    else:
        assert agent.stats.quality_count.sum() > 250  # nearly every quality arrived and was counted


def test_a_delay_of_zero_steps_learns_exactly_what_immediate_feedback_learns(make_env):
    immediate = UCB1Agent()
    run_episode(make_env(n_requests=200), immediate, seed=2)
    delayed = UCB1Agent()
    run_episode(make_env(n_requests=200, scenario={"delay": {"steps": 0}}), delayed, seed=2)
    np.testing.assert_array_equal(immediate.stats.quality_count, delayed.stats.quality_count)
    np.testing.assert_allclose(immediate.stats.quality_mean, delayed.stats.quality_mean)
    assert immediate.lam == pytest.approx(delayed.lam)


ZOO = {
    "name": "zoo",
    "zoo": {
        "joins": {"large": 100},
        "leaves": {"small": 200},
        "updates": [{"model": "medium", "step": 150, "source": "large"}],
    },
}


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_every_agent_plays_only_available_models_in_a_changing_zoo(make_env, name):
    episode = run_episode(make_env(n_requests=300, scenario=ZOO), AGENTS[name](), seed=0)  # a masked action raises
    models = episode.action[episode.action < 3]
    steps = np.flatnonzero(episode.action < 3)
    assert not ((models == 2) & (steps < 100)).any() and not ((models == 0) & (steps >= 200)).any()


def test_energy_estimates_skip_unavailable_models():
    from messenv_agents.energy_estimates import LastEnergy, MeanEnergy

    last, mean = LastEnergy(), MeanEnergy()
    for estimator in (last, mean):
        estimator.observe(np.array([1.0, np.nan, 3.0]))
        estimator.observe(np.array([3.0, 5.0, np.nan]))
    np.testing.assert_allclose(last.estimate(), [3.0, 5.0, 3.0])
    np.testing.assert_allclose(mean.estimate(), [2.0, 5.0, 3.0])


@pytest.mark.parametrize("name", ["ucb1", "thompson", "linucb", "primal_dual"])
def test_bandits_take_the_latency_slo_as_a_second_multiplier(make_env, name):
    plain_env = make_env(n_requests=600)
    run_episode(plain_env, AGENTS[name](), seed=0)
    plain = plain_env.unwrapped.summary()
    env = make_env(n_requests=600, scenario=LATENCY)
    agent = AGENTS[name]()
    episode = run_episode(env, agent, seed=0)
    assert episode.trace["latency_dual"].max() > 0
    ignored = plain["total_latency_s"] / plain["n_requests"] - 0.3  # the SLO's violation without the multiplier
    assert ignored > 0 and mean_latency(env) - 0.3 < 0.5 * ignored
