"""MESS+: exploration schedule, the drift-plus-penalty choice, the queue, energy estimates."""

from __future__ import annotations

import numpy as np
import pytest

from messenv.harness import run_episode
from messenv_agents.energy_estimates import LastEnergy, MeanEnergy, make_energy_estimator, scale_energy
from messenv_agents.mess_plus import MessPlusAgent, exploration_probability
from tests.agents.helpers import make_info, make_obs, make_spec

ACCURACY = np.array([0.2, 0.5, 0.9])


class FixedPredictor:
    """Predicts fixed accuracies and counts training calls."""

    def __init__(self, accuracy: np.ndarray = ACCURACY) -> None:
        self.accuracy = accuracy
        self.trained: list[np.ndarray] = []

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self.accuracy

    def train_step(self, features: np.ndarray, target: np.ndarray) -> float:
        self.trained.append(np.asarray(target))
        return 0.0

    def train_batch(self, features: np.ndarray, targets: np.ndarray) -> float:
        return self.train_step(features[0], targets[0])  # the new request leads the batch


def explored_info(quality: list[float] | None, energy: list[float], answer_quality: float | None = None) -> dict:
    outcomes = {"quality": None if quality is None else np.array(quality), "energy_j": np.array(energy), "latency_s": np.ones(3)}
    served = quality[-1] if quality is not None else answer_quality
    return make_info(3, served, float(sum(energy)), outcomes=outcomes)


def exploiting_agent(**kwargs) -> MessPlusAgent:
    """A MESS+ agent that never explores (c=0) and already has an energy estimate [1, 2, 3]."""
    predictor = FixedPredictor()
    agent = MessPlusAgent(c=0.0, predictor=lambda d, m, rng, config: predictor, **kwargs)
    agent.reset(make_spec(alpha=0.7), seed=0)
    agent.update(make_obs(), 3, -6.0, explored_info([0.0, 1.0, 1.0], [1.0, 2.0, 3.0]))
    return agent


def test_exploration_probability_schedule():
    assert exploration_probability(1, c=1.0, k=0.25) == 1.0
    assert exploration_probability(16, c=1.0, k=0.25) == pytest.approx(0.5)
    assert exploration_probability(4, c=1.0, k=0.5) == pytest.approx(0.5)
    assert exploration_probability(100, c=0.5, k=0.5) == pytest.approx(0.05)
    assert exploration_probability(3, c=10.0, k=0.25) == 1.0
    with pytest.raises(ValueError, match="counted from 1"):
        exploration_probability(0, c=1.0, k=0.25)


def test_explores_at_the_scheduled_rate():
    agent = MessPlusAgent(c=1.0, k=0.5, predictor=lambda d, m, rng, config: FixedPredictor())
    agent.reset(make_spec(), seed=3)
    explored = []
    for t in range(1, 4001):
        action = agent.act(make_obs())
        explored.append(action == 3)
        info = explored_info([0.0, 1.0, 1.0], [1.0, 2.0, 3.0]) if action == 3 else make_info(action, 1.0, 1.0)
        agent.update(make_obs(), action, -1.0, info)
    p = np.array([exploration_probability(t, 1.0, 0.5) for t in range(1, 4001)])
    # Sum of independent Bernoullis: mean Σp, variance Σp(1-p); 5 standard deviations.
    assert abs(sum(explored) - p.sum()) < 5 * np.sqrt((p * (1 - p)).sum())
    assert explored[0]  # p_1 = 1


def test_large_queue_picks_most_accurate_model():
    agent = exploiting_agent(V=1.0)
    agent.queue = 1e6
    assert agent.act(make_obs()) == 2


def test_large_v_picks_cheapest_model():
    agent = exploiting_agent(V=1e6)
    agent.queue = 1.0
    assert agent.act(make_obs()) == 0


def test_decision_is_the_drift_plus_penalty_argmin():
    agent = exploiting_agent(V=0.1)
    agent.queue = 1.0
    # V·e + Q·(α − p) = [0.1 + 0.5, 0.2 + 0.2, 0.3 − 0.2] -> model 2
    np.testing.assert_allclose(agent.costs(make_obs(), np.array([1.0, 2.0, 3.0])), [0.6, 0.4, 0.1], atol=1e-7)
    assert agent.act(make_obs()) == 2


