"""A zoo that changes during the stream: models join and leave, or are silently replaced.

A part of :class:`~messenv.env.scenario.Scenario`:

- ``joins``: model -> step from which it can be chosen (unavailable before);
- ``leaves``: model -> step from which it can no longer be chosen;
- ``updates``: from ``step`` on, the slot of ``model`` returns the recorded outcomes (quality,
  energy, latency) of ``source``, another model of the recording: the "new version" an operator
  ships without notice, a regression or an upgrade.

Agents see only Gymnasium's action mask (``info["action_mask"]`` and the ``action_mask``
observation key, int8, 1 = allowed), never the schedule nor an update. The explore action
queries every AVAILABLE model: its energy and latency are summed over them and its answer is the
largest available model's; an unavailable model's entry of ``info["outcomes"]`` is NaN.

The zoo state is constant between change points, so the env replays it as a few *segments*, each
with its own outcome table over all recorded requests (:class:`ZooSegment`); a step looks up the
table of its segment as the stationary env looks up its one table.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from messenv.recordings import Recording


class MaskedActionError(ValueError):
    """An action whose model is not available at this step (see the action mask)."""


def _step(value: Any, where: str) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{where} must be an integer step >= 0, got {value!r}")
    return int(value)


def _schedule(value: Any, where: str) -> tuple[tuple[str, int], ...]:
    if isinstance(value, Mapping):
        return tuple((str(model), _step(step, f"{where}.{model}")) for model, step in value.items())
    return tuple((str(model), _step(step, f"{where}.{model}")) for model, step in value)


@dataclass(frozen=True)
class ModelUpdate:
    """From ``step`` on, the slot of ``model`` returns ``source``'s recorded outcomes."""

    model: str
    step: int
    source: str

    def __post_init__(self) -> None:
        _step(self.step, f"scenario.zoo.updates[{self.model}].step")


@dataclass(frozen=True)
class ZooChange:
    """Joins, leaves and silent updates of the zoo (see the module docstring)."""

    joins: tuple[tuple[str, int], ...] = ()
    leaves: tuple[tuple[str, int], ...] = ()
    updates: tuple[ModelUpdate, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "joins", _schedule(self.joins, "scenario.zoo.joins"))
        object.__setattr__(self, "leaves", _schedule(self.leaves, "scenario.zoo.leaves"))
        updates = []
        for update in self.updates:
            if isinstance(update, Mapping):
                if set(update) != {"model", "step", "source"}:
                    raise ValueError(f"scenario.zoo.updates: each update is {{model, step, source}}, got {update!r}")
                update = ModelUpdate(**update)
            updates.append(update)
        object.__setattr__(self, "updates", tuple(updates))
        if not (self.joins or self.leaves or self.updates):
            raise ValueError("scenario.zoo: give at least one of joins, leaves, updates")

    def check(self, models: Sequence[str]) -> None:
        """Refuse a model the recording does not have, or a model that leaves before it joins.

        Raises:
            ValueError: naming the field and the recording's models.
        """
        named = [m for m, _ in self.joins + self.leaves] + [n for u in self.updates for n in (u.model, u.source)]
        unknown = sorted(set(named) - set(models))
        if unknown:
            raise ValueError(f"scenario.zoo: model(s) {unknown} not in the zoo {list(models)}")
        joins, leaves = dict(self.joins), dict(self.leaves)
        for model in set(joins) & set(leaves):
            if leaves[model] <= joins[model]:
                raise ValueError(
                    f"scenario.zoo: {model} leaves at step {leaves[model]}, not after it joins ({joins[model]})"
                )

    def marks(self, n_requests: int) -> list[tuple[int, str]]:
        """``(step, label)`` of each change inside the stream, for plots (``"large joins"``...)."""
        events = [(s, f"{m} joins") for m, s in self.joins] + [(s, f"{m} leaves") for m, s in self.leaves]
        events += [(u.step, f"{u.model} updated") for u in self.updates]
        return sorted((s, label) for s, label in events if 0 < s < n_requests)

    def segments(self, recording: Recording, n_requests: int, explore: bool) -> ZooPlay:
        """The zoo states of a stream of ``n_requests`` and their outcome tables.

        Raises:
            ValueError: a step at which no model is available.
        """
        models = list(recording.models)
        self.check(models)
        starts = sorted({0} | {s for s in self._steps() if s < n_requests})
        segments = [self._segment(recording, models, start, explore) for start in starts]
        for start, segment in zip(starts, segments):
            if not segment.available.any():
                raise ValueError(f"scenario.zoo: no model is available from step {start}")
        return ZooPlay(starts, segments)

    def _steps(self) -> list[int]:
        return [s for _, s in self.joins + self.leaves] + [u.step for u in self.updates]

    def _segment(self, recording: Recording, models: list[str], step: int, explore: bool) -> ZooSegment:
        joins, leaves = dict(self.joins), dict(self.leaves)
        available = np.array([joins.get(m, 0) <= step < leaves.get(m, np.iinfo(np.int64).max) for m in models])
        source = np.arange(len(models))
        for update in self.updates:
            if update.step <= step:
                source[models.index(update.model)] = models.index(update.source)
        return ZooSegment.build(recording, available, source, explore)


