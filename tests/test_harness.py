"""run_episode: determinism, per-step arrays, invalid actions, and what the agent may see."""

from __future__ import annotations

import re

import gymnasium as gym
import numpy as np
import pytest

import messenv  # noqa: F401  (registers messenv/MessEnv-v0)
from messenv.env.task import TaskSpec
from messenv.harness import EpisodeResult, InvalidActionError, run_episode, stream_outcomes
from messenv.oracle import hindsight_oracle
from messenv.recordings import Recording
from messenv_agents import AGENTS
from messenv_agents.base import BaseAgent
from messenv_agents.blas_threads import blas_libraries
from messenv_agents.mess_plus import MessPlusAgent
from messenv_agents.uniform_random import RandomAgent
from tests.agents.helpers import make_learnable_zoo, two_blas_threads

T = 150


@pytest.fixture(scope="module")
def zoo() -> Recording:
    return make_learnable_zoo(n=300)


def make_env(zoo: Recording, **kwargs) -> gym.Env:
    kwargs.setdefault("alpha", 0.6)
    kwargs.setdefault("explore_action", True)
    kwargs.setdefault("n_requests", T)
    return gym.make("messenv/MessEnv-v0", recording=zoo, **kwargs)


class Spy(RandomAgent):
    """A random agent that keeps every argument the harness hands it."""

    name = "spy"

    def __init__(self) -> None:
        super().__init__()
        self.received: list[object] = []

    def reset(self, spec, seed):
        self.received += [spec, seed]
        super().reset(spec, seed)

    def act(self, obs):
        self.received.append(obs)
        return super().act(obs)

    def update(self, obs, action, reward, info):
        self.received += [obs, action, reward, info]


class Constant(BaseAgent):
    def __init__(self, action: object) -> None:
        super().__init__()
        self.action = action
        self.name = f"constant-{type(action).__name__}"

    def act(self, obs):
        return self.action


