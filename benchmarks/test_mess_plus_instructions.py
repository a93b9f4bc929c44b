"""MESS+'s own cost per request with 384-d features, in instructions, against the env + harness step.

Goal (issue 13): MESS+'s act + update with MiniLM-shaped (384-d) features costs at most ``GOAL``
× the env step + harness per request, counted in instructions rather than timed, so that the
machine's load cannot move it. Both episodes (4,000 requests, the explore action on, seed 0) are
played by ``benchmarks/count_instructions.py`` under ``valgrind --tool=callgrind`` with the
instrumentation on for the episode only: the peer plays ``cheapest_first`` (env step + harness + a
trivial agent), MESS+'s own cost is its episode's count less the peer's. Run with::

    pytest benchmarks/test_mess_plus_instructions.py --benchmark-enable

Skipped where valgrind is not installed, and with timing disabled (the test suite's default):
even uninstrumented, the interpreter's start and imports under valgrind take about 20 s a run.

Measured (2026-11-30, valgrind 3.19, numpy 2.4's OpenBLAS 0.3.31 run with its Haswell kernels
under valgrind, one BLAS thread per episode): the peer 228.3 M instructions (57 k per request),
MESS+ 2,109.7 M, so MESS+'s own cost is **8.24 ×** the env + harness step (8.84 × before its
exploit pass was fused and its mini-batch backward moved into preallocated buffers, 2,249.1 M;
11.4 × before the harness held one BLAS thread for the whole episode). Every action, queue value
and predictor weight is bit-identical to before (``leaderboard verify --all`` re-plays all 240
committed mess-plus and mess-plus-reference runs).

The issue's goal, 6 ×, is **not met**, and numpy calls cannot meet it: ``callgrind_annotate``
puts 1,090 M of MESS+'s 1,881 M own instructions (4.8 × the peer on their own) in arithmetic
whose every call must stay as it is for the results to keep their bits. On the 8 % of requests
it explores, the predictor's training products (``sgemm_kernel`` 491 M, packing 132 M), the
zeroing of each 384 × 384 weight gradient that a BLAS product with β = 0 does first (``memset``
222 M: valgrind counts each byte of its ``rep stosb`` as an instruction) and the dropout masks'
random numbers (68 M); on every decision the 384 × 384 matrix-vector product (``sgemv`` 175 M).
Another ~125 M is numpy's element loops (a third of it the momentum step over the head's 148 k
parameters). What is left for everything else, the numpy dispatch of an exploit decision's 17
calls (~100 k instructions a decision), the explored requests' ~80 calls, and the agent's Python,
is ~665 M, where 6 × would leave 155 M: that takes the per-request maths in compiled code (with
numpy's and OpenBLAS's summation orders, for the same bits). ``GOAL`` guards what is reached.

Measured again later that day (this benchmark, on 592a35e and on 5eabdc8 alike): the peer
206.8 M (51.7 k per request), MESS+ 2,090.8 M, so **9.11 ×**. MESS+'s own count is unchanged
(1,884 M against 1,881 M); the peer got 9 % cheaper in between (which of that day's changes did
it, among them cached recordings loading from a numpy copy, was not measured), and with a cheaper
peer the same MESS+ is a larger multiple of it. The guard moved from 9 to 9.5 for that reason alone.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchmarks.conftest import enforce_goal, needs_valgrind, run_under_callgrind

GOAL = 9.5  # guard; issue 13 asks 6 (not met: 9.11 against a cheaper peer, see the docstring)
N_REQUESTS = 4000


def episode_instructions(agent: str, n_requests: int, out_dir: Path) -> int:
    """Instructions callgrind counted while ``agent`` played one episode of ``n_requests``."""
    stderr = run_under_callgrind(out_dir / f"{agent}.out", "benchmarks.count_instructions", agent, str(n_requests))
    collected = re.findall(r"Collected : (\d+)", stderr)
    assert collected, f"callgrind printed no count:\n{stderr[-2000:]}"
    return int(collected[-1])


@needs_valgrind
def test_mess_plus_instructions_per_request_vs_env_step(benchmark, tmp_path: Path) -> None:
    if benchmark.disabled:
        pytest.skip("counts instructions only with --benchmark-enable (two runs under valgrind)")
    n_requests = N_REQUESTS
    counts: dict[str, int] = {}

    def count_both() -> None:
        counts.update(
            {agent: episode_instructions(agent, n_requests, tmp_path) for agent in ("cheapest_first", "mess_plus")}
        )

    benchmark.pedantic(count_both, rounds=1, iterations=1)
    peer, mess_plus = counts["cheapest_first"], counts["mess_plus"]
    assert mess_plus > peer > 0
    benchmark.extra_info.update(
        {
            "peer_instructions_per_request": peer / n_requests,
            "mess_plus_instructions_per_request": mess_plus / n_requests,
        }
    )
    enforce_goal(benchmark, (mess_plus - peer) / peer, GOAL, "mess_plus own instructions / (env step + harness)")
