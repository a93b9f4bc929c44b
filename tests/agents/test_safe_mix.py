"""The safe mix: budget tracking, the margin, Thompson-sampled LP, sparse feedback, explore use."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from messenv.env.scenario import LatencySLO
from messenv.harness import run_episode
from messenv_agents.safe_mix import SafeMixAgent
from tests.agents.helpers import make_info, make_obs, make_spec


def explored(quality: list[float] | None, energy: list[float]) -> dict:
    revealed = None if quality is None else np.array(quality)
    outcomes = {"quality": revealed, "energy_j": np.array(energy), "latency_s": np.ones(3)}
    return make_info(3, None if quality is None else quality[-1], float(sum(energy)), outcomes=outcomes)


def started_agent(alpha: float = 0.7, **kwargs) -> SafeMixAgent:
    agent = SafeMixAgent(**kwargs)
    agent.reset(make_spec(alpha=alpha), seed=0)
    assert agent.act(make_obs()) == 3  # the first request explores: every model's energy
    agent.update(make_obs(), 3, -111.0, explored([0.0, 1.0, 1.0], [10.0, 40.0, 150.0 - 90.0 + 61.0]))
    return agent


def required(agent: SafeMixAgent) -> float:
    return agent.required_rate(*agent.banked_estimate())


def test_first_request_explores_then_every_model_has_an_energy():
    agent = started_agent()
    np.testing.assert_allclose(agent.energy_count, [1, 1, 1])
    np.testing.assert_allclose(agent.quality_count, [1, 1, 1])
    assert agent.banked == 1.0 and agent.t == 1
    assert agent.act(make_obs()) in (0, 1, 2)


def test_without_explore_action_each_model_is_played_once_first():
    agent = SafeMixAgent()
    agent.reset(make_spec(explore=False), seed=0)
    for model in range(3):
        assert agent.act(make_obs()) == model
        agent.update(make_obs(), model, -1.0, make_info(model, 1.0, 1.0))


def test_required_rate_tracks_the_budget_and_its_margin():
    agent = started_agent(alpha=0.7, z=0.0)
    # 1 of 1000 requests served with quality 1: 699 still needed over 999
    assert required(agent) == pytest.approx(699 / 999)
    margin = started_agent(alpha=0.7, z=2.0, horizon=400)
    rate = 699 / 999
    assert required(margin) == pytest.approx((699 + 2 * np.sqrt(400 * rate * (1 - rate))) / 999)


def test_a_deficit_raises_the_rate_and_a_surplus_lowers_it():
    agent = started_agent(z=0.0)
    base = required(agent)
    agent.update(make_obs(), 0, -10.0, make_info(0, 0.0, 10.0))
    behind = required(agent)
    for _ in range(5):
        agent.update(make_obs(), 1, -40.0, make_info(1, 1.0, 40.0))
    assert behind > base > required(agent)


def test_withheld_answers_count_at_the_posterior_mean_and_widen_the_margin():
    full, sparse = started_agent(z=1.0), started_agent(z=1.0)
    full.update(make_obs(), 1, -40.0, make_info(1, 1.0, 40.0))
    sparse.update(make_obs(), 1, -40.0, make_info(1, None, 40.0))
    assert sparse.withheld.tolist() == [0.0, 1.0, 0.0]
    mean, variance = sparse.posterior()
    need = 0.7 * 1000 - 1.0 - mean[1]
    rate = need / 998
    spread = np.sqrt(mean[1] * (1 - mean[1]) + variance[1] + 400 * rate * (1 - rate))
    assert required(sparse) == pytest.approx((need + spread) / 998)
    assert full.banked == 2.0 and sparse.banked == 1.0


def test_recovery_plays_the_best_model_when_no_mix_reaches_the_rate():
    agent = started_agent(alpha=0.99)
    for _ in range(50):  # model 2 answers everything, the others nothing
        agent.update(make_obs(), 3, -200.0, explored([0.0, 0.0, 1.0], [10.0, 40.0, 150.0]))
    for _ in range(400):
        agent.update(make_obs(), 0, -10.0, make_info(0, 0.0, 10.0))  # a deficit
    assert {agent.act(make_obs()) for _ in range(50)} == {2}
    assert not agent.mix.feasible


@pytest.mark.parametrize(
    ("qualities", "recovers_with"),
    [
        ([0.0, 0.9, 0.92], 2),  # the middle model is about as good: the largest, the safe default
        ([0.0, 1.0, 0.3], 1),  # the middle model is clearly better: it
    ],
)
def test_recovery_plays_the_largest_model_unless_another_is_clearly_better(qualities, recovers_with):
    agent = started_agent(alpha=0.99)
    rng = np.random.default_rng(0)
    for _ in range(60):
        answers = (rng.random(3) < qualities).astype(float).tolist()
        agent.update(make_obs(), 3, -200.0, explored(answers, [10.0, 40.0, 150.0]))
    assert agent.recovery_model() == recovers_with
    assert {agent.act(make_obs()) for _ in range(50)} == {recovers_with}  # α = 0.99: no mix reaches it
    assert not agent.mix.feasible


def test_recovers_when_no_posterior_mean_reaches_the_rate_whatever_the_draws():
    """Pessimism on the constraint: a draw above the rate must not put a model on the mix when
    no model's posterior mean reaches it (an optimistic draw only leaks quality)."""
    agent = started_agent(alpha=0.92)
    for answer in [1.0] * 92 + [0.0] * 8:  # the largest model: posterior mean 0.91, below the rate
        agent.update(make_obs(), 2, -150.0, make_info(2, answer, 150.0))
    mean, variance = agent.posterior()
    assert mean.max() < required(agent) < mean[2] + 2 * np.sqrt(variance[2])  # some draws reach it
    assert {agent.act(make_obs()) for _ in range(200)} == {2}
    assert not agent.mix.feasible


