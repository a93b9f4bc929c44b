"""Cost of the first ``gym.make`` on a recording (prompt features computed), against reading it.

Goal (issue 13): the first ``gym.make`` on a recording whose features are not cached yet, features
included, costs at most 10x reading the recording from parquet. Both sides are timed alternately in
the same run on a synthetic zoo of ``N_PER_BENCHMARK`` × 9 requests (scikit-learn is imported
before timing), best of ``REPEAT`` rounds. Run with::

    pytest benchmarks/test_features_speed.py --benchmark-enable

The hand-written Python n-gram loop cost about 25x, and scikit-learn's ``HashingVectorizer``, which
analyses and hashes each prompt in Python, 12.9-22.4x. Computing the same features bit for bit a
chunk at a time (:mod:`messenv.recordings.hashed_words`) measured 4.2-9.8x, median 7.2, in 14 runs
on 2 cores shared with other jobs (load average 3.1-4.5, 2026-11-30): the issue's 10x was met in
every run, but with 2 % to spare at load 4, so ``GOAL`` is a guard at 12 that it meets reliably.

The features (computing them, writing and fsyncing the 92 MB cache) are about half of the first
make: 0.36-0.64 s of 0.71-1.08 s in nine makes timed piece by piece (load 3.4-3.7). The rest is
reading the parquet (0.11-0.17 s), building the prompt ``Text`` space (0.10-0.15 s: a join and a
set of every character, ``prompt_space`` in ``messenv/env/mess_env.py``), the recording's
fingerprint (0.03-0.06 s), re-validating the recording in ``with_features`` (0.03-0.06 s), and
deleting the previous call's cache. On 820,008 requests (``make_synthetic_zoo(n_per_benchmark=
91_112)`` written to parquet; each side timed twice, each time in a fresh process, load 2.7-3.3)
the first make took 7.7-11.6 s against 2.6-4.0 s to read the parquet, with a peak RSS of
877-984 MiB.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import gymnasium as gym
import pytest

import messenv  # noqa: F401  (registers messenv/MessEnv-v0)
from benchmarks.conftest import enforce_goal, interleaved_seconds
from messenv.recordings.store import read_recording, write_recording
from messenv.recordings.synthetic import make_synthetic_zoo

GOAL = 12.0  # the goal is 10: see the module docstring
REPEAT = 5
N_PER_BENCHMARK = 10_000  # 90k requests; 50 per benchmark when timing is off


def test_first_make_vs_parquet_read(benchmark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    zoo = make_synthetic_zoo(n_per_benchmark=50 if benchmark.disabled else N_PER_BENCHMARK)
    cached = write_recording(zoo, tmp_path / "zoo.parquet")
    home = tmp_path / "home"
    monkeypatch.setenv("MESSENV_HOME", str(home))

    def first_make() -> gym.Env:
        shutil.rmtree(home, ignore_errors=True)
        return gym.make("messenv/MessEnv-v0", recording=str(cached), alpha=0.7)

    env = benchmark.pedantic(first_make, rounds=1, iterations=1)
    assert env.unwrapped.recording.features.shape == (zoo.n_requests, 256)
    if benchmark.disabled:
        return
    best = interleaved_seconds({"make": first_make, "parquet": lambda: read_recording(cached)}, repeat=REPEAT)
    benchmark.extra_info.update(first_make_s=best["make"], parquet_read_s=best["parquet"])
    enforce_goal(benchmark, best["make"] / best["parquet"], GOAL, "first_make / parquet_read")
