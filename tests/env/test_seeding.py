"""seeded_generators: the very generators numpy builds from each seed, hashed together."""

from __future__ import annotations

import numpy as np
import pytest

from messenv.env.seeding import seed_sequence_words, seeded_generators

# Word-count edges of the hash (1 and 2 entropy words, uint64's top), and seeds numpy takes its own path for.
EDGE_SEEDS = [0, 1, 2, 2**31, 2**32 - 1, 2**32, 2**32 + 1, 2**48 + 12345, 2**63, 2**64 - 1, 2**64, 2**100, 10**40]


def numpy_generator(seed) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed))


def test_words_are_numpy_seed_sequence_states():
    rng = np.random.default_rng(0)
    seeds = np.r_[np.arange(300), rng.integers(0, 2**63, 300), rng.integers(2**32, 2**34, 100)].astype(np.uint64)
    expected = np.array([np.random.SeedSequence(int(s)).generate_state(4, np.uint64) for s in seeds])
    np.testing.assert_array_equal(seed_sequence_words(seeds), expected)


@pytest.mark.parametrize("seeds", [EDGE_SEEDS, range(1000, 1100), [np.int64(7), np.uint32(8), True]])
def test_generators_are_numpy_s_state_for_state_and_draw_for_draw(seeds):
    for seed, generator in zip(seeds, seeded_generators(seeds), strict=True):
        reference = numpy_generator(seed)
        assert generator.bit_generator.state == reference.bit_generator.state, seed
        np.testing.assert_array_equal(generator.integers(0, 13_000, 50), reference.integers(0, 13_000, 50))
        np.testing.assert_array_equal(generator.random(5), reference.random(5))
        np.testing.assert_array_equal(generator.permutation(40), reference.permutation(40))


@pytest.mark.parametrize(
    ("seed", "error", "message"),
    [(-1, ValueError, "non-negative"), (1.5, TypeError, "expects int"), ("3", TypeError, "expects int")],
)
def test_a_seed_numpy_refuses_is_refused_with_numpy_s_error(seed, error, message):
    with pytest.raises(error, match=message):
        seeded_generators([0, seed])


def test_the_precomputed_words_answer_only_what_pcg64_asks():
    generator = seeded_generators([5])[0]
    with pytest.raises(ValueError, match="uint64 words"):
        generator.bit_generator.seed_seq.generate_state(8, np.uint32)
