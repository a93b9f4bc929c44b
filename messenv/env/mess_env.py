"""MessEnv: route a stream of LLM requests across a model zoo, paying energy, under a quality SLA."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from messenv.env.actions import as_action
from messenv.env.counter_streams import CounterEpisodes, check_counter_scenario, check_sampler, seed_array
from messenv.env.drift import draw_stream
from messenv.env.outcomes import OutcomeTable
from messenv.env.episode_plan import plan_episode
from messenv.env.scenario import Scenario, cost_limits
from messenv.env.scenario_play import EpisodeScenario, start_episode
from messenv.env.stream import StreamOptions, is_number, request_pool, stream_length
from messenv.env.summary import EpisodeTotals, to_builtin
from messenv.env.task import TaskSpec
from messenv.recordings import Recording

STEP_HIGH = np.iinfo(np.int64).max - 1
"""Upper bound of the ``step`` observation: one below int64's largest, because Gymnasium's
``Box.sample`` draws integers below ``high + 1``, which overflows at the largest."""


def resolve_recording(recording: Recording | str | Path | None, features: str | None) -> Recording:
    """The recording an env replays, with prompt features attached.

    Args:
        recording: a :class:`Recording`, a catalogue name, a path to a converted ``.parquet``
            recording, or ``None`` for the bundled synthetic default.
        features: ``None`` keeps the recording's own features, or computes the dependency-free
            hashed n-gram features if it has none; ``"auto"``, ``"minilm"`` or ``"hashed"``
            ask :func:`messenv.recordings.features.ensure_features` for that kind.
    """
    # Imported here: an env handed a featured Recording never needs the catalogue or encoders.
    if not isinstance(recording, Recording):
        from messenv.recordings.catalogue import DEFAULT_RECORDING, load

        recording = load(DEFAULT_RECORDING if recording is None else recording)
    if features is None and recording.features is not None:
        return recording
    from messenv.recordings.features import ensure_features

    return ensure_features(recording, kind=features or "hashed")


def prompt_space(prompts: np.ndarray) -> spaces.Text:
    """A Text space that holds every prompt of a recording.

    Gymnasium's default charset is alphanumeric only and would reject real prompts (spaces,
    punctuation, unicode), so the charset is every character the recording uses.
    """
    charset = frozenset("".join(prompts.tolist())) or frozenset(" ")
    return spaces.Text(max_length=max(1, max(map(len, prompts.tolist()))), min_length=0, charset=charset)


def observation_space_for(
    recording: Recording,
    keys: Sequence[str] = ("prompt", "features", "benchmark", "step"),
    n_actions: int = 0,
    scenario: Scenario | None = None,
) -> spaces.Dict:
    """The observation space of one request of ``recording`` (see :class:`MessEnv`), for ``keys``;
    a scenario with a changing zoo adds the ``action_mask`` key (int8, one entry per action).

    Only the spaces of ``keys`` are built: the prompt's ``Text`` space scans every character of
    the recording, which a vector env observing no prompts should not pay for.
    """
    builders = {
        "prompt": lambda: prompt_space(recording.prompts),
        "features": lambda: spaces.Box(-np.inf, np.inf, (recording.features.shape[1],), np.float32),
        "benchmark": lambda: spaces.Discrete(len(recording.benchmark_names)),
        "step": lambda: spaces.Box(0, STEP_HIGH, (), np.int64),
    }
    built = {key: builders[key]() for key in keys}
    if scenario is not None and scenario.zoo is not None:
        built["action_mask"] = spaces.Box(0, 1, (n_actions,), np.int8)
    return spaces.Dict(built)


DEFAULT_ALPHA = 0.7
"""The SLA when none is given (``gym.make`` and ``python -m messenv.run``): the α of the MESS+ paper's
winogrande experiment (arXiv 2505.19947), and, on the Llama-3 zoo and its synthetic twin, between the
small (.61) and medium (.72) models' mean quality, so that meeting it takes routing."""


def check_alpha(alpha: float) -> float:
    """``alpha`` as a float, or a clear error when it is not a mean quality in [0, 1]."""
    if not is_number(alpha) or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    return float(alpha)


