"""MessVectorEnv: many independent request streams of one recording, stepped as one array operation.

Sweeps (many seeds, many agent configurations) are the main use of messenv, so the vector env is
native numpy like Gymnasium's CartPole vector env rather than a loop over single envs.
"""

from __future__ import annotations

import numbers
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from messenv.env.counter_streams import CounterEpisodes, CounterSampler, check_counter_scenario, check_sampler
from messenv.env.drift import draw_streams
from messenv.env.mess_env import DEFAULT_ALPHA, check_alpha, observation_space_for, resolve_recording
from messenv.env.outcomes import OutcomeTable
from messenv.env.episode_plan import plan_episode
from messenv.env.scenario import Scenario, cost_limits
from messenv.env.scenario_play import VectorEpisodeScenario
from messenv.env.seeding import seeded_generators
from messenv.env.stream import StreamOptions
from messenv.env.summary import EpisodeTotals
from messenv.env.task import TaskSpec
from messenv.recordings import Recording

OBSERVATION_KEYS = ("prompt", "features", "benchmark", "step")
SHARED_SUMMARY = ("n_requests", "alpha", "models", "scenario", "cost_limits")
"""Episode-summary fields that are the same for every sub-env: repeated per sub-env in ``info``."""
_DRAW_BLOCK = 1024  # sub-envs whose streams are drawn, then transposed into place, together


