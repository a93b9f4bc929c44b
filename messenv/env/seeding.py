"""Many numpy generators at once, each the very ``np.random.Generator(np.random.PCG64(seed))``.

A vector env keeps one PCG64 per sub-env so that sub-env ``i`` reset with seed ``s`` replays the
single env seeded ``s + i`` (what ``gymnasium.utils.seeding.np_random(s + i)`` builds). Built one
by one, each generator spends most of its ~8 µs in ``SeedSequence(seed)``: the hash of the seed
into the four 64-bit words PCG64 starts from. Here that hash runs once over all the seeds as numpy
uint32 arithmetic (a few ms for 65,536 seeds), and each PCG64 is built from its precomputed words
(0.7 µs): PCG64 accepts any ``ISeedSequence`` and asks it for ``generate_state(4, np.uint64)`` only.

The hash is numpy's ``SeedSequence`` (``numpy/random/bit_generator.pyx``: M. E. O'Neill's
``seed_seq_fe`` from randutils, https://www.pcg-random.org/posts/developing-a-seed_seq-alternative.html)
with numpy's constants, a pool of 4 words and no spawn key. A seed below 2**64 is at most 2 entropy
words, fewer than the pool, so the pool words beyond them are hashed from 0 exactly as
``SeedSequence`` pads them, and one formula serves every such seed. Larger seeds (and anything
that is not a non-negative int) take numpy's own path, with its errors.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.random.bit_generator import ISeedSequence

# numpy's SeedSequence constants (bit_generator.pyx).
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_MULT_L, _MIX_MULT_R = 0xCA01F9DD, 0x4973F715
_XSHIFT = np.uint64(16)
_POOL_SIZE = 4
_LOW32 = np.uint64(0xFFFFFFFF)


class _HashedSeed(ISeedSequence):
    """The state words ``SeedSequence(seed).generate_state(4, np.uint64)`` of one seed, computed
    beforehand: all that PCG64 asks of its seed sequence."""

    __slots__ = ("words",)

    def __init__(self, words: np.ndarray) -> None:
        self.words = words

    def generate_state(self, n_words: int, dtype: type = np.uint32) -> np.ndarray:
        if n_words != len(self.words) or np.dtype(dtype) != np.uint64:
            raise ValueError(f"holds {len(self.words)} uint64 words, asked for {n_words} {np.dtype(dtype)}")
        return self.words


class _Hash:
    """``hashmix`` of SeedSequence over arrays of uint32 values (held in uint64), with its running
    multiplier: each call advances it, as the scalar version does once per word."""

    def __init__(self, init: int) -> None:
        self.const = init

    def __call__(self, value: np.ndarray) -> np.ndarray:
        value = (value ^ np.uint64(self.const)) & _LOW32
        self.const = (self.const * _MULT_A) & 0xFFFFFFFF
        value = (value * np.uint64(self.const)) & _LOW32
        return value ^ (value >> _XSHIFT)


def _mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    result = (np.uint64(_MIX_MULT_L) * x - np.uint64(_MIX_MULT_R) * y) & _LOW32
    return result ^ (result >> _XSHIFT)


def seed_sequence_words(seeds: np.ndarray) -> np.ndarray:
    """``[len(seeds), 4]`` uint64: row ``i`` is ``SeedSequence(seeds[i]).generate_state(4, np.uint64)``
    for uint64 ``seeds`` (see the module doc)."""
    seeds = np.asarray(seeds, dtype=np.uint64)
    entropy = [seeds & _LOW32, seeds >> np.uint64(32)]  # little-endian 32-bit words; 0 pads the pool
    hashmix = _Hash(_INIT_A)
    pool = [hashmix(entropy[i] if i < len(entropy) else np.zeros_like(seeds)) for i in range(_POOL_SIZE)]
    for source in range(_POOL_SIZE):
        for target in range(_POOL_SIZE):
            if source != target:
                pool[target] = _mix(pool[target], hashmix(pool[source]))
    const = _INIT_B
    words32 = []
    for i in range(2 * _POOL_SIZE):  # four 64-bit words, as eight 32-bit ones
        value = pool[i % _POOL_SIZE] ^ np.uint64(const)
        const = (const * _MULT_B) & 0xFFFFFFFF
        value = (value * np.uint64(const)) & _LOW32
        words32.append(value ^ (value >> _XSHIFT))
    return np.stack(words32[0::2], axis=1) | (np.stack(words32[1::2], axis=1) << np.uint64(32))


def seeded_generators(seeds: Sequence[int]) -> list[np.random.Generator]:
    """``[np.random.Generator(np.random.PCG64(s)) for s in seeds]``, the same generators, built fast.

    Raises:
        ValueError, TypeError: a seed numpy's SeedSequence refuses (negative, not an int), with its message.
    """
    seeds = list(seeds)
    if all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and 0 <= s < 2**64 for s in seeds):
        words = seed_sequence_words(np.array(seeds, dtype=np.uint64))
        return [np.random.Generator(np.random.PCG64(_HashedSeed(row))) for row in words]
    return [np.random.Generator(np.random.PCG64(s)) for s in seeds]