class MessEnv(gym.Env[dict, int]):
    """
    ## Description

    The MESS+ problem (arXiv 2411.00889, NeurIPS 2025 version arXiv 2505.19947) as a Gymnasium
    environment. A stream of requests x_1..x_T arrives; for each, the agent picks one model of a
    zoo ordered by cost, pays that model's energy e_{t,m} (J) and receives its answer quality
    a_{t,m}. The goal is to minimise total energy while the episode's mean quality stays at or
    above the service level α. Requests, energies and qualities are replayed from a
    :class:`~messenv.recordings.Recording` of what every model really did on every request.

    ## Action Space

    `Discrete(M)`: the index of the model to run, cheapest first (`0` is the cheapest model,
    `M - 1` the largest). With `explore_action=True` the space is `Discrete(M + 1)` and action `M`
    queries every model: the energy is the sum over the zoo, the answer is the largest model's,
    and `info["outcomes"]` carries every model's quality, energy and latency, which is how MESS+
    trains its accuracy predictor.

    ## Observation Space

    A `Dict`:

    | Key         | Space                                  | Meaning                                   |
    |-------------|----------------------------------------|-------------------------------------------|
    | `prompt`    | `Text` (charset of the recording)      | the request's prompt text                 |
    | `features`  | `Box(-inf, inf, (D,), float32)`        | prompt features (see `features_kind`)     |
    | `benchmark` | `Discrete(B)`                          | index into `task.benchmark_names`         |
    | `step`      | `Box(0, 2**63-1, (), int64)`           | position t of the request in the stream   |
    | `action_mask` | `Box(0, 1, (A,), int8)`              | only with a changing zoo: 1 = allowed     |

    The observation returned at termination repeats the last request with `step = T`.

    ## Rewards

    `reward = -energy_j` of what ran, so maximising return minimises energy. The SLA is a
    constraint, not part of the reward: `info["cost"] = 1 - quality` follows the
    Safety-Gymnasium convention, with `cost_limit = 1 - alpha` (:attr:`cost_limit`). With a
    latency SLO (see Scenarios) there are two constraints: `info["costs"]` and
    :attr:`cost_limits`, Safety-Gymnasium's multi-constraint convention.

    ## Info

    Every step: `models` (indices run), `answer_model`, `explored`, `feedback` (whether the
    quality is revealed), `quality` and `cost` (`None` when feedback is withheld), `energy_j`,
    `latency_s`, `running_quality` (mean TRUE quality so far, withheld steps included) and
    `sla_gap = alpha - running_quality`: both are for plots and loggers; an agent under sparse
    feedback must not read them (two consecutive running means give a withheld quality away), and
    the leaderboard never hands them to one. After an explore action also `outcomes` =
    `{"quality": [M] or None, "energy_j": [M], "latency_s": [M]}`. At the last step also
    `episode_summary`: the episode summary (total energy, mean quality, SLA met, violation, model shares,
    exploration share and energy, feedback share).

    ## Scenarios

    `scenario` (a :class:`~messenv.env.scenario.Scenario`, a mapping of its fields, or the name of
    a file of `conf/scenario` such as `"zoo_change"`, as the runner's `scenario=<name>`; also a
    `reset` option) departs from the stationary stream; every part is optional:

    - `latency` (:class:`~messenv.env.scenario.LatencySLO`): a second constraint, mean latency
      per request ≤ `mean_s`, or share of requests slower than `deadline_s` ≤ `max_late_share`.
      Every step adds `costs = np.array([1 - quality, latency cost])` (the first NaN while the
      quality is not revealed; the second the latency in s, or 1.0 for a late request);
      `cost_limits = [1 - alpha, limit]`. The summary adds `mean_costs`, `cost_limits`,
      `latency_violation` and `constraints_met` (both met).
    - `delay` (:class:`~messenv.env.scenario.DelayedFeedback`): quality revealed `d` steps late
      (`d` fixed, or geometric with that mean). A step's own `quality`, `cost` and
      `outcomes["quality"]` are then `None` and `feedback` is False; `delayed_feedback` lists the
      qualities arriving on this step: `[{"step": s, "action": a, "quality": q, "cost": 1 - q,
      "outcomes": {"quality": [M]} or None}]`, `s` the `step` observation of the request they
      belong to (`outcomes` is set when `s` explored). A delay running past the stream's end
      arrives with the last step; a quality withheld by `feedback_rate` never arrives.
    - `drift` (:class:`~messenv.env.drift.Drift`): the benchmark mix follows a schedule, phases
      (`[{"benchmarks": ["arc_easy"], "n_requests": 1000}, {"benchmarks": ["boolq"], ...}]`) or a
      smooth drift from `start` to `end` benchmarks over `n_requests`. The drift sets T and the
      benchmarks: the `n_requests` and `benchmarks` options must stay unset.
    - `window`: a windowed SLA on top of the whole-stream one, each window of W requests must
      reach α. The summary adds `window_quality` (each window's mean), `worst_window_quality`,
      `windows_met_share`, `window_violation` and `constraints_met`.
    - `zoo` (:class:`~messenv.env.zoo_change.ZooChange`): models join at a step, leave at a
      step, or from a step silently return another recorded model's outcomes. Agents see only
      Gymnasium's action mask: `info["action_mask"]` (for the next step; also in `reset`'s
      info) and the `action_mask` observation key (read-only). A masked action is refused with a
      `ValueError`. The explore action queries the available models only (`outcomes` NaN for
      the others). Set at construction (it adds an observation key); not combined with `delay`.

    The agent's :class:`~messenv.env.task.TaskSpec` carries the contract's terms, `latency_slo`
    and `sla_window`, and `feedback_delayed`: nothing else of the scenario (no schedule). The
    summary's `scenario` names it.

    ## Starting State

    `reset(seed=...)` draws the stream with `self.np_random`: a shuffled order of the selected
    requests (or a draw with replacement), and the feedback mask, then what the scenario draws
    (geometric delays). Same seed, same stream, with or without a scenario.

    ## Episode End

    Termination: the stream's T requests have all been answered. There is no truncation.

    ## Arguments

    ```python
    import gymnasium as gym
    import messenv
    env = gym.make("messenv/MessEnv-v0", recording="synthetic-llama3", alpha=0.7, explore_action=True)
    obs, info = env.reset(seed=0, options={"benchmarks": ["arc_easy"], "n_requests": 500})
    ```

    - `recording`: a `Recording`, a catalogue name, a `.parquet` path, or `None` (the bundled
      synthetic default).
    - `alpha`: the SLA, mean quality in [0, 1] to reach (default :data:`DEFAULT_ALPHA`, 0.7).
    - `explore_action`: add action `M`, "query every model".
    - `n_requests`, `benchmarks`, `replace`, `feedback_rate`: the stream (see
      :class:`~messenv.env.stream.StreamOptions`); each can be overridden per episode through
      `reset(options={...})`.
    - `features`: which prompt features to observe (see :func:`resolve_recording`).
    - `render_mode`: `"ansi"` returns a one-line status.
    - `scenario`: see Scenarios; `None` is the stationary stream.
    - `sampler`: `"pcg64"` (default) draws the stream with `self.np_random`, as above;
      `"counter"` computes it from the seed with :mod:`messenv.env.counter_streams` (other
      streams for the same seed, the ones :class:`~messenv.env.vector.MessVectorEnv` plays with
      `sampler="counter"`, whose sub-envs then cost no generator and no stored stream; no drift
      or delayed feedback, seeds below 2**64).
    """

    # render_fps: a frame rate is what Gymnasium's checker and its render wrappers expect of every env;
    # one line of text per request has none of its own, and 4 is what FrozenLake-v1 declares for its ansi.
    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        recording: Recording | str | Path | None = None,
        alpha: float = DEFAULT_ALPHA,
        explore_action: bool = False,
        n_requests: int | None = None,
        benchmarks: str | Sequence[str] | None = None,
        replace: bool = False,
        feedback_rate: float = 1.0,
        features: str | None = None,
        render_mode: str | None = None,
        scenario: Scenario | dict | str | None = None,
        sampler: str = "pcg64",
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.recording = resolve_recording(recording, features)
        self.alpha = check_alpha(alpha)
        self.render_mode = render_mode
        self.models = self.recording.models
        self.n_models = len(self.models)
        self.explore_index = self.n_models if explore_action else None
        self.outcomes = OutcomeTable.from_recording(self.recording, explore_action)
        self.stream_options = StreamOptions(n_requests, benchmarks, replace, feedback_rate)
        self.scenario = Scenario.parse(scenario)
        self.sampler = check_sampler(sampler)
        check_counter_scenario(self.sampler, self.scenario)
        self._episodes = CounterEpisodes(1)  # sampler "counter": the seed and the episode count
        self._scenario_play: EpisodeScenario | None = None
        self.action_space = spaces.Discrete(self.outcomes.n_actions)
        self.observation_space = observation_space_for(
            self.recording, n_actions=self.outcomes.n_actions, scenario=self.scenario
        )
        self._prompts = self.recording.prompts.tolist()  # references to the recording's strings
        self._features = self.recording.features
        # Memoryviews of the numpy arrays: indexing one returns a plain Python scalar about as fast
        # as a list does, several times faster than numpy scalar indexing (which keeps a step as
        # cheap as CartPole's, see benchmarks/test_env_speed.py), while the data stays in one
        # numpy buffer: no Python object per request or per step (a 10⁷-request stream is 90 MB).
        self._benchmarks = memoryview(self.recording.benchmark_index)
        self._quality = memoryview(self.outcomes.quality)
        self._energy = memoryview(self.outcomes.energy_j)
        self._latency = memoryview(self.outcomes.latency_s)
        self._n_actions = self.outcomes.n_actions
        self._rows = memoryview(np.zeros(0, dtype=np.int64))
        self._feedback = memoryview(np.zeros(0, dtype=bool))
        self._t = 0
        self._totals = EpisodeTotals(self.outcomes.n_actions)
        pool = request_pool(self.recording, self.stream_options.benchmarks)
        self.scenario.check_stream(self.recording, self.stream_options)
        length = self.scenario.drift.length if self.scenario.drift else stream_length(len(pool), self.stream_options)
        self.task = self._task_spec(length)

    @property
    def cost_limit(self) -> float:
        """Safety-Gymnasium style limit on the mean of ``info["cost"]``: ``1 - alpha``."""
        return 1.0 - self.alpha

    @property
    def cost_limits(self) -> np.ndarray:
        """Limits on the means of ``info["costs"]`` (Safety-Gymnasium multi-constraint style):
        ``[1 - alpha]``, and the latency SLO's limit in a latency scenario."""
        return cost_limits(self.alpha, self.scenario)

    @property
    def stream_rows(self) -> np.ndarray:
        """Recording rows of the current episode's requests, in stream order (read-only).

        For hindsight scoring on the harness side (the oracle needs every model's outcome on the
        same stream); agents never hold the env, so this does not leak the future to them.
        """
        rows = np.asarray(self._rows).view()
        rows.setflags(write=False)
        return rows

    @property
    def requests_played(self) -> int:
        """How many requests of the current episode have been answered (T once it has ended)."""
        return self._t

    def _task_spec(self, n_requests: int) -> TaskSpec:
        return TaskSpec.for_recording(
            self.recording, self.alpha, n_requests, self.explore_index, self.stream_options.feedback_rate, self.scenario
        )

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        """Draw a new stream of requests; ``options`` may override the stream options for good.

        Options are validated before anything changes, the random generator included, so a bad
        option leaves the env as it was.
        """
        plan = plan_episode(
            self.recording, self.stream_options, self.scenario, options, self.explore_index is not None, self.sampler
        )
        stream_options, zoo = plan.options, plan.zoo
        if self.sampler == "counter" and seed is not None:
            seed_array([seed])  # refused here, before gymnasium reseeds: a refused reset changes nothing
        super().reset(seed=seed)
        if self.sampler == "counter":
            counter = self._episodes.sampler(
                None if seed is None else [seed], plan.pool, stream_options.replace, stream_options.feedback_rate
            )
            steps = np.arange(plan.length)
            rows, feedback = counter.rows(steps), counter.feedback(steps)
        else:
            rows, feedback = draw_stream(plan.scenario.drift, self.np_random, self.recording, plan.pool, stream_options)
        self.stream_options, self.scenario = stream_options, plan.scenario
        # int32 rows where they fit (every recording so far): 4 bytes a request of a long stream.
        compact = rows.astype(np.int32) if self.recording.n_requests < 2**31 else rows
        self._rows, self._feedback = memoryview(compact), memoryview(feedback)
        self._scenario_play = start_episode(self.scenario, self.np_random, self._feedback, zoo)
        self._t = 0
        self._totals = EpisodeTotals(self.outcomes.n_actions)
        self.task = self._task_spec(len(rows))
        zoo_info = {} if zoo is None else {"action_mask": zoo.mask(0)}
        return self._observe(0), zoo_info

    def _observe(self, t: int) -> dict[str, Any]:
        row = self._rows[min(t, len(self._rows) - 1)]
        obs = {
            "prompt": self._prompts[row],
            "features": self._features[row].copy(),
            "benchmark": self._benchmarks[row],
            "step": np.array(t, dtype=np.int64),
        }
        play = self._scenario_play
        if play is not None and play.zoo is not None:
            obs["action_mask"] = play.zoo.mask(t)
        return obs

    def _check_action(self, action: Any) -> int:
        if type(action) is int and 0 <= action < self._n_actions:  # the usual case: no isinstance chain
            return action
        checked = as_action(action, self._n_actions)
        if checked is not None:
            return checked
        explore = f", {self.explore_index} = query every model" if self.explore_index is not None else ""
        raise ValueError(
            f"invalid action {action!r}: MessEnv takes an int in [0, {self._n_actions - 1}] "
            f"(models cheapest first: {list(self.models)}{explore})"
        )

    def step(self, action: int) -> tuple[dict, float, bool, bool, dict]:
        """Run the chosen model (or every model) on the current request."""
        t = self._t
        if t >= len(self._rows):
            raise RuntimeError("MessEnv.step called after the episode ended (or before reset): call reset()")
        action = self._check_action(action)
        row = self._rows[t]
        explored = action == self.explore_index
        play = self._scenario_play
        if play is not None and play.zoo is not None:
            quality, energy, latency, per_model = play.zoo.outcome(t, row, action, explored)
        else:
            quality, energy, latency, per_model = self._outcome(row, action, explored)
        feedback = self._feedback[t]
        self._totals.add(action, quality, energy, latency, feedback, explored)
        running = self._totals.running_quality()
        withheld = not feedback
        info: dict[str, Any] = {
            "models": tuple(range(self.n_models)) if explored else (action,),
            "answer_model": self.n_models - 1 if explored else action,
            "explored": explored,
            "feedback": feedback,
            "quality": None if withheld else quality,
            "cost": None if withheld else 1.0 - quality,
            "energy_j": energy,
            "latency_s": latency,
            "running_quality": running,
            "sla_gap": self.alpha - running,
        }
        if explored:
            model_quality, model_energy, model_latency = per_model
            info["outcomes"] = {
                "quality": None if withheld else model_quality,
                "energy_j": model_energy,
                "latency_s": model_latency,
            }
        if play is not None:
            play.step(t, action, quality, latency, info)
        self._t = t + 1
        terminated = self._t == len(self._rows)
        if terminated:
            info["episode_summary"] = self.summary()
        return self._observe(self._t), -energy, terminated, False, info

    def _outcome(
        self, row: int, action: int, explored: bool
    ) -> tuple[float, float, float, tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
        """Quality, energy and latency of ``action`` on request ``row``, and per-model outcomes.

        The one place where a step's outcome comes from: here the recording; a live env
        (:class:`messenv.live.env.LiveMessEnv`) overrides it to run the models for real. The
        per-model triple ``(quality[M], energy_j[M], latency_s[M])`` is returned when ``explored``.
        """
        per_model = None
        if explored:
            recording = self.recording
            per_model = (recording.quality[row].copy(), recording.energy_j[row].copy(), recording.latency_s[row].copy())
        return self._quality[row, action], self._energy[row, action], self._latency[row, action], per_model

    def summary(self) -> dict[str, Any]:
        """The summary of the episode so far (the one ``info["episode_summary"]`` holds at its end)."""
        summary = self._totals.summary(self.alpha, self.models)
        if self._scenario_play is not None:
            summary.update(self._scenario_play.summary(summary["mean_quality"], self.alpha, self._totals.steps))
        return to_builtin(summary)

    def render(self) -> str | None:
        """``"ansi"``: one line with progress, energy, running quality and the SLA gap."""
        if self.render_mode != "ansi":
            return None
        totals = self._totals
        quality = f"{totals.running_quality():.3f}" if totals.steps else "n/a"  # no request answered yet
        return (
            f"request {self._t}/{len(self._rows)}  energy {totals.energy_j:.1f} J  "
            f"quality {quality}  alpha {self.alpha:.3f}"
        )

    def __getstate__(self) -> dict[str, Any]:
        """The env's attributes for pickle and ``copy.deepcopy``, its memoryviews (which neither can
        copy) as the numpy arrays they view; :meth:`__setstate__` views them again."""
        views = [key for key, value in vars(self).items() if isinstance(value, memoryview)]
        state = {key: np.asarray(value) if key in views else value for key, value in vars(self).items()}
        state["_memoryviews"] = views
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`__getstate__` gave, each memoryview over its array again."""
        state = dict(state)
        views = state.pop("_memoryviews")
        vars(self).update(state)
        for key in views:
            setattr(self, key, memoryview(state[key]))
