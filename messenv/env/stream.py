"""Request streams: which recorded requests an episode replays, in which order, with what feedback.

Both :class:`~messenv.env.mess_env.MessEnv` and the vector env draw their streams here, so that
sub-env ``i`` of a vector env reset with seed ``s`` replays exactly the stream a single env reset
with seed ``s + i`` replays.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from messenv.recordings import Recording


@dataclass(frozen=True)
class StreamOptions:
    """How to draw a stream of requests from a recording.

    Attributes:
        n_requests: stream length T; ``None`` = every request of the selected benchmarks once.
        benchmarks: benchmark names to draw from (one name, or several); ``None`` = all.
        replace: draw with replacement (then ``n_requests`` may exceed the pool).
        feedback_rate: probability that a step's quality is revealed to the agent, in (0, 1].
    """

    n_requests: int | None = None
    benchmarks: Sequence[str] | None = None  # stored as a tuple
    replace: bool = False
    feedback_rate: float = 1.0

    def __post_init__(self) -> None:
        # One name is one benchmark, as in messenv.recordings.load: tuple("arc_easy") would be
        # its letters, and an empty selection would surface later as a misleading "n_requests=0".
        benchmarks = self.benchmarks
        if benchmarks is not None:
            benchmarks = (benchmarks,) if isinstance(benchmarks, str) else tuple(benchmarks)
            if not benchmarks:
                raise ValueError("benchmarks is empty: name at least one benchmark, or pass None for all")
            object.__setattr__(self, "benchmarks", benchmarks)
        # Checked by type, not converted: int(2.5) would silently play 2 requests.
        if self.n_requests is not None and not _is_integer(self.n_requests):
            raise ValueError(f"n_requests must be a positive integer or None, got {self.n_requests!r}")
        if not is_number(self.feedback_rate):
            raise ValueError(f"feedback_rate must be a number in (0, 1], got {self.feedback_rate!r}")

    def updated(self, options: dict | None) -> StreamOptions:
        """These options with the keys of a ``reset(options=...)`` dict applied.

        Raises:
            ValueError: on an unknown key, an empty benchmark selection, or an ``n_requests`` or
                ``feedback_rate`` of the wrong type.
        """
        if not options:
            return self
        unknown = sorted(set(options) - {"n_requests", "benchmarks", "replace", "feedback_rate"})
        if unknown:
            raise ValueError(
                f"unknown reset option(s) {unknown}; known: n_requests, benchmarks, replace, feedback_rate"
            )
        return StreamOptions(**{**self.__dict__, **options})


def _is_integer(value: object) -> bool:
    """An int or numpy integer; ``True``/``False`` are not counts."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def is_number(value: object) -> bool:
    """A real number (int, float or numpy scalar), not a bool or a string."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def request_pool(recording: Recording, benchmarks: Iterable[str] | None) -> np.ndarray:
    """Row indices of the recording's requests that belong to ``benchmarks`` (all if ``None``).

    Raises:
        ValueError: on a benchmark the recording does not have.
    """
    if benchmarks is None:
        return np.arange(recording.n_requests)
    wanted = list(benchmarks)
    unknown = sorted(set(wanted) - set(recording.benchmark_names))
    if unknown:
        raise ValueError(
            f"benchmark(s) {unknown} not in recording {recording.name!r}; it has {list(recording.benchmark_names)}"
        )
    codes = [recording.benchmark_names.index(b) for b in wanted]
    return np.flatnonzero(np.isin(recording.benchmark_index, codes))


def stream_length(pool_size: int, options: StreamOptions) -> int:
    """The episode length T that ``options`` ask for from a pool of ``pool_size`` requests.

    Raises:
        ValueError: when T is not positive, or exceeds the pool without replacement.
    """
    n = pool_size if options.n_requests is None else int(options.n_requests)
    if n <= 0:
        raise ValueError(f"n_requests must be positive, got {n}")
    if n > pool_size and not options.replace:
        raise ValueError(
            f"n_requests={n} exceeds the {pool_size} requests available; pass replace=True to draw with replacement"
        )
    if not 0.0 < options.feedback_rate <= 1.0:
        raise ValueError(f"feedback_rate must be in (0, 1], got {options.feedback_rate}")
    return n


def sample_stream(
    rng: np.random.Generator, pool: np.ndarray, options: StreamOptions
) -> tuple[np.ndarray, np.ndarray]:
    """Draw one stream: the recording rows to replay and whether each step reveals its quality.

    The order is drawn before the feedback mask, so the same seed replays the same requests
    whatever the feedback rate.
    """
    rows, feedback = sample_streams([rng], pool, options)
    return rows[0], feedback[0]


def sample_streams(
    rngs: Sequence[np.random.Generator], pool: np.ndarray, options: StreamOptions
) -> tuple[np.ndarray, np.ndarray]:
    """One stream per generator: ``rows[len(rngs), T]`` and ``feedback[len(rngs), T]``, row ``i``
    being what :func:`sample_stream` draws with ``rngs[i]`` (a vector env draws a block of sub-envs
    at once: one gather from the pool and one mask for the block, not one per sub-env)."""
    n = stream_length(len(pool), options)
    picks = np.empty((len(rngs), n), dtype=np.int64)
    feedback = np.ones((len(rngs), n), dtype=bool)
    for i, rng in enumerate(rngs):
        picks[i] = rng.integers(0, len(pool), size=n) if options.replace else rng.permutation(len(pool))[:n]
        if options.feedback_rate < 1.0:
            feedback[i] = rng.random(n) < options.feedback_rate
    return pool[picks], feedback
