"""Play one episode with callgrind's instrumentation on for that episode only.

Run under ``valgrind --tool=callgrind --instr-atstart=no``: the interpreter start, the imports and
the env's construction run uninstrumented (fast), then this process asks ``callgrind_control`` to
instrument it, plays the episode, and turns instrumentation off again, so callgrind's
"Collected" count is the episode's instructions (plus a constant for the two toggles, under 1 %
of a 4,000-request episode). Used by ``benchmarks/test_mess_plus_instructions.py``::

    valgrind --tool=callgrind --instr-atstart=no python -m benchmarks.count_instructions mess_plus 4000
"""

from __future__ import annotations

import argparse
import os
import subprocess

from benchmarks.conftest import dense_minilm_env
from messenv.harness import run_episode
from messenv_agents.fixed import CheapestFirstAgent
from messenv_agents.mess_plus import MessPlusAgent

AGENTS = {"mess_plus": MessPlusAgent, "cheapest_first": CheapestFirstAgent}


def callgrind_control(*arguments: str) -> None:
    """Run ``callgrind_control <arguments>`` on this process (``-i on``, ``-z``, ``-d label``...)."""
    subprocess.run(["callgrind_control", *arguments, str(os.getpid())], check=True, capture_output=True)


def instrument(on: bool) -> None:
    """Switch callgrind's instrumentation of this process on or off."""
    callgrind_control("-i", "on" if on else "off")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.count_instructions", description=__doc__)
    parser.add_argument("agent", choices=sorted(AGENTS))
    parser.add_argument("n_requests", type=int)
    args = parser.parse_args()
    env, agent = dense_minilm_env(args.n_requests), AGENTS[args.agent]()
    instrument(True)
    result = run_episode(env, agent, 0)
    instrument(False)
    print(f"explored {float(result.explored.mean()):.4f}")


if __name__ == "__main__":
    main()