def leaves(value: object):
    """Every object reachable through dicts, lists and tuples."""
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from leaves(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from leaves(item)


def test_same_seed_same_result(zoo):
    env = make_env(zoo, feedback_rate=0.7)
    first = run_episode(env, MessPlusAgent(), seed=3)
    second = run_episode(make_env(zoo, feedback_rate=0.7), MessPlusAgent(), seed=3)
    assert first.same_as(second)
    assert not first.same_as(run_episode(env, MessPlusAgent(), seed=4))


def test_arrays_agree_with_the_episode_summary(zoo):
    result = run_episode(make_env(zoo, feedback_rate=0.5), MessPlusAgent(), seed=0)
    summary = result.summary
    assert isinstance(result, EpisodeResult) and result.agent == "mess_plus" and result.seed == 0
    assert result.n_requests == summary["n_requests"] == T
    assert result.energy_j.sum() == pytest.approx(summary["total_energy_j"])
    assert result.quality.mean() == pytest.approx(summary["mean_quality"])
    assert result.running_quality[-1] == pytest.approx(summary["mean_quality"])
    assert result.explored.mean() == pytest.approx(summary["exploration_share"])
    assert 0 < result.feedback.mean() < 1
    # True quality is recovered on withheld steps too (the zoo's qualities are 0 or 1).
    np.testing.assert_allclose(result.quality, np.round(result.quality), atol=1e-9)
    np.testing.assert_array_equal(result.answer_model[result.explored], 2)
    expected, q = [], 0.0  # the true-progress queue, recomputed
    for quality in result.quality:
        q = max(0.0, q + 0.6 - quality)
        expected.append(q)
    np.testing.assert_allclose(result.sla_queue, expected)
    assert set(result.trace) == {"queue", "explore_prob"} and len(result.trace["queue"]) == T
    assert set(result.arrays()) >= {"action", "quality", "energy_j", "agent/queue"}


def test_trace_off_skips_diagnostics_and_changes_nothing_else(zoo):
    """``trace=False`` (the runner's and the grid's setting) never calls ``diagnostics()`` and
    plays the very episode ``trace=True`` plays: same summary and per-step arrays."""

    class Counting(MessPlusAgent):
        calls = 0

        def diagnostics(self) -> dict[str, float]:
            Counting.calls += 1
            return super().diagnostics()

    traced = run_episode(make_env(zoo, feedback_rate=0.5), Counting(), seed=3)
    assert Counting.calls == T and set(traced.trace) == {"queue", "explore_prob"}
    untraced = run_episode(make_env(zoo, feedback_rate=0.5), Counting(), seed=3, trace=False)
    assert Counting.calls == T and untraced.trace == {}
    assert untraced.summary == traced.summary
    untraced_arrays, traced_arrays = untraced.arrays(), traced.arrays()
    assert untraced_arrays.keys() == {key for key in traced_arrays if not key.startswith("agent/")}
    for name, values in untraced_arrays.items():
        np.testing.assert_array_equal(values, traced_arrays[name])


def test_progress_is_reported_each_step(zoo):
    calls: list[tuple[int, int]] = []
    run_episode(make_env(zoo), RandomAgent(), seed=0, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(i, T) for i in range(1, T + 1)]


class ThreadCounter(RandomAgent):
    """A random agent that notes the BLAS thread counts each time it acts."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[tuple[int, ...]] = set()

    def act(self, obs):
        self.seen.add(tuple(library.num_threads for library in blas_libraries()))
        return super().act(obs)


def test_an_episode_plays_with_one_blas_thread_and_restores_the_count_after(zoo):
    with two_blas_threads() as libraries:
        agent = ThreadCounter()
        run_episode(make_env(zoo), agent, seed=0)
        assert agent.seen == {(1,) * len(libraries)}
        assert [library.num_threads for library in libraries] == [2] * len(libraries)
        # An agent that fails mid-episode leaves the count restored too.
        with pytest.raises(InvalidActionError):
            run_episode(make_env(zoo), Constant(-1), seed=0)
        assert [library.num_threads for library in libraries] == [2] * len(libraries)


@pytest.mark.parametrize("action", [3 + 1, -1, 1.0, True, "1", None])
def test_invalid_action_names_agent_and_action(zoo, action):
    agent = Constant(action)
    expected = f"agent 'constant-{type(action).__name__}' returned action {action!r}"
    with pytest.raises(InvalidActionError, match=re.escape(expected)) as error:
        run_episode(make_env(zoo), agent, seed=0)
    assert "valid actions are the ints 0..3; 3 queries every model" in str(error.value)


def test_explore_action_is_invalid_without_it(zoo):
    with pytest.raises(InvalidActionError, match=r"valid actions are the ints 0\.\.2"):
        run_episode(make_env(zoo, explore_action=False), Constant(3), seed=0)


@pytest.mark.parametrize("action", [np.int64(1), np.uint8(1), np.array(1)], ids=["int64", "uint8", "0-d array"])
def test_numpy_integer_actions_are_accepted_as_the_env_and_discrete_take_them(zoo, action):
    assert make_env(zoo).action_space.contains(action)
    result = run_episode(make_env(zoo), Constant(action), seed=0)
    np.testing.assert_array_equal(result.action, 1)


@pytest.mark.parametrize("action", [np.array(True), np.array([1]), np.array(1.0)], ids=["bool", "1-d", "float"])
def test_arrays_that_are_no_single_integer_are_refused(zoo, action):
    with pytest.raises(InvalidActionError, match="returned action array"):
        run_episode(make_env(zoo), Constant(action), seed=0)


def test_agent_never_receives_the_env_or_the_recording(zoo):
    env = make_env(zoo, feedback_rate=0.5)
    spy = Spy()
    run_episode(env, spy, seed=0)
    seen = [leaf for item in spy.received for leaf in leaves(item)]
    assert isinstance(spy.received[0], TaskSpec)
    forbidden = (gym.Env, gym.Wrapper, Recording)
    assert not [leaf for leaf in seen if isinstance(leaf, forbidden)]
    assert not any(leaf is env.unwrapped or leaf is zoo for leaf in seen)
    arrays = [leaf for leaf in seen if isinstance(leaf, np.ndarray)]
    # No array handed over is the recording's (or a view of it): the env gives copies.
    for array in arrays:
        for own in (zoo.quality, zoo.energy_j, zoo.latency_s, zoo.features):
            assert not np.shares_memory(array, own)


def test_stream_outcomes_match_the_episode_and_bound_every_agent(zoo):
    """The oracle on the episode's own requests is a lower bound for every agent meeting α."""
    env = make_env(zoo, alpha=0.6)
    for name, cls in sorted(AGENTS.items()):
        result = run_episode(env, cls(), seed=2)
        quality, energy = stream_outcomes(env)
        assert quality.shape == energy.shape == (T, 3)
        served = result.answer_model
        np.testing.assert_array_equal(quality[np.arange(T), served], result.quality)
        paid = np.where(result.explored, energy.sum(axis=1), energy[np.arange(T), served])
        np.testing.assert_allclose(paid, result.energy_j)
        oracle = hindsight_oracle(quality, energy, 0.6)
        if result.summary["sla_met"]:
            assert oracle.energy_j <= result.summary["total_energy_j"] + 1e-9, name


class InfoVandal(BaseAgent):
    """Plays the cheapest model and rewrites the ``info`` it is handed, the episode summary included."""

    name = "info_vandal"

    def act(self, obs):
        return 0

    def update(self, obs, action, reward, info):
        info["quality"], info["energy_j"], info["running_quality"] = 1.0, 0.0, 1.0
        if "episode_summary" in info:
            info["episode_summary"].update(total_energy_j=0.0, mean_quality=1.0, sla_met=True)
            info["episode_summary"]["model_share"][0] = 0.0  # a list: nested values are rewritten too


def test_rewriting_info_changes_nothing_the_harness_records(zoo):
    """The harness reads each step's figures and the summary before the agent sees ``info``."""
    honest = run_episode(make_env(zoo), Constant(0), seed=1)
    vandal = run_episode(make_env(zoo), InfoVandal(), seed=1)
    assert vandal.summary == honest.summary
    for key in ("quality", "energy_j", "running_quality", "sla_queue"):
        np.testing.assert_array_equal(getattr(vandal, key), getattr(honest, key))


def test_a_time_limit_truncates_the_episode_and_its_summary_covers_the_requests_played(zoo):
    env = make_env(zoo, max_episode_steps=40)
    result = run_episode(env, Constant(0), seed=3)
    assert result.n_requests == 40
    assert result.summary["n_requests"] == 40
    assert result.summary["total_energy_j"] == pytest.approx(result.energy_j.sum())
    assert result.action.flags.owndata, "trimmed arrays are copies: they do not pin the T-step buffers"


class LateDiagnostics(RandomAgent):
    """Reports ``late`` only from its 10th step: the trace keeps NaN before."""

    name = "late"

    def __init__(self) -> None:
        super().__init__()
        self.steps = 0

    def update(self, obs, action, reward, info):
        self.steps += 1

    def diagnostics(self):
        return {"late": float(self.steps)} if self.steps >= 10 else {}


def test_a_diagnostics_key_that_appears_late_is_nan_before(zoo):
    result = run_episode(make_env(zoo), LateDiagnostics(), seed=0)
    late = result.trace["late"]
    assert late.shape == (T,) and np.isnan(late[:9]).all()
    np.testing.assert_array_equal(late[9:], np.arange(10, T + 1))


class LongerThanAnnounced(gym.Wrapper):
    """An env whose task announces fewer requests than it plays (the recorder must grow)."""

    @property
    def unwrapped(self):
        return self

    def __getattr__(self, name):
        return getattr(self.env.unwrapped, name)

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self.task = TaskSpec(**{**self.env.unwrapped.task.__dict__, "n_requests": 3})
        return obs, info


def test_the_recorder_grows_when_an_env_plays_more_steps_than_its_task_says(zoo):
    env = make_env(zoo, feedback_rate=0.5)
    expected = run_episode(env, MessPlusAgent(), seed=2)
    grown = run_episode(LongerThanAnnounced(env), MessPlusAgent(), seed=2)
    assert grown.n_requests == T
    assert grown.same_as(expected)


def test_stream_outcomes_cover_the_requests_a_time_limit_let_play(tiny_recording):
    """Cut short by ``max_episode_steps``, an episode's oracle is solved on the requests played,
    as its summary is: solved on the whole stream it made any policy look ten times cheaper."""
    env = gym.make("messenv/MessEnv-v0", recording=tiny_recording, alpha=0.5, n_requests=40, max_episode_steps=15)
    result = run_episode(env, AGENTS["cheapest_first"](), 0)
    quality, energy = stream_outcomes(env)
    assert result.summary["n_requests"] == len(quality) == len(energy) == 15
    np.testing.assert_array_equal(quality, tiny_recording.quality[env.unwrapped.stream_rows[:15]])
    env.reset(seed=1)
    assert len(stream_outcomes(env)[0]) == 40  # after a reset: the whole stream


def test_stream_outcomes_before_any_reset_is_an_error_not_an_empty_stream(zoo):
    """Before a reset there is no stream: empty arrays made ``hindsight_oracle`` fail far from the cause."""
    with pytest.raises(RuntimeError, match=r"no episode yet: call env\.reset\(\)"):
        stream_outcomes(make_env(zoo))


def test_a_vector_env_is_refused_by_name(zoo):
    """``run_episode(gym.make_vec(...))`` failed with "'MultiDiscrete' object has no attribute 'n'"."""
    envs = gym.make_vec("messenv/MessEnv-v0", num_envs=2, recording=zoo, n_requests=T)
    with pytest.raises(TypeError, match=r"run_episode plays one env \(gym\.make\), not a vector env \(MessVectorEnv\)"):
        run_episode(envs, AGENTS["cheapest_first"](), 0)