def test_a_model_is_clearly_better_than_the_largest_by_recovery_width_standard_deviations():
    agent = started_agent(alpha=0.99)
    for answers in ([1.0, 1.0, 1.0], [1.0, 1.0, 0.0], [1.0, 1.0, 0.0]):  # the largest: 2 of 4
        agent.update(make_obs(), 3, -200.0, explored(answers, [10.0, 40.0, 150.0]))
    for answer in [1.0] * 160 + [0.0] * 40:  # the middle model: 164 of 204
        agent.update(make_obs(), 1, -40.0, make_info(1, answer, 40.0))
    assert agent.recovery_model() == 2  # 0.80 - 2 sd is not above 0.50 + 2 sd
    agent.recovery_width = 1.0
    assert agent.recovery_model() == 1  # 0.80 - 1 sd is above 0.50 + 1 sd


def explored_near_equal(alpha: float, middle_wrong_every: int = 35) -> SafeMixAgent:
    """500 explored requests: the small model wrong on every 10th, the middle one on every
    ``middle_wrong_every``-th, the largest on every 37th (it answers them, so they are banked); at
    these α no model's posterior mean reaches r⁺: recovery."""
    agent = started_agent(alpha=alpha)
    for i in range(499):
        answers = [float(i % 10 != 0), float(i % middle_wrong_every != 0), float(i % 37 != 0)]
        agent.update(make_obs(), 3, -200.0, explored(answers, [10.0, 40.0, 150.0]))
    mean, _ = agent.posterior()
    assert required(agent) > mean.max()
    return agent


def test_recovery_plays_a_cheaper_model_about_as_likely_to_meet_the_sla():
    agent = explored_near_equal(alpha=0.96)
    chance = agent.chance_to_meet()
    assert 0.5 < chance[1] < chance[2] < chance[1] + 0.02  # the middle model: 40 J against 150 J
    assert agent.recovery_model() == 1
    assert {agent.act(make_obs()) for _ in range(20)} == {1}
    agent.recovery_tolerance = 0.0
    assert agent.recovery_model() == 2


def test_recovery_keeps_the_largest_model_where_it_is_clearly_likelier_or_meeting_is_unlikely():
    worse = explored_near_equal(alpha=0.96, middle_wrong_every=33)
    chance = worse.chance_to_meet()
    assert chance[2] - chance[1] > 0.02 and worse.recovery_model() == 2
    behind = explored_near_equal(alpha=0.975)
    assert behind.chance_to_meet()[2] < 0.5  # the tolerance is moot: no model is likely to make it
    behind.recovery_tolerance = 1.0
    assert behind.recovery_model() == 2


def test_plays_the_cheap_model_when_its_quality_is_known_to_be_enough():
    agent = started_agent(alpha=0.3)
    for _ in range(200):
        agent.update(make_obs(), 3, -200.0, explored([1.0, 1.0, 1.0], [10.0, 40.0, 150.0]))
    assert {agent.act(make_obs()) for _ in range(50)} == {0}


