"""MessEnv semantics: spaces, rewards, explore action, feedback, summaries, determinism, errors."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st

import messenv  # noqa: F401  (registers messenv/MessEnv-v0)
from messenv.env import MessEnv, RecordEpisodeSummaries
from tests.factories import make_recording


def play(env: gym.Env, actions, seed: int = 0, options: dict | None = None):
    """Play ``actions`` (cycled) to the end of one episode; return (obs list, rewards, infos)."""
    obs, _ = env.reset(seed=seed, options=options)
    observations, rewards, infos = [obs], [], []
    t = 0
    while True:
        obs, reward, terminated, truncated, info = env.step(actions[t % len(actions)])
        observations.append(obs)
        rewards.append(reward)
        infos.append(info)
        t += 1
        if terminated or truncated:
            return observations, rewards, infos


def pickle_round_trip(env: gym.Env) -> gym.Env:
    return pickle.loads(pickle.dumps(env))


def test_check_env_passes(tiny_recording):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Box(-inf, inf) features are intended
        check_env(MessEnv(recording=tiny_recording, alpha=0.6, explore_action=True), skip_render_check=True)


def test_check_env_with_ansi_rendering_warns_only_of_the_unbounded_features(tiny_recording):
    env = gym.make("messenv/MessEnv-v0", recording=tiny_recording, alpha=0.6, render_mode="ansi").unwrapped
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env)  # its render check included: the render modes, and the frame rate they need
    assert [str(w.message) for w in caught if "infinity" not in str(w.message)] == []
    env.reset(seed=0)
    assert "quality n/a" in env.render()  # no request answered yet: no running quality to show
    env.step(0)
    assert "quality n/a" not in env.render()


@pytest.mark.parametrize("copy_env", [pickle_round_trip, copy.deepcopy], ids=["pickle", "deepcopy"])
def test_a_copied_env_plays_on_exactly_as_the_original(tiny_recording, copy_env):
    env = gym.make("messenv/MessEnv-v0", recording=tiny_recording, alpha=0.6, explore_action=True, feedback_rate=0.5)
    env.reset(seed=4)
    for action in (0, 3, 1):
        env.step(action)
    clone = copy_env(env)
    for action in (2, 3, 0, 1, 1):
        mine, theirs = env.step(action), clone.step(action)
        assert repr(mine) == repr(theirs)
    assert clone.unwrapped.summary() == env.unwrapped.summary()


def test_samples_of_the_observation_space_are_in_it(tiny_recording):
    space = MessEnv(recording=tiny_recording, explore_action=True).observation_space
    space.seed(0)
    assert all(space.contains(space.sample()) for _ in range(20))


def test_a_zero_dimensional_integer_array_is_an_action_as_discrete_says(tiny_recording):
    env = MessEnv(recording=tiny_recording, alpha=0.6)
    assert env.action_space.contains(np.array(1))
    env.reset(seed=0)
    row = env.stream_rows[0]
    assert env.step(np.array(1))[1] == -tiny_recording.energy_j[row, 1]
    for bad in (np.array(True), np.array(1.0), np.array([1]), np.array(7)):
        with pytest.raises(ValueError, match="invalid action"):
            env.step(bad)


def test_registered_make_gives_messenv(tiny_recording):
    env = gym.make("messenv/MessEnv-v0", recording=tiny_recording, alpha=0.5)
    assert isinstance(env.unwrapped, MessEnv)
    assert env.action_space == gym.spaces.Discrete(3)


def test_prompt_space_accepts_every_prompt_with_punctuation_and_unicode(tiny_recording):
    env = MessEnv(recording=tiny_recording)
    space = env.observation_space["prompt"]
    assert all(space.contains(p) for p in tiny_recording.prompts)
    assert not gym.spaces.Text(max_length=100).contains(tiny_recording.prompts[0])  # Gymnasium's default charset


def test_reward_is_minus_energy_and_info_reports_the_run_model(tiny_recording):
    env = MessEnv(recording=tiny_recording, alpha=0.5)
    env.reset(seed=3)
    row = env.stream_rows[0]
    _, reward, _, _, info = env.step(1)
    assert reward == -tiny_recording.energy_j[row, 1]
    assert info["models"] == (1,) and info["answer_model"] == 1 and not info["explored"]
    assert info["quality"] == tiny_recording.quality[row, 1]
    assert info["cost"] == 1.0 - info["quality"]
    assert info["latency_s"] == tiny_recording.latency_s[row, 1]


def test_explore_action_pays_every_model_and_answers_with_the_largest(tiny_recording):
    env = MessEnv(recording=tiny_recording, alpha=0.5, explore_action=True)
    env.reset(seed=0)
    row = env.stream_rows[0]
    _, reward, _, _, info = env.step(3)
    assert reward == pytest.approx(-tiny_recording.energy_j[row].sum())
    assert info["explored"] and info["models"] == (0, 1, 2) and info["answer_model"] == 2
    assert info["quality"] == tiny_recording.quality[row, 2]
    np.testing.assert_array_equal(info["outcomes"]["quality"], tiny_recording.quality[row])
    np.testing.assert_array_equal(info["outcomes"]["energy_j"], tiny_recording.energy_j[row])
    assert env.task.explore_action == 3 and env.task.n_actions == 4


def test_without_explore_action_the_explore_index_is_invalid(tiny_recording):
    env = MessEnv(recording=tiny_recording)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"invalid action 3.*\[0, 2\]"):
        env.step(3)


@pytest.mark.parametrize("bad", [-1, 7, 1.5, "1", None, True])
def test_invalid_action_gives_a_clear_error(tiny_recording, bad):
    env = MessEnv(recording=tiny_recording, explore_action=True)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="invalid action"):
        env.step(bad)


def test_numpy_integer_actions_are_accepted(tiny_recording):
    env = MessEnv(recording=tiny_recording)
    env.reset(seed=0)
    env.step(np.int64(2))


def test_step_after_the_end_asks_for_reset(tiny_recording):
    env = MessEnv(recording=tiny_recording, n_requests=2)
    env.reset(seed=0)
    env.step(0)
    env.step(0)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)


def test_episode_replays_every_request_once_and_terminates(tiny_recording):
    env = MessEnv(recording=tiny_recording)
    observations, rewards, infos = play(env, [0])
    assert len(rewards) == tiny_recording.n_requests
    assert sorted(env.stream_rows.tolist()) == list(range(tiny_recording.n_requests))
    assert [int(o["step"]) for o in observations[:-1]] == list(range(tiny_recording.n_requests))
    assert "episode_summary" in infos[-1] and all("episode_summary" not in i for i in infos[:-1])


def test_same_seed_same_trajectory_different_seed_different_order(tiny_recording):
    env = MessEnv(recording=tiny_recording, explore_action=True)
    a = play(env, [0, 3, 1, 2], seed=7)
    b = play(env, [0, 3, 1, 2], seed=7)
    assert [o["prompt"] for o in a[0]] == [o["prompt"] for o in b[0]]
    assert a[1] == b[1]
    assert a[2][-1]["episode_summary"] == b[2][-1]["episode_summary"]
    c = play(env, [0, 3, 1, 2], seed=8)
    assert [o["prompt"] for o in a[0]] != [o["prompt"] for o in c[0]]


def test_summary_matches_the_steps(tiny_recording):
    env = MessEnv(recording=tiny_recording, alpha=0.55, explore_action=True)
    _, rewards, infos = play(env, [0, 1, 2, 3], seed=1)
    summary = infos[-1]["episode_summary"]
    n = tiny_recording.n_requests
    assert summary["n_requests"] == n
    assert summary["total_energy_j"] == pytest.approx(-sum(rewards))
    qualities = [i["quality"] for i in infos]
    assert summary["mean_quality"] == pytest.approx(np.mean(qualities))
    assert summary["sla_met"] == (np.mean(qualities) >= 0.55)
    assert summary["sla_violation"] == pytest.approx(max(0.0, 0.55 - np.mean(qualities)))
    assert summary["model_share"] == pytest.approx([0.25, 0.25, 0.25])
    assert summary["exploration_share"] == pytest.approx(0.25)
    explore_energy = -sum(r for r, i in zip(rewards, infos) if i["explored"])
    assert summary["exploration_energy_j"] == pytest.approx(explore_energy)
    assert infos[-1]["running_quality"] == pytest.approx(summary["mean_quality"])
    assert infos[-1]["sla_gap"] == pytest.approx(0.55 - summary["mean_quality"])


def test_withheld_feedback_hides_quality_but_counts_it(tiny_recording):
    env = MessEnv(recording=tiny_recording, explore_action=True, feedback_rate=0.3)
    _, _, infos = play(env, [3, 2], seed=2)
    withheld = [i for i in infos if not i["feedback"]]
    assert 0 < len(withheld) < len(infos)
    assert all(i["quality"] is None and i["cost"] is None for i in withheld)
    assert all(i["outcomes"]["quality"] is None for i in withheld if i["explored"])
    true_mean = np.mean([tiny_recording.quality[row, 2] for row in env.stream_rows.tolist()])
    assert infos[-1]["episode_summary"]["mean_quality"] == pytest.approx(true_mean)
    assert infos[-1]["episode_summary"]["feedback_share"] == pytest.approx(1 - len(withheld) / len(infos))


def test_feedback_rate_does_not_change_the_request_order(tiny_recording):
    full = MessEnv(recording=tiny_recording)
    sparse = MessEnv(recording=tiny_recording, feedback_rate=0.2)
    full.reset(seed=4)
    sparse.reset(seed=4)
    np.testing.assert_array_equal(full.stream_rows, sparse.stream_rows)


def test_reset_options_select_benchmarks_length_and_replacement(tiny_recording):
    env = MessEnv(recording=tiny_recording)
    observations, rewards, _ = play(env, [0], options={"benchmarks": ["beta_bench"], "n_requests": 5})
    beta = tiny_recording.benchmark_names.index("beta_bench")
    assert len(rewards) == 5 and env.task.n_requests == 5
    assert all(o["benchmark"] == beta for o in observations)
    _, rewards, _ = play(env, [0], options={"replace": True, "n_requests": 500})
    assert len(rewards) == 500
    assert len(set(env.stream_rows.tolist())) <= tiny_recording.n_requests


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n_requests": 10_000}, "exceeds"),
        ({"n_requests": 0}, "positive"),
        ({"benchmarks": ["nope"]}, "not in recording"),
        ({"feedback_rate": 0.0}, "feedback_rate"),
        ({"n_requsts": 3}, "unknown reset option"),
    ],
)
def test_bad_reset_options_fail_clearly_and_leave_the_env_usable(tiny_recording, options, message):
    env = MessEnv(recording=tiny_recording, n_requests=4)
    with pytest.raises(ValueError, match=message):
        env.reset(seed=0, options=options)
    env.reset(seed=0)
    assert env.task.n_requests == 4


@pytest.mark.parametrize("benchmarks", [[], ()])
@pytest.mark.parametrize("replace", [False, True])
def test_an_empty_benchmark_selection_is_named_as_such(tiny_recording, benchmarks, replace):
    with pytest.raises(ValueError, match="benchmarks is empty"):
        MessEnv(recording=tiny_recording, benchmarks=benchmarks, replace=replace, n_requests=3)
    env = MessEnv(recording=tiny_recording)
    with pytest.raises(ValueError, match="benchmarks is empty"):
        env.reset(seed=0, options={"benchmarks": benchmarks, "replace": replace, "n_requests": 3})


def test_one_benchmark_name_selects_that_benchmark(tiny_recording):
    env = MessEnv(recording=tiny_recording, benchmarks="beta_bench")
    observations, _, _ = play(env, [0])
    beta = tiny_recording.benchmark_names.index("beta_bench")
    assert all(o["benchmark"] == beta for o in observations)
    observations, _, _ = play(env, [0], options={"benchmarks": "alpha_bench"})
    alpha = tiny_recording.benchmark_names.index("alpha_bench")
    assert all(o["benchmark"] == alpha for o in observations)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n_requests": 2.5}, "n_requests must be a positive integer"),
        ({"n_requests": True}, "n_requests must be a positive integer"),
        ({"n_requests": "3"}, "n_requests must be a positive integer"),
        ({"feedback_rate": "0.5"}, "feedback_rate must be a number"),
        ({"feedback_rate": True}, "feedback_rate must be a number"),
    ],
)
def test_options_of_the_wrong_type_are_refused_not_converted(tiny_recording, options, message):
    env = MessEnv(recording=tiny_recording)
    with pytest.raises(ValueError, match=message):
        env.reset(seed=0, options=options)
    with pytest.raises(ValueError, match=message):
        MessEnv(recording=tiny_recording, **options)


def test_numpy_integer_n_requests_is_accepted(tiny_recording):
    env = MessEnv(recording=tiny_recording, n_requests=np.int64(3))
    env.reset(seed=0)
    assert env.task.n_requests == 3


@pytest.mark.parametrize("alpha", ["0.5", True, None])
def test_alpha_that_is_not_a_number_is_named(tiny_recording, alpha):
    with pytest.raises(ValueError, match="alpha must be in"):
        MessEnv(recording=tiny_recording, alpha=alpha)


def test_a_refused_reset_does_not_reseed_the_env(tiny_recording):
    untouched = MessEnv(recording=tiny_recording)
    untouched.reset(seed=0)
    untouched.reset()
    refused = MessEnv(recording=tiny_recording)
    refused.reset(seed=0)
    with pytest.raises(ValueError, match="positive"):
        refused.reset(seed=5, options={"n_requests": 0})
    refused.reset()
    np.testing.assert_array_equal(refused.stream_rows, untouched.stream_rows)


def test_bad_constructor_arguments_fail_clearly(tiny_recording):
    with pytest.raises(ValueError, match="alpha"):
        MessEnv(recording=tiny_recording, alpha=1.5)
    with pytest.raises(ValueError, match="exceeds"):
        MessEnv(recording=tiny_recording, n_requests=1000)
    with pytest.raises(ValueError, match="render_mode"):
        MessEnv(recording=tiny_recording, render_mode="human")


def test_task_spec_tells_the_agent_what_it_may_know(tiny_recording):
    env = MessEnv(recording=tiny_recording, alpha=0.7, explore_action=True, feedback_rate=0.5)
    env.reset(seed=0, options={"n_requests": 9})
    task = env.task
    assert task.models == tiny_recording.models and task.alpha == 0.7 and task.n_requests == 9
    assert task.feature_dim == 4 and task.feedback_rate == 0.5
    assert task.benchmark_names == tiny_recording.benchmark_names


def test_cost_limit_follows_safety_gymnasium(tiny_recording):
    assert MessEnv(recording=tiny_recording, alpha=0.8).cost_limit == pytest.approx(0.2)


def test_ansi_render(tiny_recording):
    env = MessEnv(recording=tiny_recording, render_mode="ansi", n_requests=3)
    env.reset(seed=0)
    env.step(0)
    assert env.render().startswith("request 1/3")


def test_record_episode_summaries_wrapper(tiny_recording):
    env = RecordEpisodeSummaries(MessEnv(recording=tiny_recording, n_requests=5))
    for seed in range(3):
        play(env, [1], seed=seed)
    assert len(env.summaries) == 3 and all(s["n_requests"] == 5 for s in env.summaries)


def test_recording_without_features_gets_hashed_features(tiny_recording):
    env = MessEnv(recording=dataclasses.replace(tiny_recording, features=None))
    obs, _ = env.reset(seed=0)
    assert env.recording.metadata.features_kind.startswith("hashed")
    assert env.observation_space["features"].contains(obs["features"])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), actions=st.lists(st.integers(0, 3), min_size=1, max_size=8))
def test_property_totals_equal_the_sum_of_steps(seed, actions):
    recording = make_recording(n=25, seed=seed % 1000)
    env = MessEnv(recording=recording, alpha=0.5, explore_action=True)
    _, rewards, infos = play(env, actions, seed=seed)
    summary = infos[-1]["episode_summary"]
    assert summary["total_energy_j"] == pytest.approx(-sum(rewards))
    assert sum(summary["model_share"]) + summary["exploration_share"] == pytest.approx(1.0)
    assert 0.0 <= summary["mean_quality"] <= 1.0


def test_gymnasiums_record_episode_statistics_wraps_the_env(tiny_recording):
    """``info["episode"]`` belongs to Gymnasium's wrapper: the env's own summary has another key."""
    env = gym.wrappers.RecordEpisodeStatistics(
        gym.make("messenv/MessEnv-v0", recording=tiny_recording, alpha=0.5, n_requests=10)
    )
    env.reset(seed=0)
    for _ in range(10):
        *_, terminated, truncated, info = env.step(0)
    assert terminated and info["episode"]["l"] == 10
    assert info["episode"]["r"] == pytest.approx(-info["episode_summary"]["total_energy_j"], rel=1e-5)
