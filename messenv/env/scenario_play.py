"""A scenario while an episode plays: the per-step hooks MessEnv and MessVectorEnv call.

:class:`EpisodeScenario` serves the single env (Python scalars, like its step) and
:class:`VectorEpisodeScenario` the vector env (arrays over sub-envs). Both are built at reset
from a :class:`~messenv.env.scenario.Scenario`, draw what they need from the env's generator(s)
after the stream, and at each step add the scenario's fields to ``info``:

- latency SLO: ``costs = [1 − quality, latency cost]`` (the first NaN while the quality is not
  revealed) and a running sum of the latency cost for the summary;
- changing zoo: ``action_mask`` of the next step (the outcomes themselves come from the zoo's
  segment tables, :class:`~messenv.env.zoo_change.ZooPlay`, which the envs read in place of
  their own);
- windowed SLA: the summed true quality of each window of W requests, for the summary;
- delayed feedback: the step's own quality is withheld (``quality``/``cost`` ``None`` or NaN,
  ``feedback`` False, an explored step's ``outcomes["quality"]`` too) and the qualities that
  arrive on this step are listed in ``delayed_feedback`` (see the env docstrings for the layout).

A request whose delay runs past the end of the stream is delivered with the last step, so every
revealed quality reaches the agent; a quality withheld by ``feedback_rate`` is never delivered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from messenv.env.scenario import Scenario
from messenv.env.zoo_change import MaskedActionError, ZooPlay


def arrival_steps(delays: np.ndarray, n_requests: int) -> np.ndarray:
    """The step on which each request's quality is delivered: ``t + d``, at most the last step."""
    return np.minimum(np.arange(n_requests)[:, None] + delays.reshape(n_requests, -1), n_requests - 1).reshape(
        delays.shape
    )