def test_queue_update_and_sparse_feedback():
    agent = exploiting_agent()
    agent.queue = 0.0
    steps = [(0.0, 0.7), (1.0, 0.4), (None, 0.4), (1.0, 0.1), (1.0, 0.0), (0.0, 0.7)]
    for quality, expected in steps:
        agent.update(make_obs(), 0, -1.0, make_info(0, quality, 1.0))
        assert agent.queue == pytest.approx(expected)


def test_explored_step_without_feedback_updates_energy_not_predictor():
    predictor = FixedPredictor()
    agent = MessPlusAgent(predictor=lambda d, m, rng, config: predictor)
    agent.reset(make_spec(), seed=0)
    agent.update(make_obs(), 3, -6.0, explored_info(None, [1.0, 2.0, 3.0]))
    assert predictor.trained == []
    np.testing.assert_array_equal(agent.energy.estimate(), [1.0, 2.0, 3.0])
    assert agent.queue == 0.0
    agent.update(make_obs(), 3, -6.0, explored_info([0.0, 1.0, 1.0], [1.0, 2.0, 3.0]))
    assert len(predictor.trained) == 1
    np.testing.assert_array_equal(predictor.trained[0], [0.0, 1.0, 1.0])


def test_energy_estimators_last_versus_mean():
    last, mean = LastEnergy(), MeanEnergy()
    assert last.estimate() is None and mean.estimate() is None
    for energy in ([1.0, 10.0], [3.0, 30.0], [8.0, 20.0]):
        last.observe(np.array(energy))
        mean.observe(np.array(energy))
    np.testing.assert_allclose(last.estimate(), [8.0, 20.0])
    np.testing.assert_allclose(mean.estimate(), [4.0, 20.0])
    with pytest.raises(ValueError, match="unknown energy_estimator 'median'"):
        make_energy_estimator("median")


@pytest.mark.parametrize("kind, expected", [("last", [3.0, 6.0, 9.0]), ("mean", [2.0, 4.0, 6.0])])
def test_agent_uses_the_chosen_energy_estimator(kind, expected):
    agent = MessPlusAgent(energy_estimator=kind, predictor=lambda d, m, rng, config: FixedPredictor())
    agent.reset(make_spec(), seed=0)
    for energy in ([1.0, 2.0, 3.0], [3.0, 6.0, 9.0]):
        agent.update(make_obs(), 3, -1.0, explored_info([0.0, 0.0, 1.0], energy))
    np.testing.assert_allclose(agent.energy.estimate(), expected)


def test_scale_energy_raw_or_relative_to_the_zoos_mean():
    energy = np.array([5.0, 10.0, 45.0])
    assert scale_energy(energy, "raw") is energy
    np.testing.assert_allclose(scale_energy(energy, "relative"), [0.25, 0.5, 2.25])
    with pytest.raises(ValueError, match="unknown energy_scale 'kwh'"):
        MessPlusAgent(energy_scale="kwh")


def test_relative_energy_makes_the_decision_independent_of_the_energy_unit():
    decisions = []
    for factor in (1.0, 1000.0):
        agent = MessPlusAgent(
            V=0.5, c=0.0, energy_scale="relative", predictor=lambda d, m, rng, config: FixedPredictor()
        )
        agent.reset(make_spec(alpha=0.7), seed=0)
        agent.update(make_obs(), 3, -6.0, explored_info([0.0, 1.0, 1.0], [factor * 1.0, factor * 2.0, factor * 3.0]))
        agent.queue = 1.0
        decisions.append(agent.act(make_obs()))
    raw = MessPlusAgent(V=0.5, c=0.0, predictor=lambda d, m, rng, config: FixedPredictor())
    raw.reset(make_spec(alpha=0.7), seed=0)
    raw.update(make_obs(), 3, -6.0, explored_info([0.0, 1.0, 1.0], [1000.0, 2000.0, 3000.0]))
    raw.queue = 1.0
    assert decisions[0] == decisions[1] == 2  # 0.5·ē/2 + (0.7 − p̂): model 2 costs 0.75 − 0.2, the least
    assert raw.act(make_obs()) == 0  # in raw joules the same V makes energy dominate


