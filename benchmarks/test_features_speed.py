"""Cost of the first ``gym.make`` on a recording (prompt features computed), against reading it.

Goal (issue 13): the first ``gym.make`` on a recording whose features are not cached yet, features
included, costs at most ``GOAL`` times reading the recording from parquet. The hand-written Python
n-gram loop this replaced cost about 25x; scikit-learn's ``HashingVectorizer`` on word n-grams,
computed in chunks into a memory-mapped cache file, is what meets it. Both sides are timed in the
same run on the bundled synthetic zoo (13k requests). Run with::

    pytest benchmarks/test_features_speed.py --benchmark-enable
"""

from __future__ import annotations

import shutil
from pathlib import Path

import gymnasium as gym
import pytest

import messenv  # noqa: F401  (registers messenv/MessEnv-v0)
from benchmarks.conftest import enforce_goal, peer_seconds
from messenv.recordings.store import read_recording, write_recording
from messenv.recordings.synthetic import make_synthetic_zoo

GOAL = 10.0


def test_first_make_vs_parquet_read(benchmark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cached = write_recording(make_synthetic_zoo(), tmp_path / "zoo.parquet")
    home = tmp_path / "home"
    monkeypatch.setenv("MESSENV_HOME", str(home))

    def without_features_cache() -> tuple[tuple, dict]:
        shutil.rmtree(home, ignore_errors=True)
        return (), {}

    def first_make() -> gym.Env:
        return gym.make("messenv/MessEnv-v0", recording=str(cached), alpha=0.7)

    env = benchmark.pedantic(first_make, setup=without_features_cache, rounds=5, iterations=1)
    assert env.unwrapped.recording.features.shape == (env.unwrapped.recording.n_requests, 256)
    if benchmark.disabled:
        return
    parquet = peer_seconds(lambda: read_recording(cached), number=3)
    enforce_goal(benchmark, benchmark.stats.stats.min / parquet, GOAL, "first_make / parquet_read")