def scenario_summary(
    scenario: Scenario, mean_quality: Any, alpha: float, latency_cost_sum: Any, window_sums: Any, steps: int
) -> dict:
    """The scenario's part of the episode summary: its ``scenario`` name, and per constraint it adds:

    - latency SLO: ``mean_costs`` and ``cost_limits`` (as ``info["costs"]``) and
      ``latency_violation = max(0, mean latency cost − limit)``;
    - windowed SLA: ``window_quality`` (each window's mean true quality; the last window may be
      shorter), ``worst_window_quality``, ``windows_met_share`` and ``window_violation =
      max(0, α − worst window)``;

    and then ``constraints_met``: the SLA and every added constraint met.
    """
    out: dict[str, Any] = {"scenario": scenario.name}
    met = mean_quality >= alpha
    slo = scenario.latency
    if slo is not None:
        mean_cost = latency_cost_sum / max(steps, 1)
        out.update(
            mean_costs=np.stack(np.broadcast_arrays(1.0 - mean_quality, mean_cost), axis=-1),
            cost_limits=[1.0 - alpha, slo.limit],
            latency_violation=np.maximum(0.0, mean_cost - slo.limit),
        )
        met = met & (mean_cost <= slo.limit)
    if scenario.window is not None and steps > 0:
        window = scenario.window
        n_windows = -(-steps // window)
        sizes = np.full(n_windows, float(window))
        sizes[-1] = steps - (n_windows - 1) * window
        means = np.asarray(window_sums)[:n_windows] / sizes.reshape((-1,) + (1,) * (np.ndim(window_sums) - 1))
        worst = means.min(axis=0)
        out.update(
            window_quality=means.T if means.ndim > 1 else means,
            worst_window_quality=worst,
            windows_met_share=(means >= alpha).mean(axis=0),
            window_violation=np.maximum(0.0, alpha - worst),
        )
        met = met & (worst >= alpha)
    if scenario.constrained:
        out["constraints_met"] = met
    return out


class EpisodeScenario:
    """The scenario of one MessEnv episode.

    Args:
        scenario: the spec (not stationary).
        rng: the env's generator, already past the stream draws.
        feedback: per step, whether its quality is revealed at all (the ``feedback_rate`` mask).
        zoo: the zoo's segments (``None`` without a zoo change).
    """

    def __init__(
        self, scenario: Scenario, rng: np.random.Generator, feedback: list[bool], zoo: ZooPlay | None = None
    ) -> None:
        self.scenario = scenario
        self.zoo = zoo
        self.latency = scenario.latency
        # The deadline (or None for the mean form), read on every step without a method call.
        self.deadline = None if self.latency is None else self.latency.deadline_s
        self.latency_cost_sum = 0.0
        self.window = scenario.window
        self.window_sums = [0.0] * (-(-len(feedback) // self.window)) if self.window else []
        self.due: list[list[int]] | None = None
        self.played: list[dict[str, Any] | None] = []
        if scenario.delay is not None:
            n = len(feedback)
            arrivals = arrival_steps(scenario.delay.draw(rng, n), n).tolist()
            self.due = [[] for _ in range(n)]
            for step, (arrival, revealed) in enumerate(zip(arrivals, feedback)):
                if revealed:
                    self.due[arrival].append(step)
            self.played = [None] * n

    def step(self, t: int, action: int, quality: float, latency_s: float, info: dict[str, Any]) -> None:
        """Add the scenario's fields to the ``info`` of step ``t`` (see the module docstring)."""
        if self.window:
            self.window_sums[t // self.window] += quality
        if self.zoo is not None:
            info["action_mask"] = self.zoo.mask(t + 1)
        if self.due is not None:
            self._delay(t, action, quality, info)
        if self.latency is not None:
            deadline = self.deadline
            cost = latency_s if deadline is None else float(latency_s > deadline)
            self.latency_cost_sum += cost
            revealed = info["cost"]
            info["costs"] = np.array((np.nan if revealed is None else revealed, cost))

    def _delay(self, t: int, action: int, quality: float, info: dict[str, Any]) -> None:
        if info["explored"]:
            outcomes = info["outcomes"]
            revealed = {"quality": outcomes["quality"]}
            outcomes["quality"] = None
        else:
            revealed = None
        played = self.played
        played[t] = {"step": t, "action": action, "quality": quality, "cost": 1.0 - quality, "outcomes": revealed}
        info["feedback"] = False
        info["quality"] = info["cost"] = None
        info["delayed_feedback"] = [played[s] for s in self.due[t]]

    def summary(self, mean_quality: float, alpha: float, steps: int) -> dict[str, Any]:
        """The scenario's summary fields (see :func:`scenario_summary`)."""
        return scenario_summary(self.scenario, mean_quality, alpha, self.latency_cost_sum, self.window_sums, steps)


class VectorEpisodeScenario:
    """The scenario of a batch of episodes in MessVectorEnv (one per sub-env).

    Args:
        scenario: the spec (not stationary).
        shape: ``(T, n)``, the streams' length and the number of sub-envs.
        quality: ``[N, M]`` recorded quality of every model (the outcomes of explored requests).
        rows_at: the recording rows of step ``t``'s requests, ``[n]`` (a changing zoo's outcomes).
        explore_index: the explore action, or ``None``.
        zoo: the zoo's segments (``None`` without a zoo change).
        delay_draws: with delayed feedback, what the delays are drawn from and what they deliver:
            each sub-env's generator (already past its stream draws), the ``[T, n]`` revealed-at-all
            mask and the ``[T, n]`` recording rows of the stored streams.
    """

    def __init__(
        self,
        scenario: Scenario,
        shape: tuple[int, int],
        quality: np.ndarray,
        rows_at: Callable[[int], np.ndarray],
        explore_index: int | None,
        zoo: ZooPlay | None = None,
        delay_draws: tuple[list[np.random.Generator], np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self.scenario = scenario
        self.zoo = zoo
        self.rows_at = rows_at
        # Flattened [N * A] tables of each zoo segment, indexed row * A + action like the env's own.
        self.flat = (
            None
            if zoo is None
            else [tuple(t.ravel() for t in (s.quality, s.energy_j, s.latency_s)) for s in zoo.segments]
        )
        self.latency = scenario.latency
        n_steps, n_envs = shape
        self.latency_cost_sum = np.zeros(n_envs)
        self.window = scenario.window
        self.window_sums = np.zeros((-(-n_steps // self.window), n_envs)) if self.window else None
        self.model_quality = quality
        self.explore_index = -1 if explore_index is None else explore_index
        self.delayed = scenario.delay is not None
        if self.delayed:
            if delay_draws is None:
                raise ValueError("delayed feedback needs the sub-envs' generators, feedback masks and stored streams")
            rngs, feedback, rows = delay_draws
            delays = np.stack([scenario.delay.draw(rng, n_steps) for rng in rngs], axis=1)
            arrival = arrival_steps(delays, n_steps)
            step, env = np.nonzero(feedback)
            # By arrival step, then request, then sub-env: each sub-env's entries keep the single
            # env's order (by request), and one step's arrivals are the range [bounds[t], bounds[t + 1]).
            order = np.lexsort((env, step, arrival[step, env]))
            self.step_of, self.env_of = step[order], env[order]
            self.bounds = np.searchsorted(arrival[self.step_of, self.env_of], np.arange(n_steps + 1))
            self.delivered_rows = rows[self.step_of, self.env_of]
            self.feedback = feedback
            # Step t's own entries are np.nonzero's [first_entry[t], first_entry[t + 1]) (by step, then sub-env).
            self.first_entry = np.concatenate(([0], np.cumsum(feedback.sum(axis=1))))
            # What each step played is written, as it is played, straight to its place in arrival
            # order, so that a step's deliveries are one contiguous slice to copy (no scattered
            # reads). Positions are taken modulo C: the entries not yet delivered while step s plays
            # arrive within R = longest delay + 1 steps, so they all lie in [bounds[s], bounds[s + R])
            # and C, the widest such span, keeps them apart; a ring of C stays in cache.
            ring = min(n_steps, int(delays.max(initial=0)) + 1)
            ends = self.bounds[np.minimum(np.arange(n_steps) + ring, n_steps)]
            self.ring = max(1, int((ends - self.bounds[:-1]).max(initial=0)))
            place = np.empty(len(order), dtype=np.int64)
            place[order] = np.arange(len(order))
            self.place_of = place % self.ring  # ring position of each entry, in np.nonzero's order
            self.actions = np.zeros(self.ring, dtype=np.int64)
            self.quality = np.zeros(self.ring)

    def step(
        self, t: int, actions: np.ndarray, quality: np.ndarray, latency_s: np.ndarray, info: dict[str, Any]
    ) -> None:
        """Add the scenario's fields to the batched ``info`` of step ``t``."""
        if self.zoo is not None:
            self._zoo_outcomes(t, info)
        if self.window:
            self.window_sums[t // self.window] += quality
        if self.delayed:
            self._delay(t, actions, quality, info)
        if self.latency is not None:
            cost = self.latency.cost(latency_s)
            self.latency_cost_sum += cost
            info["costs"] = np.stack([1.0 - info["quality"], cost], axis=1)

    def tables(self, t: int, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The flat quality, energy and latency tables of step ``t``'s zoo.

        Raises:
            MaskedActionError: an action masked at step ``t``.
        """
        k = self.zoo.segment(t)
        allowed = self.zoo.segments[k].mask[actions]
        if not allowed.all():
            bad = int(np.flatnonzero(allowed == 0)[0])
            raise MaskedActionError(
                f"sub-env {bad}: action {int(actions[bad])} is masked at step {t} (model not available: "
                "see info['action_mask'])"
            )
        return self.flat[k]

    def mask(self, t: int, n_envs: int) -> np.ndarray:
        """The ``[n, A]`` action mask of step ``t`` (the same zoo in every sub-env)."""
        return np.tile(self.zoo.segments[self.zoo.segment(t)].mask, (n_envs, 1))

    def _zoo_outcomes(self, t: int, info: dict) -> None:
        """Every model's outcome on explored requests, as the zoo of step ``t`` presents it."""
        outcomes = info.get("outcomes")
        if outcomes is not None:
            explored = info["_outcomes"]
            rows = self.rows_at(t)
            for key, table in zip(
                ("quality", "energy_j", "latency_s"), self.zoo.segments[self.zoo.segment(t)].per_model
            ):
                values = table[rows]
                hidden = ~explored if key != "quality" else ~(explored & info["_quality"])
                values[hidden] = np.nan
                outcomes[key] = values
        info["action_mask"] = self.mask(t + 1, len(info["energy_j"]))

    def _delay(self, t: int, actions: np.ndarray, quality: np.ndarray, info: dict) -> None:
        n = len(actions)
        first, last = self.first_entry[t], self.first_entry[t + 1]
        place = self.place_of[first:last]
        if last - first < n:  # some qualities are never revealed (feedback_rate): only the others
            revealed = self.feedback[t]
            actions, quality = actions[revealed], quality[revealed]
        self.actions[place], self.quality[place] = actions, quality
        hidden = np.zeros(n, dtype=bool)
        info["feedback"] = info["_quality"] = hidden
        info["quality"] = np.full(n, np.nan)
        if "outcomes" in info:
            info["outcomes"]["quality"][:] = np.nan
        start, stop = self.bounds[t], self.bounds[t + 1]
        arrived = self._arrived(self.actions, start, stop)
        info["delayed_feedback"] = delivered = {
            "env": self.env_of[start:stop],
            "step": self.step_of[start:stop],
            "action": arrived,
            "quality": self._arrived(self.quality, start, stop),
        }
        if self.explore_index >= 0:  # without the explore action no request explores: no outcomes
            explored_at = np.flatnonzero(arrived == self.explore_index)
            outcomes = np.full((stop - start, self.model_quality.shape[1]), np.nan)
            outcomes[explored_at] = self.model_quality[self.delivered_rows[start:stop][explored_at]]
            delivered["outcomes_quality"] = outcomes

    def _arrived(self, ring: np.ndarray, start: int, stop: int) -> np.ndarray:
        """A copy of the entries ``[start, stop)`` in arrival order, read from ``ring`` (modulo its size)."""
        size = len(ring)
        first, end = start % size, stop % size
        if stop == start or first < end:
            return ring[first : first + stop - start].copy()
        return np.concatenate((ring[first:], ring[:end]))

    def summary(self, mean_quality: np.ndarray, alpha: float, steps: int) -> dict[str, Any]:
        """The scenario's summary fields, as arrays over sub-envs."""
        return scenario_summary(self.scenario, mean_quality, alpha, self.latency_cost_sum, self.window_sums, steps)


def start_episode(
    scenario: Scenario, rng: np.random.Generator, feedback: list[bool], zoo: ZooPlay | None = None
) -> EpisodeScenario | None:
    """The scenario state of a new MessEnv episode, or ``None`` for the stationary stream (no hooks)."""
    return None if scenario.stationary else EpisodeScenario(scenario, rng, feedback, zoo)
