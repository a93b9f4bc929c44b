"""messenv.env.counter_streams: keyed permutations, their statistics, episodes, and the envs' sampler option."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from messenv.env import MessEnv
from messenv.env.counter_streams import CounterEpisodes, CounterSampler, stream_keys
from messenv.env.vector import MessVectorEnv

DRIFT = {"drift": {"phases": [
    {"benchmarks": "alpha_bench", "n_requests": 5},
    {"benchmarks": "beta_bench", "n_requests": 5},
]}}


@pytest.mark.parametrize("size", [1, 2, 3, 63, 64, 65, 601])
def test_without_replacement_every_stream_is_a_permutation_of_the_pool(size):
    pool = np.arange(size) * 7 + 3
    sampler = CounterSampler(stream_keys(np.arange(20), 0), pool, False, 1.0)
    for stream in range(20):
        rows = sampler.rows(np.arange(size), np.array([stream]))
        assert sorted(rows.tolist()) == pool.tolist()
    table = sampler.rows(np.arange(size)[:, None])  # [T, n]: every step of every stream at once
    assert table.shape == (size, 20) and all(sorted(column) == pool.tolist() for column in table.T.tolist())
    np.testing.assert_array_equal(table[size - 1], sampler.rows(size - 1))


@pytest.mark.parametrize("size", [10, 37, 600])
def test_positions_and_pairs_are_uniform_across_seeds(size):
    """The first request is uniform over the pool, and the first two are a uniform ordered pair of
    distinct requests (χ² goodness of fit over 60,000 seeds; 600 requests in 12 equal buckets).
    Feistel networks on 1- or 2-bit halves fail the pair test, hence the 6-bit smallest domain."""
    n = 60_000
    sampler = CounterSampler(stream_keys(np.arange(n), 0), np.arange(size), False, 1.0)
    first, second = sampler.rows(0), sampler.rows(1)
    assert stats.chisquare(np.bincount(first, minlength=size)).pvalue > 1e-4
    cells = size if size < 100 else 12
    first, second = first * cells // size, second * cells // size
    pairs = np.bincount(first * cells + second, minlength=cells * cells).reshape(cells, cells)
    distinct = pairs[~np.eye(cells, dtype=bool)]  # same-bucket pairs are rarer: (size/cells - 1) of size - 1
    assert stats.chisquare(distinct).pvalue > 1e-4


def test_with_replacement_and_feedback_draws_have_their_rates():
    n, size = 100_000, 601
    sampler = CounterSampler(stream_keys(np.arange(n), 3), np.arange(size) + 10, True, 0.1)
    rows = sampler.rows(5)
    assert rows.min() >= 10 and rows.max() < size + 10
    assert stats.chisquare(np.bincount(rows - 10, minlength=size)).pvalue > 1e-4
    revealed = sampler.feedback(5).mean()
    assert abs(revealed - 0.1) < 4 * np.sqrt(0.1 * 0.9 / n)
    assert CounterSampler(stream_keys([0], 0), np.arange(5), True, 1.0).feedback(np.arange(9)).all()


def test_seeds_and_episodes_key_the_streams():
    pool = np.arange(500)
    episodes = CounterEpisodes(2)
    first = episodes.sampler([4, 5], pool, False, 1.0).rows(np.arange(50)[:, None])
    second = episodes.sampler(None, pool, False, 1.0).rows(np.arange(50)[:, None])  # the next episode
    again = CounterEpisodes(2).sampler([4, 5], pool, False, 1.0).rows(np.arange(50)[:, None])
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, second) and not np.array_equal(first[:, 0], first[:, 1])
    fresh = CounterEpisodes(1)
    assert not np.array_equal(fresh.sampler(None, pool, False, 1.0).rows(np.arange(50)), first[:, 0])


def test_a_single_env_replays_its_seed_and_moves_on_without_one(tiny_recording):
    env = MessEnv(recording=tiny_recording, sampler="counter")
    env.reset(seed=3)
    first = env.stream_rows.copy()
    assert sorted(first.tolist()) == list(range(tiny_recording.n_requests))
    env.reset()
    assert not np.array_equal(env.stream_rows, first)
    env.reset(seed=3)
    np.testing.assert_array_equal(env.stream_rows, first)
    env.reset()
    second = env.stream_rows.copy()
    env.reset(seed=3)
    with pytest.raises(Exception, match="Seed must be a python integer"):  # gymnasium's refusal
        env.reset(seed=np.int64(5))
    with pytest.raises(ValueError, match="a seed must be an integer"):
        env.reset(seed=2**64)
    env.reset()  # a refused reset changed nothing: the next episode of seed 3
    np.testing.assert_array_equal(env.stream_rows, second)
    default = MessEnv(recording=tiny_recording)
    default.reset(seed=3)
    assert not np.array_equal(default.stream_rows, first)  # another sampler, other streams


def test_the_vector_env_holds_no_stream_and_computes_stream_rows_on_demand(tiny_recording):
    envs = MessVectorEnv(6, recording=tiny_recording, sampler="counter", n_requests=9, replace=True)
    envs.reset(seed=0)
    rows = envs.stream_rows
    assert rows.shape == (9, 6) and not rows.flags.writeable and envs._rows.size == 0 and not envs._rngs
    for t in range(9):
        obs, *_ = envs.step(np.zeros(6, dtype=np.int64))
        if t < 8:
            np.testing.assert_array_equal(obs["benchmark"], tiny_recording.benchmark_index[rows[t + 1]])


def test_bad_sampler_scenario_or_seed_is_refused_in_one_line(tiny_recording):
    with pytest.raises(ValueError, match=r"sampler must be one of \['pcg64', 'counter'\], got 'philox'"):
        MessEnv(recording=tiny_recording, sampler="philox")
    with pytest.raises(ValueError, match="immediate feedback .*, got a scenario with drift"):
        MessVectorEnv(2, recording=tiny_recording, sampler="counter", scenario=DRIFT)
    envs = MessVectorEnv(2, recording=tiny_recording, sampler="counter", n_requests=5)
    envs.reset(seed=1)
    before = envs.stream_rows.copy()
    with pytest.raises(ValueError, match="immediate feedback .*, got a scenario with delay"):
        envs.reset(seed=2, options={"scenario": {"delay": {"steps": 2}}})
    with pytest.raises(ValueError, match=r"a seed must be an integer in \[0, 2\*\*64\), got -1"):
        envs.reset(seed=[-1, 2])
    with pytest.raises(ValueError, match=r"gives sub-env 1 the seed 18446744073709551616, beyond"):
        envs.reset(seed=2**64 - 1)
    np.testing.assert_array_equal(envs.stream_rows, before)  # refused resets change nothing
