"""Cost of the contextual safe mix per request (act + update), against LinUCB's and the safe mix's in the same run.

The contextual safe mix is the safe mix (Thompson draws, the LP, the budget) plus a ridge
regression per model, whose inverse it updates by a rank-one BLAS update, O(D²), for each revealed
quality, as LinUCB does; LinUCB also multiplies every model's inverse by the context on each
decision, the contextual safe mix only dots two weight vectors with it (it keeps ``θ`` by the
recursive least-squares update). Timed as whole episodes (:func:`messenv.harness.run_episode`) on
the default recording with its 256 hashed features and with dense 384-d ones (MiniLM's shape),
alternating, each agent's own cost being its episode minus ``cheapest_first``'s.

Goal: its own cost per request ≤ ``GOAL`` × (LinUCB's + the safe mix's): the regression costs no
more than LinUCB's. Measured 2026-11-30 on the busy 2-core development machine, four runs:
0.76–0.95 with hashed features (131–140 µs against 89–117 + 54–58 µs) and 0.52–0.55 with dense
ones (179–200 µs against 296–316 + 31–59 µs). Before the recursive update (a fresh outer
product and a full ``A⁻¹b`` product per revealed quality, multi-threaded BLAS), a 3,270-request
boolq episode with MiniLM features took 1.1 ms per request, env included, against 0.21 ms after.
Run with::

    pytest benchmarks/test_safe_mix_contextual_speed.py --benchmark-enable
"""

from __future__ import annotations

import pytest

from benchmarks.conftest import enforce_goal
from benchmarks.test_agents_speed import N_REQUESTS, dense_env, env, own_seconds_per_request  # noqa: F401  (fixtures)
from messenv.harness import run_episode
from messenv_agents.linucb import LinUCBAgent
from messenv_agents.safe_mix import SafeMixAgent
from messenv_agents.safe_mix_contextual import SafeMixContextualAgent

GOAL = 1.0
AGENTS = {"contextual": SafeMixContextualAgent, "linucb": LinUCBAgent, "safe_mix": SafeMixAgent}


@pytest.mark.parametrize("features", ["hashed", "dense-384"])
def test_contextual_cost_per_request_vs_linucb_and_safe_mix(benchmark, features, request):
    stream = request.getfixturevalue("env" if features == "hashed" else "dense_env")
    if benchmark.disabled:  # a plain test run: one episode, to check that it plays
        episode = benchmark.pedantic(run_episode, args=(stream, SafeMixContextualAgent(), 0), rounds=1, iterations=1)
        assert episode.n_requests == N_REQUESTS
        return
    own = benchmark.pedantic(own_seconds_per_request, args=(stream, AGENTS, 7), rounds=1, iterations=1)
    benchmark.extra_info.update({f"{name}_us_per_request": seconds * 1e6 for name, seconds in own.items()})
    ratio = own["contextual"] / (own["linucb"] + own["safe_mix"])
    enforce_goal(benchmark, ratio, GOAL, "safe_mix_contextual act+update / (linucb + safe_mix act+update)")
