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

import gymnasium as gym
import numpy as np

import messenv  # noqa: F401  (registers messenv/MessEnv-v0)
from messenv.harness import run_episode
from messenv.recordings import load
from messenv.recordings.catalogue import DEFAULT_RECORDING
from messenv_agents.fixed import CheapestFirstAgent
from messenv_agents.mess_plus import MessPlusAgent

AGENTS = {"mess_plus": MessPlusAgent, "cheapest_first": CheapestFirstAgent}
MINILM_SHAPE = 384  # all-MiniLM-L6-v2's embedding width, what the paper configs feed MESS+


def dense_env(n_requests: int) -> gym.Env:
    """The default recording with dense, unit-norm 384-d features (MiniLM's shape, seeded)."""
    recording = load(DEFAULT_RECORDING)
    features = np.random.default_rng(0).normal(size=(recording.n_requests, MINILM_SHAPE)).astype(np.float32)
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    dense = recording.with_features(features, f"dense-{MINILM_SHAPE}-test")
    return gym.make("messenv/MessEnv-v0", recording=dense, alpha=0.7, explore_action=True, n_requests=n_requests)


def instrument(on: bool) -> None:
    """Switch callgrind's instrumentation of this process on or off."""
    subprocess.run(
        ["callgrind_control", "-i", "on" if on else "off", str(os.getpid())], check=True, capture_output=True
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.count_instructions", description=__doc__)
    parser.add_argument("agent", choices=sorted(AGENTS))
    parser.add_argument("n_requests", type=int)
    args = parser.parse_args()
    env, agent = dense_env(args.n_requests), AGENTS[args.agent]()
    instrument(True)
    result = run_episode(env, agent, 0)
    instrument(False)
    print(f"explored {float(result.explored.mean()):.4f}")


if __name__ == "__main__":
    main()
