"""Counter-based request streams: request ``t`` of any stream is a pure function of (key, t).

The default sampler (``sampler="pcg64"``) draws each stream from its own
``np.random.Generator(PCG64(seed))``, exactly as Gymnasium seeds an env: sub-env ``i`` of a vector env
replays the single env seeded ``s + i``. That costs one generator and one stored stream per sub-env:
at 65,536 streams, about a second of Python per ``reset`` and T × 65,536 stored rows.

``sampler="counter"`` computes instead, with a few vectorized numpy operations over all streams,
the row that stream ``i`` plays at step ``t``, when it is played: nothing per sub-env but its key,
no stream is stored, and ``reset`` costs about one step. The streams are different ones (same
seed, other requests than the PCG64 sampler's), with the same properties:

- without replacement, stream ``i`` plays the first T entries of a permutation of the request pool
  keyed by its seed: a 6-round Feistel network on the smallest power of two ≥ the pool (and ≥ 64),
  with cycle walking into the pool (Luby & Rackoff, "How to construct pseudorandom permutations from
  pseudorandom functions", SIAM J. Comput. 1988; Black & Rogaway, "Ciphers with arbitrary finite
  domains", CT-RSA 2002). Each round mixes one half of the index with a keyed hash of the other,
  so every key gives a bijection;
- with replacement, the pool entry ``⌊h·N / 2³²⌋`` of a 32-bit hash ``h`` of (key, t) (Lemire's
  multiply-shift range reduction; bias below N / 2³², under 10⁻⁵ for any recording so far);
- the feedback mask reveals step ``t`` when a 53-bit hash of (feedback key, t) falls below the rate.

The hashes for draws with replacement and for feedback are SplitMix64's output function on
``key + (t + 1)·γ`` (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", OOPSLA
2014): SplitMix64's ``t``-th output, a counter-based generator by construction; each Feistel round
hashes one half XOR the round's key with the same function. Keys come from the seed and the
episode count (a ``reset`` without a seed plays the next episode), so single envs seeded ``s + i``
and sub-env ``i`` still replay the same streams under this sampler, and the same seed gives the
same numbers on any machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from messenv.env.scenario import Scenario

SAMPLERS = ("pcg64", "counter")
"""``pcg64``: one numpy generator per stream, as Gymnasium seeds envs (the default). ``counter``: this module."""

FEISTEL_ROUNDS = 6  # 3 rounds give a pseudorandom permutation, 4 a strong one (Luby & Rackoff); 6 for margin
MIN_BITS = 6  # the smallest Feistel domain, 2**6 (see CounterSampler)
_GAMMA = np.uint64(0x9E3779B97F4A7C15)  # SplitMix64's increment, the golden ratio in 64 bits
_MIX_1, _MIX_2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S32, _S11 = (np.uint64(s) for s in (30, 27, 31, 32, 11))
_PURPOSES = FEISTEL_ROUNDS + 2  # a key per Feistel round, one for draws with replacement, one for feedback


def check_sampler(sampler: str) -> str:
    """``sampler`` if it is one of :data:`SAMPLERS`, else a one-line ValueError naming them."""
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {list(SAMPLERS)}, got {sampler!r}")
    return sampler


COUNTER_SCENARIO_PARTS = ("latency", "window", "zoo")
"""The scenario parts the counter sampler plays: they draw nothing and read each step's requests
when it is played. A drift changes what the stream is drawn from, and delays are drawn from
each stream's own generator, which this sampler does not have."""


def check_counter_scenario(sampler: str, scenario: Scenario) -> None:
    """Refuse a scenario part the counter sampler cannot play (see :data:`COUNTER_SCENARIO_PARTS`)."""
    if sampler == "counter":
        parts = [part for part in ("delay", "drift") if getattr(scenario, part) is not None]
        if parts:
            raise ValueError(
                f"sampler='counter' plays stationary streams with immediate feedback (scenario parts "
                f"{', '.join(COUNTER_SCENARIO_PARTS)}), got a scenario with {' and '.join(parts)}"
            )


def mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's output function (Stafford's Mix13 variant) on uint64 values, wrapping, computed
    in place: ``z`` (a fresh array of the caller's) is overwritten and returned."""
    shifted = z >> _S30
    z ^= shifted
    z *= _MIX_1
    np.right_shift(z, _S27, out=shifted)
    z ^= shifted
    z *= _MIX_2
    np.right_shift(z, _S31, out=shifted)
    z ^= shifted
    return z


def counter_hash(key: np.ndarray, t: np.ndarray | int) -> np.ndarray:
    """SplitMix64's ``t``-th output from state ``key``: ``mix64(key + (t + 1)·γ)``, broadcast."""
    steps = np.atleast_1d(np.asarray(t, dtype=np.uint64))  # arrays throughout: numpy scalars warn on wrapping
    return mix64(key + (steps + np.uint64(1)) * _GAMMA)


def seed_array(seeds: Sequence[int]) -> np.ndarray:
    """``seeds`` as uint64, or a one-line ValueError: a seed must be an int in [0, 2**64)."""
    for seed in seeds:
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or not 0 <= seed < 2**64:
            raise ValueError(f"a seed must be an integer in [0, 2**64), got {seed!r}")
    return np.array(list(seeds), dtype=np.uint64)


def stream_keys(seeds: Sequence[int] | np.ndarray, episode: int) -> np.ndarray:
    """``[len(seeds), FEISTEL_ROUNDS + 2]`` uint64 keys of each stream's ``episode``-th episode."""
    seeds = np.asarray(seeds, dtype=np.uint64)
    base = mix64(seeds * _GAMMA + mix64(np.array([episode], dtype=np.uint64) + _GAMMA))
    return counter_hash(base[:, None], np.arange(_PURPOSES))


class CounterSampler:
    """The requests and feedback of streams keyed by ``keys`` (:func:`stream_keys`), at any step.

    Args:
        keys: ``[n, FEISTEL_ROUNDS + 2]``, one row per stream.
        pool: recording rows the streams draw from.
        replace: draw with replacement (else a keyed permutation of ``pool``, so T ≤ len(pool)).
        feedback_rate: probability that a step's quality is revealed.
    """

    def __init__(self, keys: np.ndarray, pool: np.ndarray, replace: bool, feedback_rate: float) -> None:
        self.keys = keys
        self.pool = pool
        self.replace = replace
        self.feedback_rate = feedback_rate
        size = len(pool)
        if size >= 2**32:
            raise ValueError(f"the counter sampler draws from pools below 2**32 requests, got {size}")
        # The Feistel domain: 2**bits >= size, below 2 × size from 33 requests on (under 2 walks
        # per step on average; a 2-request pool walks ~32 times); at least 2**MIN_BITS, as a
        # Feistel network on 1- or 2-bit halves is far from a random permutation (6 rounds on 10
        # requests: χ² of the first two positions 12 × its degrees of freedom; from 3-bit halves 1.0).
        bits = max(MIN_BITS, (size - 1).bit_length())
        self._widths = (bits - bits // 2, bits // 2)  # high half, low half
        self._round_keys = [np.ascontiguousarray(keys[:, r]) for r in range(FEISTEL_ROUNDS)]

    def rows(self, t: np.ndarray | int, streams: slice | np.ndarray = slice(None)) -> np.ndarray:
        """Recording rows played at step(s) ``t`` by ``streams``, broadcast: a step of every
        stream (``t`` an int), every step of one stream (``t`` ``[T]``, ``streams`` ``[1]``), or
        ``[T, n]`` (``t`` ``[T, 1]``)."""
        if self.replace:
            h = counter_hash(self.keys[streams, FEISTEL_ROUNDS], t)
            h >>= _S32
            h *= np.uint64(len(self.pool))
            h >>= _S32
            return self.pool[h]
        keys = [key[streams] for key in self._round_keys]
        shape = np.broadcast_shapes(keys[0].shape, np.shape(t))
        keys = [np.broadcast_to(key, shape).ravel() for key in keys]
        index = self._permute(np.broadcast_to(np.asarray(t, dtype=np.uint64), shape).ravel(), keys)
        size = np.uint64(len(self.pool))
        outside = np.flatnonzero(index >= size)
        while outside.size:  # cycle walking: a bijection of [0, 2**bits), followed back into [0, size)
            index[outside] = self._permute(index[outside], [key[outside] for key in keys])
            outside = outside[index[outside] >= size]
        return self.pool[index.reshape(shape)]

    def feedback(self, t: np.ndarray | int, streams: slice | np.ndarray = slice(None)) -> np.ndarray:
        """Whether step(s) ``t`` of ``streams`` reveal their quality (all True at rate 1)."""
        if self.feedback_rate >= 1.0:
            return np.ones(np.broadcast_shapes(self.keys[streams, 0].shape, np.shape(t)), dtype=bool)
        h = counter_hash(self.keys[streams, FEISTEL_ROUNDS + 1], t)
        return (h >> _S11).astype(np.float64) * 2.0**-53 < self.feedback_rate

    def _permute(self, index: np.ndarray, keys: list[np.ndarray]) -> np.ndarray:
        """The keyed Feistel bijection of ``[0, 2**bits)``: each round XORs one half with a hash of
        the other half and the round key, alternating halves."""
        high_bits, low_bits = self._widths
        low_mask = np.uint64((1 << low_bits) - 1)
        high, low = index >> np.uint64(low_bits), index & low_mask
        for r, key in enumerate(keys):
            if r % 2 == 0:
                round_hash = mix64(low ^ key)
                round_hash >>= np.uint64(64 - high_bits)
                high ^= round_hash
            elif low_bits:
                round_hash = mix64(high ^ key)
                round_hash >>= np.uint64(64 - low_bits)
                low ^= round_hash
        return (high << np.uint64(low_bits)) | low


class CounterEpisodes:
    """The seeds of ``n`` counter-sampled streams and the episode they are on: a reset with seeds
    starts episode 0 of those seeds; a reset without starts the next episode of the last seeds
    given (fresh entropy before any), as a Gymnasium env's generator moves on between episodes."""

    def __init__(self, n_streams: int) -> None:
        self.n_streams = n_streams
        self.seeds: np.ndarray | None = None
        self.episode = 0

    def sampler(
        self, seeds: Sequence[int] | None, pool: np.ndarray, replace: bool, feedback_rate: float
    ) -> CounterSampler:
        """The sampler of the episode this reset starts (``seeds``: one per stream, or None)."""
        if seeds is not None:
            self.seeds, self.episode = seed_array(seeds), 0
        elif self.seeds is None:
            self.seeds, self.episode = np.random.SeedSequence().generate_state(self.n_streams, np.uint64), 0
        else:
            self.episode += 1
        return CounterSampler(stream_keys(self.seeds, self.episode), pool, replace, feedback_rate)