@dataclass(frozen=True, eq=False)
class ZooSegment:
    """One zoo state: which models can be chosen and the outcome of every action on every request.

    Attributes:
        available: ``[M]`` bool.
        mask: ``[A]`` int8 action mask (the explore action, if any, is allowed).
        quality, energy_j, latency_s: ``[N, A]`` outcome of each action on each recorded request
            (NaN in an unavailable model's column).
        per_model: ``(quality, energy_j, latency_s)``, each ``[N, M]``: every model's outcome, as
            an explore action reports it (NaN for unavailable models).
    """

    available: np.ndarray
    mask: np.ndarray
    quality: np.ndarray
    energy_j: np.ndarray
    latency_s: np.ndarray
    per_model: tuple[np.ndarray, np.ndarray, np.ndarray]

    @classmethod
    def build(cls, recording: Recording, available: np.ndarray, source: np.ndarray, explore: bool) -> ZooSegment:
        per_model = []
        for table in (recording.quality, recording.energy_j, recording.latency_s):
            values = np.asarray(table, dtype=np.float64)[:, source]
            values[:, ~available] = np.nan
            per_model.append(values)
        quality, energy, latency = per_model
        columns = [quality, energy, latency]
        if explore:
            largest = int(np.flatnonzero(available)[-1]) if available.any() else 0
            columns = [
                np.column_stack([quality, quality[:, largest]]),
                np.column_stack([energy, np.nansum(energy, axis=1)]),
                np.column_stack([latency, np.nansum(latency, axis=1)]),
            ]
        mask = np.r_[available, [True] * explore].astype(np.int8)
        return cls(available, mask, *(np.ascontiguousarray(c) for c in columns), tuple(per_model))


class ZooPlay:
    """The segments of one stream: which one holds at step t, and a step's outcome in it."""

    def __init__(self, starts: list[int], segments: list[ZooSegment]) -> None:
        self.starts = starts
        self.segments = segments
        # Nested lists for the single env (as MessEnv's own tables), built on first use.
        self._lists: list[tuple[list, list, list] | None] = [None] * len(segments)
        self._allowed = [segment.mask.tolist() for segment in segments]  # read per step: no numpy scalar
        self._last_mask: tuple[int, np.ndarray] | None = None  # (step, mask) last handed out

    def segment(self, t: int) -> int:
        """Index of the segment that holds at step ``t``."""
        return bisect.bisect_right(self.starts, t) - 1

    def mask(self, t: int) -> np.ndarray:
        """The action mask at step ``t``: a read-only int8 array, fresh for each step (Gymnasium's
        env checker warns when steps share data), and the same one when asked again for that step
        (the env's info and its next observation both carry it: one copy, which no agent can change)."""
        if self._last_mask is None or self._last_mask[0] != t:
            mask = self.segments[self.segment(t)].mask.copy()
            mask.flags.writeable = False
            self._last_mask = (t, mask)
        return self._last_mask[1]

    def outcome(
        self, t: int, row: int, action: int, explored: bool
    ) -> tuple[float, float, float, tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
        """As :meth:`MessEnv._outcome`, in the zoo of step ``t``.

        Raises:
            MaskedActionError: the action is masked at step ``t``.
        """
        k = self.segment(t)
        segment = self.segments[k]
        if not self._allowed[k][action]:
            raise MaskedActionError(
                f"action {action} is masked at step {t} (model not available: see info['action_mask'])"
            )
        lists = self._lists[k]
        if lists is None:
            lists = self._lists[k] = (segment.quality.tolist(), segment.energy_j.tolist(), segment.latency_s.tolist())
        per_model = tuple(values[row].copy() for values in segment.per_model) if explored else None
        return lists[0][row][action], lists[1][row][action], lists[2][row][action], per_model

    def effective(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every model's outcome on each step of a stream ``rows[T]`` as the zoo presented it:
        ``quality, energy_j, latency_s`` ``[T, M]`` (NaN where unavailable) and ``available`` ``[T, M]``."""
        quality, energy, latency = (np.empty((len(rows), len(self.segments[0].available))) for _ in range(3))
        available = np.zeros(quality.shape, dtype=bool)
        bounds = self.starts[1:] + [len(rows)]
        for start, stop, segment in zip(self.starts, bounds, self.segments):
            if start >= len(rows):
                break
            part = rows[start:stop]
            for out, table in zip((quality, energy, latency), segment.per_model):
                out[start:stop] = table[part]
            available[start:stop] = segment.available
        return quality, energy, latency, available
