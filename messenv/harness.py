"""Run one agent for one episode of a MessEnv and keep what plots and reports need.

The harness is the only code that holds both the environment and the agent, and it hands the
agent nothing but the public :class:`~messenv.env.task.TaskSpec`, each observation, and each
step's reward and ``info``: an agent cannot reach the recording it is scored on.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable

import gymnasium as gym
import numpy as np

from messenv.env.actions import as_action
from messenv.env.zoo_change import MaskedActionError
from messenv_agents.base import Agent
from messenv_agents.blas_threads import single_threaded_blas

Progress = Callable[[int, int], None]


class InvalidActionError(ValueError):
    """An agent returned something that is not a valid action of the env."""


# What an agent's action can raise in an episode: not a valid action, or a model the changing zoo
# masks. :func:`run_episode` sets ``agent`` (its name) and ``step`` (the request index) on the error,
# so that a caller can say which agent failed where without the traceback (``python -m messenv.run``).
ACTION_ERRORS = (InvalidActionError, MaskedActionError)


@dataclass(frozen=True, eq=False)
class EpisodeResult:
    """One episode of one agent: the env's summary and per-step arrays (length T).

    Attributes:
        agent: the agent's ``name``.
        seed: the seed the env and the agent were reset with.
        summary: ``info["episode_summary"]`` of the last step (total energy, mean quality, SLA met,
            ...); of the requests played when a time limit truncated the episode.
        action: the action played (model index, or the explore action).
        answer_model: the model whose answer was served (the largest on an explored step).
        explored: whether the step queried every model.
        feedback: whether the step's quality was revealed to the agent.
        quality: the TRUE quality of the served answer, revealed or not.
        energy_j: the energy paid on the step (the whole zoo's on an explored step).
        running_quality: mean true quality up to and including the step.
        sla_queue: the true-progress virtual queue ``Q_t = max(0, Q_{t-1} + α − quality_t)`` of
            the task's α: how far behind the SLA the episode is, which an agent with sparse
            feedback cannot observe (see :mod:`messenv_agents.mess_plus`).
        trace: the agent's ``diagnostics()`` after each step (e.g. ``queue``, ``lambda``), float32
            (for plots and loggers: half the memory of a long episode's trace), NaN on steps
            where the agent did not report the key.
    """

    agent: str
    seed: int
    summary: dict[str, Any]
    action: np.ndarray
    answer_model: np.ndarray
    explored: np.ndarray
    feedback: np.ndarray
    quality: np.ndarray
    energy_j: np.ndarray
    running_quality: np.ndarray
    sla_queue: np.ndarray
    trace: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_requests(self) -> int:
        """Number of steps T."""
        return len(self.action)

    def arrays(self) -> dict[str, np.ndarray]:
        """Every per-step array by name (``trace`` entries prefixed ``agent/``)."""
        columns = {
            name: getattr(self, name)
            for name in (
                "action", "answer_model", "explored", "feedback", "quality", "energy_j", "running_quality", "sla_queue"
            )
        }
        columns.update({f"agent/{key}": values for key, values in self.trace.items()})
        return columns

    def same_as(self, other: EpisodeResult) -> bool:
        """True if both episodes have the same agent, seed, summary and per-step arrays."""
        mine, theirs = self.arrays(), other.arrays()
        return (
            (self.agent, self.seed, self.summary) == (other.agent, other.seed, other.summary)
            and mine.keys() == theirs.keys()
            and all(np.array_equal(mine[key], theirs[key]) for key in mine)
        )


def agent_name(agent: Agent) -> str:
    """The agent's ``name``, or its class name if it has none."""
    return str(getattr(agent, "name", type(agent).__name__))


def check_action(agent: Agent, action: Any, n_actions: int, explore_action: int | None) -> int:
    """``action`` as an int, or :class:`InvalidActionError` naming the agent and the action."""
    if type(action) is int and 0 <= action < n_actions:  # the usual case, once per step: no isinstance chain
        return action
    checked = as_action(action, n_actions)
    if checked is not None:
        return checked
    explore = f"; {explore_action} queries every model" if explore_action is not None else ""
    raise InvalidActionError(
        f"agent {agent_name(agent)!r} returned action {action!r} ({type(action).__name__}); "
        f"valid actions are the ints 0..{n_actions - 1}{explore}"
    )


_COLUMNS: dict[str, type] = {
    "action": np.int32,  # a zoo has a handful of models: 4 bytes instead of 8 per step
    "answer_model": np.int32,
    "explored": np.bool_,
    "feedback": np.bool_,
    "quality": np.float64,
    "energy_j": np.float64,
    "running_quality": np.float64,
    "sla_queue": np.float64,
}


class _Recorder:
    """Per-step figures written into numpy arrays preallocated for the episode's ``capacity`` steps.

    Writes go through memoryviews of the arrays (a Python scalar stored in place, as cheap as a
    list append), so an episode of any length holds O(1) Python objects: a 10⁷-request episode
    records into 8 arrays of 10⁷ numbers (42 bytes a step, 0.42 GB, plus 4 bytes per diagnostic)
    instead of 8·10⁷ list entries.
    """

    def __init__(self, alpha: float, capacity: int) -> None:
        self.alpha = alpha
        self.steps = 0
        self.queue = 0.0
        self.running = 0.0  # the previous step's running quality
        self._allocate(max(1, capacity))
        self.trace: dict[str, np.ndarray] = {}
        self._trace_views: dict[str, memoryview] = {}

    def _allocate(self, capacity: int) -> None:
        """(Re)allocate every column for ``capacity`` steps, keeping the steps recorded so far."""
        old = getattr(self, "columns", {})
        self.columns = {key: np.zeros(capacity, dtype=dtype) for key, dtype in _COLUMNS.items()}
        for key, values in old.items():
            self.columns[key][: self.steps] = values[: self.steps]
        (
            self._action, self._answer, self._explored, self._feedback,
            self._quality, self._energy, self._running, self._queue,
        ) = (memoryview(self.columns[key]) for key in _COLUMNS)
        self.capacity = capacity

    def add(self, action: int, info: dict) -> None:
        """Record the step's figures from ``info`` (call before the agent is handed ``info``)."""
        i = self.steps
        if i == self.capacity:  # an env that plays more steps than its task announced
            self._allocate(2 * self.capacity)
            self._grow_trace()
        running = float(info["running_quality"])
        quality = info["quality"]
        if quality is None:
            # Withheld from the agent, but the true running mean still moves by it.
            quality = (i + 1) * running - i * self.running
        self.queue = max(0.0, self.queue + self.alpha - quality)
        self._action[i] = action
        self._answer[i] = info["answer_model"]
        self._explored[i] = info["explored"]
        self._feedback[i] = info["feedback"]
        self._quality[i] = quality
        self._energy[i] = info["energy_j"]
        self._running[i] = running
        self._queue[i] = self.queue
        self.running = running
        self.steps = i + 1

    def add_diagnostics(self, diagnostics: dict[str, float]) -> None:
        """Record the agent's ``diagnostics()`` after its update (NaN on steps where a key is absent)."""
        step = self.steps - 1
        for key, value in diagnostics.items():
            view = self._trace_views.get(key)
            if view is None:
                self.trace[key] = np.full(self.capacity, np.nan, dtype=np.float32)
                view = self._trace_views[key] = memoryview(self.trace[key])
            view[step] = float(value)

    def _grow_trace(self) -> None:
        for key, values in self.trace.items():
            grown = np.full(self.capacity, np.nan, dtype=np.float32)
            grown[: len(values)] = values
            self.trace[key], self._trace_views[key] = grown, memoryview(grown)

    def result(self, agent: str, seed: int, summary: dict[str, Any]) -> EpisodeResult:
        """The episode's arrays, trimmed to the steps played (a time limit may have cut it short)."""

        def played(values: np.ndarray) -> np.ndarray:
            return values if self.steps == len(values) else values[: self.steps].copy()

        arrays = {key: played(values) for key, values in self.columns.items()}
        trace = {key: played(values) for key, values in self.trace.items()}
        return EpisodeResult(agent=agent, seed=seed, summary=summary, trace=trace, **arrays)


def episode_rows(env: gym.Env) -> np.ndarray:
    """The recording rows of the current episode's requests: the whole stream after a reset or a
    finished episode; the requests played so far when an episode stopped short of its end (a
    ``TimeLimit``'s truncation), which are the ones its summary and its oracle must cover."""
    base = env.unwrapped
    rows = base.stream_rows
    if len(rows) == 0:  # an oracle over no requests would fail far from here, or score nothing
        raise RuntimeError("no episode yet: call env.reset() (or run_episode) before asking for its requests")
    played = base.requests_played
    return rows[:played] if 0 < played < len(rows) else rows


def stream_outcomes(env: gym.Env) -> tuple[np.ndarray, np.ndarray]:
    """``quality[T, M]`` and ``energy_j[T, M]`` of every model on the current episode's requests
    (:func:`episode_rows`: the requests played, where a time limit cut the episode short).

    This is what :func:`messenv.oracle.hindsight_oracle` needs to score an episode: call it after
    :func:`run_episode` (or any reset) and before the next reset.
    """
    base = env.unwrapped
    rows = episode_rows(env)
    return base.recording.quality[rows], base.recording.energy_j[rows]


def scenario_outcomes(env: gym.Env) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Every model's ``quality``, ``energy_j`` and ``latency_s`` ``[T, M]`` on the current episode's
    requests as the env's scenario presented them, and ``available[T, M]`` (``None`` unless the zoo
    changes; then unavailable entries are NaN): what the scenario's hindsight oracle
    (:func:`messenv.scenario_oracle.scenario_reference_rows`) needs. Call it like :func:`stream_outcomes`.
    """
    base = env.unwrapped
    rows = episode_rows(env)
    zoo = base.scenario.zoo
    if zoo is not None:
        return zoo.segments(base.recording, len(rows), base.explore_index is not None).effective(rows)
    quality, energy_j = stream_outcomes(env)
    return quality, energy_j, base.recording.latency_s[rows], None


def run_episode(
    env: gym.Env, agent: Agent, seed: int, progress: Progress | None = None, trace: bool = True
) -> EpisodeResult:
    """Play one episode: reset the env and the agent with ``seed``, then act/step/update to the end.

    Args:
        env: a MessEnv (plain or wrapped, e.g. from ``gymnasium.make``).
        agent: any object with ``reset(spec, seed)``, ``act(obs)`` and ``update(obs, action,
            reward, info)``; an optional ``diagnostics()`` is recorded per step.
        seed: seeds the env's stream and the agent's generator: same seed, same result.
        progress: called as ``progress(steps_done, total_steps)`` after each step.
        trace: record the agent's ``diagnostics()`` after each step (:attr:`EpisodeResult.trace`);
            ``False`` leaves the trace empty and skips the call, for a caller that keeps only the
            summary and the per-step figures (the runner and the grid: the calls were 5-6 % of the
            main job's episodes' CPU time).

    Raises:
        TypeError: ``env`` is a vector env.
        InvalidActionError: the agent returned a non-int or an out-of-range action.
        MaskedActionError: the agent played a model the scenario's zoo does not offer at that step.
        Both carry ``agent`` (the agent's name) and ``step`` (the request index, from 0).
    """
    if isinstance(env, gym.vector.VectorEnv):
        raise TypeError(
            f"run_episode plays one env (gym.make), not a vector env ({type(env).__name__}): play one env "
            "per seed, or step the vector env yourself with one agent per sub-env"
        )
    obs, _ = env.reset(seed=seed)
    task = env.unwrapped.task
    agent.reset(task, seed)
    n_actions = int(env.action_space.n)
    diagnostics = getattr(agent, "diagnostics", None) if trace else None
    recorder = _Recorder(task.alpha, task.n_requests)
    total = task.n_requests
    done = False
    summary: dict[str, Any] | None = None
    # One BLAS thread for the whole episode: its products are per request and small (see
    # messenv_agents.blas_threads), and the agents' own single-thread blocks then switch nothing.
    with single_threaded_blas():
        while not done:
            try:
                action = check_action(agent, agent.act(obs), n_actions, task.explore_action)
                next_obs, reward, terminated, truncated, info = env.step(action)
            except ACTION_ERRORS as error:
                error.agent, error.step = agent_name(agent), recorder.steps
                raise
            # Read what is measured before the agent holds ``info``: it may rewrite the dict.
            recorder.add(action, info)
            if "episode_summary" in info:
                summary = copy.deepcopy(info["episode_summary"])
            elif truncated:
                # A time limit (``gym.make(..., max_episode_steps=N)``) cut the stream short: the
                # summary is of the requests played, which is what the episode was.
                summary = copy.deepcopy(env.unwrapped.summary())
            agent.update(obs, action, reward, info)
            if diagnostics is not None:
                recorder.add_diagnostics(diagnostics())
            if progress is not None:
                progress(recorder.steps, total)
            obs, done = next_obs, terminated or truncated
    if summary is None:
        raise RuntimeError(
            f"the env ended the episode without info['episode_summary'] (agent {agent_name(agent)!r}, seed {seed})"
        )
    return recorder.result(agent_name(agent), seed, summary)
