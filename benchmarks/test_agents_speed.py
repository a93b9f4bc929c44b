"""Cost of MESS+ and of the safe mix per request (act + update), against the env step in the same run.

MESS+ must not be the bottleneck of a benchmark run: its decision and its online learning should
cost about as much as a handful of env steps. Both are timed as whole episodes through
:func:`messenv.harness.run_episode` on the default recording (256 hashed n-gram features):

- peer: an episode of ``cheapest_first`` (env step + harness + a trivial agent) per request;
- MESS+ (and ``safe_mix``): an episode of the agent; its own cost per request is the difference.

Goal: MESS+'s own cost per request ≤ ``GOAL`` × the peer's, i.e. the 50 µs budget per request
set for MESS+ over the 5.0 µs per request the peer took on the idle 2-core development machine
(measured 2026-11-23: MESS+ 31 µs, peer 5.0 µs; ``extra_info`` reports both in µs). The safe mix
has the same budget. Run with::

    pytest benchmarks/test_agents_speed.py --benchmark-enable
"""

from __future__ import annotations

import gymnasium as gym
import pytest

import messenv  # noqa: F401  (registers messenv/MessEnv-v0)
from benchmarks.conftest import enforce_goal, peer_seconds
from messenv.harness import run_episode
from messenv.recordings import load
from messenv.recordings.catalogue import DEFAULT_RECORDING
from messenv_agents.fixed import CheapestFirstAgent
from messenv_agents.mess_plus import MessPlusAgent
from messenv_agents.safe_mix import SafeMixAgent

N_REQUESTS = 4000
GOAL = 10.0


@pytest.fixture(scope="module")
def env():
    return gym.make("messenv/MessEnv-v0", recording=load(DEFAULT_RECORDING), alpha=0.7, explore_action=True, n_requests=N_REQUESTS)


def timed_agent(benchmark, env, agent) -> tuple[object, float, float] | None:
    """Time episodes of ``agent`` and of the peer; ``(result, own, peer)`` seconds per request,
    ``own`` = the agent's act + update alone, or ``None`` when timing is off."""
    result = benchmark.pedantic(run_episode, args=(env, agent, 0), rounds=5, iterations=1)
    assert result.n_requests == N_REQUESTS
    if benchmark.disabled:
        return None
    peer = peer_seconds(lambda: run_episode(env, CheapestFirstAgent(), 0), number=1, repeat=5) / N_REQUESTS
    return result, benchmark.stats.stats.min / N_REQUESTS - peer, peer


def test_mess_plus_cost_per_request(benchmark, env):
    timed = timed_agent(benchmark, env, MessPlusAgent())
    if timed is None:
        return
    result, own, peer = timed
    benchmark.extra_info.update(
        {
            "mess_plus_us_per_request": own * 1e6,
            "peer_us_per_request": peer * 1e6,
            "exploration_share": float(result.explored.mean()),
        }
    )
    enforce_goal(benchmark, own / peer, GOAL, "mess_plus act+update / (env step + harness)")


def test_safe_mix_cost_per_request(benchmark, env):
    """The safe mix's own cost per request (Beta draws, the closed-form LP, the recovery check):
    the same ≤ 50 µs budget, as a ratio to the env step in the same run."""
    timed = timed_agent(benchmark, env, SafeMixAgent())
    if timed is None:
        return
    _, own, peer = timed
    benchmark.extra_info.update({"safe_mix_us_per_request": own * 1e6, "peer_us_per_request": peer * 1e6})
    enforce_goal(benchmark, own / peer, GOAL, "safe_mix act+update / (env step + harness)")
