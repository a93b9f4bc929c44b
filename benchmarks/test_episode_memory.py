"""Memory and time per request of long MESS+ episodes: flat, so a 10⁷-request episode fits in 1 GiB.

Goal (issue 13): a 10⁷-request MESS+ episode (``replace=True``) within 1 GiB peak RSS, with the
time per request flat across the episode. A 10⁷-request run takes many minutes, so this measures
two shorter episodes, each in a fresh process (peak RSS is per process), and extrapolates:

- RSS growth per request: the RSS an episode adds (RSS with its result held, minus RSS after
  ``gym.make``), at ``LONG`` minus at ``SHORT``, over ``LONG − SHORT``. The peak of a
  10⁷-request episode is then the RSS after ``gym.make`` plus that growth for 10⁷ requests
  (or the setup's own peak, if higher), which holds because every per-request figure is a
  fixed-size slot of a preallocated array (Linux: reads ``/proc/self/statm``);
- time per request at ``LONG`` ÷ at ``SHORT`` (no O(T²) term: ≤ ``FLAT_GOAL``).

Both episodes run alternately, twice each, and the best of each is kept. Run with::

    pytest benchmarks/test_episode_memory.py --benchmark-enable

``MESSENV_BENCH_FULL_EPISODE=1`` also plays the whole 10⁷-request episode once, in a fresh process,
and holds its measured peak RSS to the goal (20-30 minutes on a shared core)::

    MESSENV_BENCH_FULL_EPISODE=1 pytest benchmarks/test_episode_memory.py --benchmark-enable -k full
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from benchmarks.conftest import enforce_goal

SHORT, LONG = 20_000, 200_000
TARGET = 10_000_000
RSS_GOAL_BYTES = 2**30
FLAT_GOAL = 1.5  # an O(T²) term would make it about 10; a loaded machine moved it 0.6-1.26

EPISODE = """
import json, os, sys, time
import gymnasium as gym
import messenv
from messenv.harness import run_episode
from messenv_agents.mess_plus import MessPlusAgent

def rss():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

n = int(sys.argv[1])
env = gym.make("messenv/MessEnv-v0", alpha=0.7, explore_action=True, replace=True, n_requests=n)
before = rss()
start = time.perf_counter()
result = run_episode(env, MessPlusAgent(), 0)
seconds = time.perf_counter() - start
assert result.n_requests == n
# VmHWM, not ru_maxrss: Linux carries the parent's peak into ru_maxrss across fork and exec.
with open("/proc/self/status") as status:
    peak = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
print(json.dumps({"seconds": seconds, "setup_rss": before, "episode_rss": rss() - before, "peak_rss": peak}))
"""


def episode(n_requests: int) -> dict[str, float]:
    """Seconds and peak RSS (bytes) of one MESS+ episode of ``n_requests`` in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", EPISODE, str(n_requests)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_long_episode_memory_and_time_per_request(benchmark) -> None:
    if benchmark.disabled:
        run = benchmark.pedantic(episode, args=(2_000,), rounds=1, iterations=1)
        assert run["peak_rss"] >= run["setup_rss"] > 0 and run["seconds"] > 0
        return
    runs = [benchmark.pedantic(episode, args=(SHORT,), rounds=1, iterations=1), episode(LONG)]
    runs += [episode(SHORT), episode(LONG)]
    short = {key: min(run[key] for run in runs[::2]) for key in runs[0]}
    long = {key: min(run[key] for run in runs[1::2]) for key in runs[0]}
    per_request = max(0.0, (long["episode_rss"] - short["episode_rss"]) / (LONG - SHORT))
    extrapolated = max(long["peak_rss"], long["setup_rss"] + per_request * TARGET)
    benchmark.extra_info.update(
        {
            "rss_bytes_per_request": per_request,
            "setup_rss_MiB": long["setup_rss"] / 2**20,
            "extrapolated_peak_rss_MiB_at_1e7": extrapolated / 2**20,
            "us_per_request_short": short["seconds"] / SHORT * 1e6,
            "us_per_request_long": long["seconds"] / LONG * 1e6,
        }
    )
    enforce_goal(benchmark, extrapolated / RSS_GOAL_BYTES, 1.0, "extrapolated peak RSS at 1e7 requests / 1 GiB")
    flat = (long["seconds"] / LONG) / (short["seconds"] / SHORT)
    enforce_goal(benchmark, flat, FLAT_GOAL, "time per request at 200k / at 20k")


FULL = os.environ.get("MESSENV_BENCH_FULL_EPISODE")


@pytest.mark.skipif(not FULL, reason="set MESSENV_BENCH_FULL_EPISODE=1 (20-30 min)")
def test_full_episode_peak_rss(benchmark) -> None:
    """The 10⁷-request episode itself: its measured peak RSS (VmHWM) within 1 GiB."""
    run = benchmark.pedantic(episode, args=(TARGET,), rounds=1, iterations=1)
    benchmark.extra_info.update(
        {"peak_rss_MiB": run["peak_rss"] / 2**20, "us_per_request": run["seconds"] / TARGET * 1e6}
    )
    enforce_goal(benchmark, run["peak_rss"] / RSS_GOAL_BYTES, 1.0, "peak RSS of the 1e7-request episode / 1 GiB")