def test_explores_until_an_energy_estimate_exists():
    agent = MessPlusAgent(c=0.0, predictor=lambda d, m, rng, config: FixedPredictor())
    agent.reset(make_spec(), seed=0)
    assert agent.act(make_obs()) == 3  # p_t = 0, but there is no energy estimate yet
    agent.update(make_obs(), 3, -6.0, explored_info([0.0, 1.0, 1.0], [1.0, 2.0, 3.0]))
    assert agent.act(make_obs()) != 3


def test_needs_the_explore_action_and_features():
    with pytest.raises(ValueError, match="explore_action=True"):
        MessPlusAgent().reset(make_spec(explore=False), seed=0)
    with pytest.raises(ValueError, match="feature_dim=0"):
        MessPlusAgent().reset(make_spec(feature_dim=0), seed=0)
    with pytest.raises(ValueError, match="V must be >= 0"):
        MessPlusAgent(V=-1.0)
    with pytest.raises(ValueError, match="unknown predictor 'svm'"):
        MessPlusAgent(predictor="svm").reset(make_spec(), seed=0)


def test_alpha_override_and_diagnostics():
    agent = MessPlusAgent(alpha=0.9)
    agent.reset(make_spec(alpha=0.5), seed=0)
    assert agent.alpha == 0.9
    assert set(agent.diagnostics()) == {"queue", "explore_prob"}


def test_learns_to_save_energy_on_the_learnable_zoo(make_env):
    """Against always-largest, MESS+ must use less energy while meeting a reachable SLA."""
    env = make_env(alpha=0.6, n_requests=600)
    mess = run_episode(env, MessPlusAgent(V=0.01), seed=1)
    largest = env.unwrapped.recording.energy_j[:, -1].sum()
    assert mess.summary["total_energy_j"] < 0.8 * largest
    assert mess.summary["mean_quality"] >= 0.6 - 0.03
    assert mess.explored.mean() < 0.5
    np.testing.assert_allclose(mess.trace["queue"] >= 0, True)


def test_default_predictor_learns_each_models_accuracy_not_its_majority_label():
    """Labels independent of the prompt: after ~80 explored requests the default head's mean
    prediction must be near each model's accuracy. The reference's one-example clipped steps
    (replay_size=0, learning_rate=0.0606) drift to the majority label instead (0 or 1)."""
    rng = np.random.default_rng(0)
    accuracy = np.array([0.3, 0.7, 0.85])
    features = rng.normal(size=(400, 32)).astype(np.float32)
    features /= np.linalg.norm(features, axis=1, keepdims=True)  # unit norm, like MiniLM embeddings
    labels = (rng.random((480, 3)) < accuracy).astype(np.float64)
    agent = MessPlusAgent()
    agent.reset(make_spec(feature_dim=32, alpha=0.5), seed=0)
    for x, y in zip(features[:80], labels[:80]):
        agent.learn(x, y)
    predicted = np.mean([agent.predictor.predict(x) for x in features[80:]], axis=0)
    np.testing.assert_allclose(predicted, accuracy, atol=0.12)


def test_replay_steps_on_the_new_request_and_remembered_ones():
    agent = MessPlusAgent(replay_size=3, batch_size=2)
    agent.reset(make_spec(feature_dim=4, alpha=0.5), seed=0)
    batches = []
    agent.predictor.train_batch = lambda x, y: batches.append((x.copy(), y.copy())) or 0.0
    for value in range(5):
        agent.learn(np.full(4, value, dtype=np.float32), np.full(3, value % 2, dtype=np.float32))
    assert [len(x) for x, _ in batches] == [1, 2, 2, 2, 2]  # the first has nothing to replay
    for value, (x, y) in enumerate(batches):
        assert x[0, 0] == value and y[0, 0] == value % 2  # the new request leads its batch
        assert all(row[0] < value for row in x[1:])  # the others were seen before
    assert agent.memory.size == 3 and agent.memory.seen == 5