def test_keeps_room_to_recover_by_exploring_while_the_best_model_is_uncertain():
    agent = started_agent(alpha=0.5)
    # one explored request: the bounds are wide, a wrong answer could not be recovered for sure
    assert not agent.room_to_recover(*agent.banked_estimate())
    actions = []
    for _ in range(40):
        actions.append(agent.act(make_obs()))
        assert not agent.mix.feasible  # safe mode (or recovery): the single model with the best draw
        assert actions[-1] == 3 or agent.mix.low == actions[-1]
    assert 3 in actions  # the best draw was the largest model: played by the explore action
    for _ in range(300):  # the largest model answers 95 % of requests, with a surplus banked
        agent.update(make_obs(), 3, -200.0, explored([0.0, 0.5, float(agent.rng.random() < 0.95)], [10.0, 40.0, 150.0]))
    agent.t = 1  # as if these were extra information: the stream has not advanced
    assert agent.room_to_recover(*agent.banked_estimate())
    assert agent.act(make_obs()) != 3 and not agent.safe_mode


def test_room_check_uses_the_lower_bound_of_the_best_model():
    agent = started_agent(alpha=0.5)
    for _ in range(100):
        agent.update(make_obs(), 3, -200.0, explored([0.0, 0.0, 1.0], [10.0, 40.0, 150.0]))
    banked, variance = agent.banked_estimate()
    mean, var = agent.posterior()
    best = mean[2] - 2.0 * np.sqrt(var[2])
    after = 1000 - agent.t - 1
    reach = banked + after * best - 2.0 * np.sqrt(400 * best * (1 - best))
    assert agent.room_to_recover(banked, variance) == (reach >= 500)
    assert SafeMixAgent(kappa=0.0).kappa == 0.0


def test_meets_the_sla_cheaper_than_the_largest_model(make_env):
    env = make_env(alpha=0.6)
    largest = make_env(alpha=0.6)
    for seed in range(3):
        result = run_episode(env, SafeMixAgent(), seed)
        assert result.summary["sla_met"]
        assert result.summary["mean_quality"] < 0.62  # steered to α, not far above it
        ceiling = run_episode(largest, _Largest(), seed)
        assert result.summary["total_energy_j"] < 0.6 * ceiling.summary["total_energy_j"]


def test_energy_scale_does_not_change_the_trajectory(make_env):
    def scaled(info: dict, factor: float) -> dict:
        info = dict(info, energy_j=info["energy_j"] * factor)
        if info["explored"]:
            info["outcomes"] = dict(info["outcomes"], energy_j=info["outcomes"]["energy_j"] * factor)
        return info

    env = make_env(alpha=0.6, n_requests=300)
    actions = []
    for factor in (1.0, 1000.0):
        agent = SafeMixAgent()
        obs, _ = env.reset(seed=3)
        agent.reset(env.unwrapped.task, 3)
        played, done = [], False
        while not done:
            action = agent.act(obs)
            next_obs, reward, done, _, info = env.step(action)
            agent.update(obs, action, reward * factor, scaled(info, factor))
            played.append(action)
            obs = next_obs
        actions.append(played)
    assert actions[0] == actions[1]


def test_rejects_bad_parameters():
    with pytest.raises(ValueError, match="safe_mix: need z >= 0, horizon >= 1, kappa >= 0, explore_extra >= 0,"):
        SafeMixAgent(z=-1.0)
    bad_values = ({"horizon": 0}, {"kappa": -1.0}, {"explore_extra": -0.1}, {"recovery_width": -1.0})
    for bad in (*bad_values, {"recovery_tolerance": -0.1}, {"recovery_tolerance": 1.5}):
        with pytest.raises(ValueError, match="got"):
            SafeMixAgent(**bad)


class _Largest(SafeMixAgent):
    def act(self, obs: dict) -> int:
        return self.n_models - 1


def test_learns_from_delayed_qualities_and_banks_them_when_they_arrive(make_env):
    env = make_env(n_requests=300, scenario={"name": "delay", "delay": {"steps": 5, "distribution": "geometric"}})
    agent = SafeMixAgent()
    episode = run_episode(env, agent, seed=1)
    assert not episode.feedback.any()  # no step revealed its own quality
    assert agent.quality_count.sum() > 250  # the late qualities taught the posteriors
    assert agent.withheld.sum() == 0 and not agent.answered  # every quality arrived and was banked
    assert agent.banked == pytest.approx(episode.summary["mean_quality"] * 300)
    assert episode.summary["sla_met"]


