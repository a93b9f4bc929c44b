"""Drift in the request mix: which benchmarks a stream draws from changes along the stream.

Two forms (a part of :class:`~messenv.env.scenario.Scenario`):

- phases: ``arc_easy`` for 1,000 requests, then ``boolq`` for 1,000 (each :class:`Phase` draws
  its requests from its own benchmarks);
- smooth: over ``n_requests`` requests, request t comes from the ``end`` benchmarks with
  probability ``t / (T − 1)`` and from the ``start`` benchmarks otherwise, a linear drift from one
  mix to the other.

Within a phase (or a mix) requests are drawn without replacement (a shuffled order, as the
stationary stream) unless the stream's ``replace`` is set. Two phases with the same benchmarks
draw independently and may repeat a request. The drift sets the stream's length and its
benchmarks, so the ``n_requests`` and ``benchmarks`` stream options must be left unset (or agree).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from messenv.env.stream import StreamOptions, request_pool, sample_stream, sample_streams, stream_length
from messenv.recordings import Recording


def _benchmarks(value: Any, where: str) -> tuple[str, ...]:
    names = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, Sequence) else ()
    if not names or not all(isinstance(name, str) for name in names):
        raise ValueError(f"{where} must name at least one benchmark, got {value!r}")
    return names


def _count(value: Any, where: str) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{where} must be a positive integer, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Phase:
    """``n_requests`` requests drawn from ``benchmarks``."""

    benchmarks: tuple[str, ...]
    n_requests: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "benchmarks", _benchmarks(self.benchmarks, "scenario.drift.phases[].benchmarks"))
        object.__setattr__(self, "n_requests", _count(self.n_requests, "scenario.drift.phases[].n_requests"))


@dataclass(frozen=True)
class Drift:
    """A schedule of the request mix: ``phases``, or a smooth drift from ``start`` to ``end`` over ``n_requests``."""

    phases: tuple[Phase, ...] = ()
    start: tuple[str, ...] | None = None
    end: tuple[str, ...] | None = None
    n_requests: int | None = None

    def __post_init__(self) -> None:
        smooth = self.start is not None or self.end is not None or self.n_requests is not None
        if bool(self.phases) == smooth:
            raise ValueError("scenario.drift: give either phases, or start, end and n_requests (a smooth drift)")
        if smooth:
            object.__setattr__(self, "start", _benchmarks(self.start, "scenario.drift.start"))
            object.__setattr__(self, "end", _benchmarks(self.end, "scenario.drift.end"))
            object.__setattr__(self, "n_requests", _count(self.n_requests, "scenario.drift.n_requests"))
        else:
            phases = tuple(p if isinstance(p, Phase) else _phase(p) for p in self.phases)
            object.__setattr__(self, "phases", phases)

    @property
    def length(self) -> int:
        """The stream length T the drift sets."""
        return sum(p.n_requests for p in self.phases) if self.phases else int(self.n_requests)

    def changes(self) -> list[int]:
        """Steps at which a new phase starts (none for a smooth drift): what plots mark."""
        return np.cumsum([p.n_requests for p in self.phases])[:-1].tolist() if self.phases else []

    def check(self, recording: Recording, options: StreamOptions) -> None:
        """Refuse a drift the recording cannot play, or stream options that contradict it.

        Raises:
            ValueError: an unknown benchmark, a phase longer than its pool without ``replace``,
                or an ``n_requests`` / ``benchmarks`` stream option set to something else.
        """
        if options.n_requests is not None and options.n_requests != self.length:
            raise ValueError(f"scenario.drift sets n_requests={self.length}; the stream asks for {options.n_requests}")
        if options.benchmarks is not None:
            raise ValueError("scenario.drift chooses the benchmarks of each phase: leave the benchmarks option unset")
        for benchmarks, n in self._parts():
            stream_length(len(request_pool(recording, benchmarks)), StreamOptions(n, benchmarks, options.replace))

    def _parts(self) -> list[tuple[tuple[str, ...], int]]:
        if self.phases:
            return [(p.benchmarks, p.n_requests) for p in self.phases]
        return [(self.start, self.n_requests), (self.end, self.n_requests)]

    def sample(self, rng: np.random.Generator, recording: Recording, options: StreamOptions) -> np.ndarray:
        """The recording rows of one drifting stream, drawn with ``rng``."""
        if self.phases:
            return np.concatenate(
                [_draw(rng, recording, p.benchmarks, p.n_requests, options.replace) for p in self.phases]
            )
        n = self.length
        late = rng.random(n) < np.arange(n) / max(n - 1, 1)
        rows = np.empty(n, dtype=np.int64)
        rows[~late] = _draw(rng, recording, self.start, int((~late).sum()), options.replace)
        rows[late] = _draw(rng, recording, self.end, int(late.sum()), options.replace)
        return rows


def _phase(spec: Any) -> Phase:
    if not isinstance(spec, Mapping) or set(spec) != {"benchmarks", "n_requests"}:
        raise ValueError(f"scenario.drift.phases: each phase is {{benchmarks, n_requests}}, got {spec!r}")
    return Phase(spec["benchmarks"], spec["n_requests"])


def _draw(
    rng: np.random.Generator, recording: Recording, benchmarks: tuple[str, ...], n: int, replace: bool
) -> np.ndarray:
    pool = request_pool(recording, benchmarks)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    return pool[rng.integers(0, len(pool), size=n)] if replace else pool[rng.permutation(len(pool))[:n]]


def draw_stream(
    drift: Drift | None, rng: np.random.Generator, recording: Recording, pool: np.ndarray, options: StreamOptions
) -> tuple[np.ndarray, np.ndarray]:
    """Rows and feedback mask of one stream: :func:`~messenv.env.stream.sample_stream`, or the drift's
    rows followed by a feedback mask drawn as the stationary stream draws it."""
    if drift is None:
        return sample_stream(rng, pool, options)
    rows = drift.sample(rng, recording, options)
    feedback = (
        np.ones(len(rows), dtype=bool)
        if options.feedback_rate >= 1.0
        else rng.random(len(rows)) < options.feedback_rate
    )
    return rows, feedback


def draw_streams(
    drift: Drift | None,
    rngs: Sequence[np.random.Generator],
    recording: Recording,
    pool: np.ndarray,
    options: StreamOptions,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows and feedback masks ``[len(rngs), T]``, row ``i`` being what :func:`draw_stream` draws with
    ``rngs[i]``: a stationary block in one go (:func:`~messenv.env.stream.sample_streams`), a
    drifting one stream by stream."""
    if drift is None:
        return sample_streams(rngs, pool, options)
    drawn = [draw_stream(drift, rng, recording, pool, options) for rng in rngs]
    return np.stack([rows for rows, _ in drawn]), np.stack([feedback for _, feedback in drawn])
