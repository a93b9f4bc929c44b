"""Non-stationary and multi-constraint scenarios of a MessEnv stream: a typed spec and its per-episode state.

A :class:`Scenario` is an option of :class:`~messenv.env.mess_env.MessEnv` and
:class:`~messenv.env.vector.MessVectorEnv` (``scenario=...`` at construction or in
``reset(options={"scenario": ...})``; a name such as ``"zoo_change"`` loads
``conf/scenario/zoo_change.yaml``). Each part is optional and ``Scenario()`` is the stationary
stream every earlier version of messenv played:

- ``latency``, a :class:`LatencySLO`: a second constraint on the recorded per-request latency,
  either the mean latency per request ≤ ``mean_s`` or the share of requests slower than
  ``deadline_s`` ≤ ``max_late_share``. Its per-step cost is the latency (s), or 1 for a late
  request and 0 otherwise; ``info["costs"] = [1 − quality, latency cost]`` with
  ``env.cost_limits = [1 − α, limit]``, the Safety-Gymnasium multi-constraint convention
  (Ji et al., "Safety-Gymnasium", NeurIPS 2023 Datasets & Benchmarks).
- ``delay``, a :class:`DelayedFeedback`: a request's quality (and, on an explored request, every
  model's) is revealed ``d`` steps later, ``d`` fixed or geometric, in
  ``info["delayed_feedback"]``, never in the step's own ``info["quality"]``.
- ``drift``, a :class:`~messenv.env.drift.Drift`: the benchmark mix changes along the stream
  (phases, or a smooth drift between two mixes).
- ``zoo``, a :class:`~messenv.env.zoo_change.ZooChange`: models join or leave (masked with
  Gymnasium's ``action_mask`` convention), or a slot silently returns another model's outcomes.
- ``window``: a windowed SLA, the mean quality of each window of ``window`` requests ≥ α, on top
  of the whole-stream SLA.

Why a separate module: the envs call into it through a few hooks only (reset, step, summary), so
the stationary step stays as fast as before and a scenario costs only what it uses (see
``benchmarks/test_env_speed.py``).

Randomness: everything a scenario draws (geometric delays) is drawn from the env's generator
AFTER the stream, so a seed replays the same requests with or without a scenario, and sub-env
``i`` of a vector env draws exactly what a single env with seed ``s + i`` draws.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from messenv.env.drift import Drift
from messenv.env.stream import StreamOptions, is_number
from messenv.env.zoo_change import ZooChange, ZooPlay
from messenv.recordings import Recording

DELAY_DISTRIBUTIONS = ("fixed", "geometric")
MAX_WINDOW_MARKS = 40


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _positive(value: Any, field: str) -> float:
    _require(
        is_number(value) and math.isfinite(value) and value > 0, f"scenario.{field} must be a number > 0, got {value!r}"
    )
    return float(value)


@dataclass(frozen=True)
class LatencySLO:
    """A latency service level, the second constraint of the episode.

    Exactly one form:

    - ``mean_s``: mean latency per request (s) must stay ≤ ``mean_s``;
    - ``deadline_s`` and ``max_late_share``: the share of requests whose latency exceeds
      ``deadline_s`` must stay ≤ ``max_late_share`` (β).

    The latency of a request is the recorded latency of the model that ran it (the sum over the
    zoo for the explore action, which queries the models one after the other).
    """

    mean_s: float | None = None
    deadline_s: float | None = None
    max_late_share: float | None = None

    def __post_init__(self) -> None:
        mean_form = self.mean_s is not None
        deadline_form = self.deadline_s is not None or self.max_late_share is not None
        _require(
            mean_form != deadline_form,
            "scenario.latency: give either mean_s, or deadline_s with max_late_share "
            f"(got mean_s={self.mean_s}, deadline_s={self.deadline_s}, max_late_share={self.max_late_share})",
        )
        if mean_form:
            _positive(self.mean_s, "latency.mean_s")
        else:
            _positive(self.deadline_s, "latency.deadline_s")
            share = self.max_late_share
            _require(
                is_number(share) and 0.0 <= share <= 1.0,
                f"scenario.latency.max_late_share must be in [0, 1], got {share!r}",
            )

    @property
    def limit(self) -> float:
        """The bound on the mean latency cost: ``mean_s`` (s) or β (a share)."""
        return float(self.mean_s if self.mean_s is not None else self.max_late_share)

    @property
    def cost_name(self) -> str:
        """What the latency cost measures: ``"latency_s"`` or ``"late"``."""
        return "latency_s" if self.mean_s is not None else "late"

    def cost(self, latency_s: Any) -> Any:
        """The per-request latency cost: the latency itself, or 1.0 if later than the deadline."""
        if self.mean_s is not None:
            return latency_s
        if isinstance(latency_s, np.ndarray):
            return (latency_s > self.deadline_s).astype(np.float64)
        return 1.0 if latency_s > self.deadline_s else 0.0


@dataclass(frozen=True)
class DelayedFeedback:
    """Quality revealed ``steps`` requests late (``fixed``), or after a geometric delay of mean ``steps``.

    ``geometric``: ``d = G − 1`` with ``G ~ Geometric(p = 1 / (1 + steps))`` on {1, 2, ...}, so
    ``d ∈ {0, 1, ...}`` with mean ``steps`` (memoryless arrivals, as in the delayed-bandit
    literature, e.g. Joulani, György & Szepesvári, "Online learning under delayed feedback",
    ICML 2013).
    """

    steps: int = 1
    distribution: str = "fixed"

    def __post_init__(self) -> None:
        _require(
            isinstance(self.steps, (int, np.integer)) and not isinstance(self.steps, bool) and self.steps >= 0,
            f"scenario.delay.steps must be an integer >= 0, got {self.steps!r}",
        )
        _require(
            self.distribution in DELAY_DISTRIBUTIONS,
            f"scenario.delay.distribution must be one of {list(DELAY_DISTRIBUTIONS)}, got {self.distribution!r}",
        )

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """The delay of each of ``n`` requests (int64); draws from ``rng`` only if geometric."""
        if self.distribution == "fixed":
            return np.full(n, self.steps, dtype=np.int64)
        return rng.geometric(1.0 / (1.0 + self.steps), size=n).astype(np.int64) - 1


@dataclass(frozen=True)
class Scenario:
    """What departs from the stationary, single-constraint, immediate-feedback stream.

    Attributes:
        name: a label for results and plots (``"none"`` for the stationary stream).
        latency: a latency SLO, the second constraint (``None``: quality only).
        delay: delayed quality feedback (``None``: revealed on the step).
        drift: a schedule of the request mix (``None``: one shuffled mix).
        window: the windowed SLA's window W in requests (``None``: the whole-stream SLA only).
        zoo: joins, leaves and silent updates of the zoo (``None``: the recording's zoo throughout).
    """

    name: str = "none"
    latency: LatencySLO | None = None
    delay: DelayedFeedback | None = None
    drift: Drift | None = None
    window: int | None = None
    zoo: ZooChange | None = None

    def __post_init__(self) -> None:
        _require(
            self.zoo is None or self.delay is None,
            "scenario: a changing zoo and delayed feedback cannot be combined (a late explored outcome "
            "would have to carry the zoo of its own step)",
        )
        window = self.window
        _require(
            window is None or (isinstance(window, (int, np.integer)) and not isinstance(window, bool) and window >= 1),
            f"scenario.window must be a positive integer or None, got {window!r}",
        )

    @classmethod
    def parse(cls, spec: Scenario | Mapping[str, Any] | str | None) -> Scenario:
        """A scenario from itself, ``None`` (stationary), a mapping such as a Hydra config node, or
        the name of a file of ``conf/scenario`` (``"zoo_change"``), loaded from the packaged config
        as the runner's ``scenario=<name>`` loads it (:func:`messenv.config.load_scenario`).

        Raises:
            ValueError: an unknown key (named, with the known ones), a value out of range, or an
                unknown scenario name (the known ones listed).
            TypeError: ``spec`` is neither a Scenario, a name, a mapping nor ``None``.
        """
        if spec is None:
            return cls()
        if isinstance(spec, Scenario):
            return spec
        if isinstance(spec, str):
            from messenv.config import load_scenario  # Hydra's schema and OmegaConf load only for a name

            return load_scenario(spec)
        if not isinstance(spec, Mapping):
            raise TypeError(
                f"scenario must be a Scenario, a name of conf/scenario, a mapping or None, got {type(spec).__name__}"
            )
        _check_keys(spec, cls, "scenario")
        parts = {"latency": LatencySLO, "delay": DelayedFeedback, "drift": Drift, "zoo": ZooChange}
        values: dict[str, Any] = {}
        for key, value in spec.items():
            if key in parts and value is not None:
                if not isinstance(value, Mapping):
                    raise ValueError(f"scenario.{key} must be a mapping, got {value!r}")
                _check_keys(value, parts[key], f"scenario.{key}")
                value = parts[key](**dict(value))
            values[key] = value
        _require(
            isinstance(values.get("name", "none"), str), f"scenario.name must be a string, got {values.get('name')!r}"
        )
        return cls(**values)

    @property
    def stationary(self) -> bool:
        """True when nothing departs from the plain stream (the envs then skip every hook)."""
        return (
            self.latency is None
            and self.delay is None
            and self.drift is None
            and self.window is None
            and self.zoo is None
        )

    @property
    def constrained(self) -> bool:
        """True when the scenario adds constraints to the SLA (a latency SLO, a windowed SLA): the
        oracle then solves the constrained LP (:mod:`messenv.scenario_oracle`)."""
        return self.latency is not None or self.window is not None

    @property
    def needs_lp(self) -> bool:
        """True when the hindsight oracle is the LP of :mod:`messenv.scenario_oracle` (added
        constraints, or a zoo whose unavailable models are bounds of the LP)."""
        return self.constrained or self.zoo is not None

    def check_stream(self, recording: Recording, options: StreamOptions) -> None:
        """Refuse stream options the scenario cannot play (see :meth:`Drift.check`), or a zoo
        change naming a model the recording does not have."""
        if self.drift is not None:
            self.drift.check(recording, options)
        if self.zoo is not None:
            self.zoo.check(recording.models)

    def prepare(self, recording: Recording, options: StreamOptions, length: int, explore: bool) -> ZooPlay | None:
        """Check the stream and build the zoo's segments for a stream of ``length`` (drift: its own),
        before the env draws anything; ``None`` without a zoo change."""
        self.check_stream(recording, options)
        if self.zoo is None:
            return None
        return self.zoo.segments(recording, self.drift.length if self.drift else length, explore)

    def marks(self, n_requests: int) -> list[tuple[int, str]]:
        """``(step, label)`` of what plots mark: each phase start, and each window start (only while
        there are at most :data:`MAX_WINDOW_MARKS` windows, beyond which the lines would hide the data)."""
        marks = [(step, f"phase {i + 2}") for i, step in enumerate(self.drift.changes())] if self.drift else []
        if self.window is not None and n_requests / self.window <= MAX_WINDOW_MARKS:
            marks += [(step, "window") for step in range(self.window, n_requests, self.window)]
        if self.zoo is not None:
            marks += self.zoo.marks(n_requests)
        return marks


STATIONARY = Scenario()


def _check_keys(mapping: Mapping[str, Any], schema: type, where: str) -> None:
    known = [f.name for f in fields(schema)]
    unknown = sorted(set(mapping) - set(known))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; known: {known}")


def split_reset_options(options: dict | None, current: Scenario) -> tuple[dict | None, Scenario]:
    """The ``reset`` options without ``"scenario"``, and the scenario to play (``current`` if not given).

    Raises:
        ValueError: the ``scenario`` option is not a valid scenario.
    """
    if not options or "scenario" not in options:
        return options, current
    rest = {key: value for key, value in options.items() if key != "scenario"}
    scenario = Scenario.parse(options["scenario"])
    _require(
        (scenario.zoo is None) == (current.zoo is None),
        "scenario.zoo: a changing zoo adds the action_mask observation key, so it is set when the env is made, "
        "not by a reset option",
    )
    return rest, scenario


def cost_limits(alpha: float, scenario: Scenario) -> np.ndarray:
    """Limits on the means of ``info["costs"]``: ``[1 − α]``, then the latency SLO's limit if any."""
    return np.array([1.0 - alpha] + ([] if scenario.latency is None else [scenario.latency.limit]))