class MessVectorEnv(VectorEnv):
    """``num_envs`` independent MessEnv streams over one recording, stepped together.

    Sub-env ``i`` reset with seed ``s`` replays exactly the stream (requests, order, feedback mask)
    that :class:`~messenv.env.mess_env.MessEnv` reset with seed ``s + i`` replays, and its rewards,
    qualities and episode summary are the same for the same actions. Every stream has the same
    length, so all sub-envs end on the same step; the next ``step`` then resets them all
    (Gymnasium's next-step autoreset) and ignores its actions.

    Observations are the single env's, batched: ``features`` ``[n, D]``, ``benchmark`` ``[n]``,
    ``step`` ``[n]`` and ``prompt`` a tuple of ``n`` strings. ``observation_keys`` drops keys an agent
    does not read; a sweep of non-contextual agents runs several times faster without prompts and
    features (see ``benchmarks/test_env_speed.py``).

    Info holds arrays over sub-envs: ``quality`` and ``cost`` = 1 - quality (NaN where withheld,
    with the masks ``_quality`` and ``_cost``), ``feedback``, ``explored``, ``energy_j``,
    ``latency_s``, ``running_quality``, ``sla_gap``; with the explore action also ``outcomes`` =
    ``{"quality", "energy_j", "latency_s"}`` of shape ``[n, M]`` (NaN rows where the sub-env did
    not explore, with the mask ``_outcomes``); at the last step
    ``episode_summary``, the summaries as arrays over sub-envs, the fields every sub-env shares
    (``n_requests``, ``alpha``, ``models``...) repeated (mask ``_episode_summary``), so that
    Gymnasium's ``DictInfoToList`` splits them.

    Scenarios (``scenario``, see MessEnv's Scenarios section) batch the same way: ``costs``
    ``[n, 2]`` under a latency SLO (:attr:`cost_limits`); under delayed feedback the step's own
    quality is NaN everywhere and ``delayed_feedback`` holds the arriving qualities of all
    sub-envs as flat arrays of length K: ``env``, ``step``, ``action``, ``quality`` and, with the
    explore action, ``outcomes_quality`` ``[K, M]`` (NaN rows for requests that did not explore),
    ordered by request, then sub-env (so each sub-env's entries come in its single env's order). A changing
    zoo adds the ``action_mask`` observation key and info field, ``[n, A]`` int8 (the same zoo in
    every sub-env), whatever ``observation_keys`` says: an agent cannot act legally without it.

    Args:
        num_envs: number of parallel streams.
        recording, alpha, explore_action, n_requests, benchmarks, replace, feedback_rate, features:
            as for :class:`~messenv.env.mess_env.MessEnv`.
        observation_keys: which observation keys to return.
        scenario: a :class:`~messenv.env.scenario.Scenario`, a mapping of its fields, or the name of
            a file of ``conf/scenario`` (``"zoo_change"``); ``None`` is the stationary stream.
        sampler: ``"pcg64"`` (default) draws each stream from its own numpy generator and stores it;
            ``"counter"`` computes each step's requests from the seeds when they are played
            (:mod:`messenv.env.counter_streams`: no per-sub-env generator or stored stream, a
            ``reset`` about as cheap as a step; other streams than pcg64's for the same seed, the
            same in a single env built with ``sampler="counter"``; no drift or delayed feedback,
            seeds below 2**64, so ``s + num_envs - 1`` too).
        max_episode_steps: truncate every sub-env's episode after this many requests (as
            ``gym.make(..., max_episode_steps=k)`` wraps a single env in ``TimeLimit``; passed by
            ``gym.make_vec``): ``truncated`` is True on that step, the summary covers the requests
            played, and the next step resets.
        render_mode: ``None``; the vector env renders nothing (a mode is a one-line ValueError that
            names sync mode, whose sub-envs render ``"ansi"``, instead of a TypeError).
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(
        self,
        num_envs: int = 1,
        recording: Recording | str | Path | None = None,
        alpha: float = DEFAULT_ALPHA,
        explore_action: bool = False,
        n_requests: int | None = None,
        benchmarks: Sequence[str] | None = None,
        replace: bool = False,
        feedback_rate: float = 1.0,
        features: str | None = None,
        observation_keys: Sequence[str] = OBSERVATION_KEYS,
        scenario: Scenario | dict | str | None = None,
        sampler: str = "pcg64",
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
    ) -> None:
        if render_mode is not None:  # gym.make_vec(..., render_mode=...) passes it here
            raise ValueError(
                f"render_mode={render_mode!r}: MessVectorEnv renders nothing; gym.make_vec(..., "
                "vectorization_mode='sync', render_mode='ansi') renders each sub-env"
            )
        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}")
        limit = max_episode_steps
        if limit is not None and (not isinstance(limit, numbers.Integral) or isinstance(limit, bool) or limit < 1):
            raise ValueError(f"max_episode_steps must be a positive int or None, got {max_episode_steps!r}")
        self.max_episode_steps = None if limit is None else int(limit)
        unknown = sorted(set(observation_keys) - set(OBSERVATION_KEYS))
        if unknown:
            raise ValueError(f"unknown observation key(s) {unknown}; known: {list(OBSERVATION_KEYS)}")
        self.num_envs = num_envs
        self.recording = resolve_recording(recording, features)
        self.alpha = check_alpha(alpha)
        self.models = self.recording.models
        self.n_models = len(self.models)
        self.explore_index = self.n_models if explore_action else None
        self.observation_keys = tuple(k for k in OBSERVATION_KEYS if k in observation_keys)
        self.stream_options = StreamOptions(n_requests, benchmarks, replace, feedback_rate)
        self.scenario = Scenario.parse(scenario)
        self.scenario.check_stream(self.recording, self.stream_options)
        self.sampler = check_sampler(sampler)
        check_counter_scenario(self.sampler, self.scenario)
        self._scenario_play: VectorEpisodeScenario | None = None
        outcomes = OutcomeTable.from_recording(self.recording, explore_action)
        self._n_actions = outcomes.n_actions
        # Flattened [N * A] tables: one gather per quantity and step, indexed row * A + action.
        self._quality = outcomes.quality.ravel()
        self._energy = outcomes.energy_j.ravel()
        self._latency = outcomes.latency_s.ravel()
        self._prompts = self.recording.prompts
        self._benchmarks = self.recording.benchmark_index.astype(np.int64)
        # A changing zoo's action_mask is always observed: without it an agent could not act legally.
        self.single_observation_space = observation_space_for(
            self.recording, self.observation_keys, self._n_actions, self.scenario
        )
        self.single_action_space = spaces.Discrete(self._n_actions)
        self._observation_space: spaces.Dict | None = None  # built on first use, see observation_space
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._rngs: list[np.random.Generator] = []  # one per sub-env, made at the first reset
        # Streams are stored, or computed for stream_rows, in the smallest unsigned type of the recording's rows.
        self._row_dtype = np.min_scalar_type(self.recording.n_requests - 1)
        self._rows = np.zeros((0, num_envs), dtype=self._row_dtype)
        self._feedback: np.ndarray = np.zeros((0, num_envs), dtype=bool)
        self._counter: CounterSampler | None = None  # sampler "counter": this episode's streams, ...
        self._episodes = CounterEpisodes(num_envs)  # ... keyed by the seeds and the episode count
        self._length = 0
        self._current: tuple[int, np.ndarray] = (-1, np.zeros(0, dtype=np.intp))  # (t, rows of step t)
        self._t = 0
        self._autoreset = False
        self._totals = EpisodeTotals(self._n_actions, num_envs)
        self.task: TaskSpec | None = None

    @property
    def cost_limits(self) -> np.ndarray:
        """Limits on the means of ``info["costs"]`` (see :attr:`MessEnv.cost_limits`)."""
        return cost_limits(self.alpha, self.scenario)

    @property
    def observation_space(self) -> spaces.Dict:
        """The batched observation space, built when first asked for (no step needs it).

        ``prompt`` is a ``Tuple`` holding the single env's ``Text`` space ``num_envs`` times, one
        shared instance: Gymnasium's ``batch_space`` deep-copies it per sub-env, which took 22 s
        at 65,536 sub-envs for a recording's charset.
        """
        if self._observation_space is None:
            batched = {
                key: spaces.Tuple((space,) * self.num_envs) if key == "prompt" else batch_space(space, self.num_envs)
                for key, space in self.single_observation_space.items()
            }
            self._observation_space = spaces.Dict(batched)
        return self._observation_space

    @observation_space.setter
    def observation_space(self, space: spaces.Dict) -> None:
        self._observation_space = space

    @property
    def stream_rows(self) -> np.ndarray:
        """Recording rows of the current streams, shape ``[T, num_envs]`` (read-only; see MessEnv), in
        the smallest unsigned integer type that holds the recording's rows (``uint16`` below 65,536
        requests): widen them before arithmetic that could overflow that type. Under the counter
        sampler they are computed on this call: T × num_envs numbers that the env itself never holds."""
        if self._counter is not None:
            rows = self._counter.rows(np.arange(self._length)[:, None]).astype(self._row_dtype)
            rows.setflags(write=False)
            return rows
        rows = self._rows.view()
        rows.setflags(write=False)
        return rows

    def reset(self, *, seed: int | Sequence[int] | None = None, options: dict | None = None) -> tuple[dict, dict]:
        """Draw a new stream per sub-env: seed ``s`` gives sub-env ``i`` the seed ``s + i``.

        Seeds and options are validated before anything changes, so a bad one leaves the env as it was.
        """
        plan = plan_episode(
            self.recording, self.stream_options, self.scenario, options, self.explore_index is not None, self.sampler
        )
        stream_options, scenario, pool, length, zoo = plan.options, plan.scenario, plan.pool, plan.length, plan.zoo
        seeds = None
        if isinstance(seed, (bool, np.bool_)):
            raise ValueError(f"seed must be an int or a sequence of {self.num_envs} ints, got {seed!r}")
        if seed is not None:
            one = isinstance(seed, numbers.Integral)
            seeds = range(int(seed), int(seed) + self.num_envs) if one else list(seed)
            if one and self.sampler == "counter" and seeds[-1] >= 2**64:
                raise ValueError(f"seed {seed} gives sub-env {self.num_envs - 1} the seed {seeds[-1]}, beyond the "
                                 "counter sampler's largest, 2**64 - 1")
            if len(seeds) != self.num_envs:
                raise ValueError(f"got {len(seeds)} seeds for {self.num_envs} sub-envs")
        if self.sampler == "counter":
            self._counter = self._episodes.sampler(seeds, pool, stream_options.replace, stream_options.feedback_rate)
            self._length = length
        else:
            self._draw_streams(seeds, scenario, pool, stream_options, length)
        self.stream_options, self.scenario = stream_options, scenario
        self._current = (-1, self._current[1])
        self._scenario_play = (
            None
            if scenario.stationary
            else VectorEpisodeScenario(
                scenario,
                (self._length, self.num_envs),
                self.recording.quality,
                self._rows_at,
                self.explore_index,
                zoo,
                None if scenario.delay is None else (self._rngs, self._feedback, self._rows),
            )
        )
        self._t = 0
        self._autoreset = False
        self._totals = EpisodeTotals(self._n_actions, self.num_envs)
        self.task = TaskSpec.for_recording(
            self.recording, self.alpha, self._length, self.explore_index, stream_options.feedback_rate, scenario
        )
        return self._observe(0), {} if zoo is None else {"action_mask": self._scenario_play.mask(0, self.num_envs)}

    def _draw_streams(
        self, seeds: Sequence[int] | None, scenario: Scenario, pool: np.ndarray, options: StreamOptions, length: int
    ) -> None:
        """Draw and store every sub-env's stream with its own PCG64 generator (sampler "pcg64")."""
        if seeds is not None:
            # What gymnasium.utils.seeding.np_random(s) builds, the seeds hashed together (seeding.py).
            self._rngs = seeded_generators(seeds)
        elif not self._rngs:
            fresh = np.random.SeedSequence().spawn(self.num_envs)
            self._rngs = [np.random.Generator(np.random.PCG64(s)) for s in fresh]
        # One generator per sub-env, so that sub-env i replays the single env seeded s + i (its
        # draws are PCG64 streams from per-seed SeedSequences, which numpy cannot draw batched).
        # Stored [T, n] so that step t reads one contiguous row, in the smallest unsigned type that
        # holds every row of the recording (the streams are T × num_envs numbers: 79 MB as uint16
        # at 65,536 × 601, 157 MB as int32). Drawn a block of sub-envs at a time and transposed
        # into place, so the scratch space stays one block. With every quality revealed
        # (feedback_rate 1) the feedback mask is one read-only True broadcast, not a [T, n] matrix.
        length = length if scenario.drift is None else scenario.drift.length  # a drift sets its own length
        shape = (length, self.num_envs)
        self._rows = np.empty(shape, dtype=self._row_dtype)
        every = options.feedback_rate >= 1.0
        self._feedback = np.broadcast_to(np.True_, shape) if every else np.empty(shape, dtype=bool)
        for start in range(0, self.num_envs, _DRAW_BLOCK):
            block = self._rngs[start : start + _DRAW_BLOCK]
            rows, feedback = draw_streams(scenario.drift, block, self.recording, pool, options)
            self._rows[:, start : start + len(block)] = rows.T
            if not every:
                self._feedback[:, start : start + len(block)] = feedback.T
        self._length = length

    def _rows_at(self, t: int) -> np.ndarray:
        """The recording rows of step ``t`` (the last one's past the end), as numpy's index type:
        one cast for every gather of the step (each would cast a uint16 index itself)."""
        t = min(t, self._length - 1)
        if self._current[0] != t:
            rows = self._rows[t] if self._counter is None else self._counter.rows(t)
            self._current = (t, rows.astype(np.intp, copy=False))
        return self._current[1]

    def _observe(self, t: int) -> dict[str, Any]:
        rows = self._rows_at(t)
        obs: dict[str, Any] = {}
        keys = self.observation_keys
        if "prompt" in keys:
            obs["prompt"] = tuple(self._prompts[rows].tolist())
        if "features" in keys:
            obs["features"] = self.recording.features[rows]
        if "benchmark" in keys:
            obs["benchmark"] = self._benchmarks[rows]
        if "step" in keys:
            obs["step"] = np.full(self.num_envs, t, dtype=np.int64)
        play = self._scenario_play
        if play is not None and play.zoo is not None:
            obs["action_mask"] = play.mask(t, self.num_envs)
        return obs

    def _check_actions(self, actions: Any) -> np.ndarray:
        actions = np.asarray(actions)
        if (
            actions.shape != (self.num_envs,)
            or actions.dtype.kind not in "iu"
            or actions.min() < 0
            or actions.max() >= self._n_actions
        ):
            raise ValueError(
                f"invalid actions {actions!r}: MessVectorEnv takes {self.num_envs} ints in [0, {self._n_actions - 1}] "
                f"(models cheapest first: {list(self.models)}"
                + (f", {self.explore_index} = query every model)" if self.explore_index is not None else ")")
            )
        return actions.astype(np.int64, copy=False)  # one index type: uint64 plus int64 would give floats

    def step(self, actions: Any) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray, dict]:
        """Run each sub-env's chosen model on its current request."""
        if self._autoreset:
            obs, info = self.reset()
            zeros = np.zeros(self.num_envs, dtype=bool)
            return obs, np.zeros(self.num_envs), zeros, zeros.copy(), info
        t = self._t
        if t >= self._length:
            raise RuntimeError("MessVectorEnv.step called before reset(): call reset()")
        actions = self._check_actions(actions)
        rows = self._rows_at(t)
        flat = rows * self._n_actions
        flat += actions
        play = self._scenario_play
        if play is None or play.zoo is None:
            quality, energy, latency = self._quality[flat], self._energy[flat], self._latency[flat]
        else:  # a changing zoo: the tables of step t's zoo
            quality, energy, latency = (table[flat] for table in play.tables(t, actions))
        # The caller's own array: info must not alias the env's streams.
        feedback = self._feedback[t].copy() if self._counter is None else self._counter.feedback(t)
        explored = actions == self.explore_index if self.explore_index is not None else np.zeros(self.num_envs, bool)
        self._totals.add(actions, quality, energy, latency, feedback, explored)
        running = self._totals.running_quality()
        info: dict[str, Any] = {
            "quality": np.where(feedback, quality, np.nan),
            "_quality": feedback,
            "feedback": feedback,
            "explored": explored,
            "energy_j": energy,
            "latency_s": latency,
            "running_quality": running,
            "sla_gap": self.alpha - running,
        }
        if self.explore_index is not None and explored.any():
            info["outcomes"] = self._outcomes(rows, explored, feedback)
            info["_outcomes"] = explored
        if self._scenario_play is not None:
            self._scenario_play.step(t, actions, quality, latency, info)
        # Safety-Gymnasium's per-step cost, as MessEnv and Gymnasium's Sync/AsyncVectorEnv give it:
        # NaN wherever the quality is withheld (the scenario may have withheld it just now).
        info["cost"], info["_cost"] = 1.0 - info["quality"], info["_quality"]
        self._t = t + 1
        terminated = np.full(self.num_envs, self._t == self._length)
        truncated = np.full(self.num_envs, self._t == self.max_episode_steps and self._t < self._length)
        if self._t == self._length or truncated[0]:
            self._autoreset = True
            summary = self._totals.summary(self.alpha, self.models)
            if self._scenario_play is not None:
                summary.update(self._scenario_play.summary(summary["mean_quality"], self.alpha, self._totals.steps))
            # Every field per sub-env (the shared ones repeated, read-only), as Gymnasium's vector
            # info convention and its DictInfoToList wrapper expect.
            n = self.num_envs
            info["episode_summary"] = {
                key: np.broadcast_to(np.asarray(value), (n, *np.shape(value))) if key in SHARED_SUMMARY else value
                for key, value in summary.items()
            }
            info["_episode_summary"] = terminated | truncated
        return self._observe(self._t), -energy, terminated, truncated, info

    def _outcomes(self, rows: np.ndarray, explored: np.ndarray, feedback: np.ndarray) -> dict[str, np.ndarray]:
        recording = self.recording
        quality = recording.quality[rows]
        quality[~(explored & feedback)] = np.nan
        energy = recording.energy_j[rows]
        latency = recording.latency_s[rows]
        energy[~explored] = np.nan
        latency[~explored] = np.nan
        return {"quality": quality, "energy_j": energy, "latency_s": latency}