def test_a_latency_slo_is_a_second_budget_of_the_mix():
    plays = {}
    for slo in (None, LatencySLO(mean_s=0.5)):
        agent = SafeMixAgent(kappa=0.0)
        agent.reset(dataclasses.replace(make_spec(alpha=0.5), latency_slo=slo), seed=0)
        for step in range(50):  # models 0 and 1 both reach α; model 0 is the cheap one but slow
            outcomes = {
                "quality": np.array([1.0, 1.0, 1.0]) * (step % 5 > 0),
                "energy_j": np.array([10.0, 40.0, 150.0]),
                "latency_s": np.array([2.0, 0.1, 1.0]),
            }
            agent.update(make_obs(step=step), 3, -200.0, dict(explored(None, [10.0]), outcomes=outcomes, latency_s=3.1))
        plays[slo] = np.bincount([agent.act(make_obs()) for _ in range(400)], minlength=4)
        budget = (0.5 * 1000 - 50 * 3.1) / 950  # the latency the remaining requests may spend
        assert slo is None or agent.latency_rate() == pytest.approx(budget)
    assert plays[None][0] == 400  # quality alone: the cheapest model that reaches α
    share = (2.0 - budget) / (2.0 - 0.1)  # the fast model's weight that meets the latency budget
    assert plays[LatencySLO(mean_s=0.5)][1] / 400 == pytest.approx(share, abs=0.06)


def test_a_windowed_sla_budgets_each_window_on_its_own():
    agent = SafeMixAgent(z=0.0)
    agent.reset(dataclasses.replace(make_spec(alpha=0.7), sla_window=100), seed=0)
    for step in range(150):  # every answer right: the first window banks 100, far beyond its 70
        agent.act(make_obs(step=step))
        agent.update(make_obs(step=step), 1, -40.0, make_info(1, 1.0, 40.0))
    agent.act(make_obs(step=150))
    assert agent.budget_span() == (100, 200)
    assert agent.banked == 50.0  # only what the second window banked counts towards it
    assert required(agent) == pytest.approx((70 - 50) / 50)


def test_delayed_qualities_of_an_earlier_window_only_teach_the_posterior():
    agent = SafeMixAgent()
    agent.reset(dataclasses.replace(make_spec(), sla_window=10, feedback_delayed=True), seed=0)
    for step in range(13):  # every quality is late; at step 12 those of steps 4 and 11 arrive
        agent.act(make_obs(step=step))
        arrivals = [{"step": s, "action": 1, "quality": 1.0, "outcomes": None} for s in (4, 11) if step == 12]
        agent.update(make_obs(step=step), 1, -40.0, dict(make_info(1, None, 40.0), delayed_feedback=arrivals))
    assert agent.budget_span() == (10, 20)
    assert agent.quality_count[1] == 2.0  # both taught the posterior
    assert agent.banked == 1.0  # only step 11's is banked: step 4 paid into the first window
    assert agent.withheld[1] == 2.0  # steps 10 and 12 still due


def test_meets_every_window_of_a_windowed_sla(make_env):
    env = make_env(n_requests=600, scenario={"name": "windowed", "window": 100})
    episode = run_episode(env, SafeMixAgent(), seed=0)
    assert episode.summary["constraints_met"] and episode.summary["worst_window_quality"] >= 0.6


def test_under_a_latency_slo_recovery_keeps_to_models_within_the_latency_budget():
    agent = SafeMixAgent()
    agent.reset(dataclasses.replace(make_spec(alpha=0.99), latency_slo=LatencySLO(mean_s=0.5)), seed=0)
    rng = np.random.default_rng(0)
    for step in range(60):  # the two larger models are as good; the largest is slow
        outcomes = {
            "quality": (rng.random(3) < [0.0, 0.9, 0.9]).astype(float),
            "energy_j": np.array([10.0, 40.0, 150.0]),
            "latency_s": np.array([0.1, 0.4, 3.0]),
        }
        agent.update(make_obs(step=step), 3, -200.0, dict(explored(None, [10.0]), outcomes=outcomes, latency_s=0.4))
    assert not agent.explore_is_cheap()
    assert agent.recovery_model() == 1  # the largest that fits the 0.5 s budget, not the 3 s one
    plain = SafeMixAgent()
    plain.reset(make_spec(alpha=0.99), seed=0)
    plain.quality_sum[:], plain.quality_count[:] = agent.quality_sum, agent.quality_count
    assert plain.recovery_model() == 2
