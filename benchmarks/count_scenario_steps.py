"""Count the instructions of single-env steps under each scenario and without one, in one process.

Run under ``valgrind --tool=callgrind --instr-atstart=no``: the envs are built and play
``WARM_UP`` steps uninstrumented (a changing zoo builds each zoo state's outcome lists on its first
step in it, once per episode: the timed benchmark's warm-up rounds leave it out too), then for each
env callgrind's counters are zeroed, its next ``n_steps`` steps run instrumented, and the
count is dumped under the env's label (``callgrind_control -d <label>``: one file per dump beside
the output file, whose ``totals:`` line is that env's count). Used by
``benchmarks/test_scenario_instructions.py``::

    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=OUT python -m benchmarks.count_scenario_steps 2000
"""

from __future__ import annotations

import argparse

from benchmarks.conftest import SCENARIOS, single_env
from benchmarks.count_instructions import callgrind_control, instrument
from messenv.recordings import load
from messenv.recordings.catalogue import DEFAULT_RECORDING

STATIONARY = "stationary"
WARM_UP = 100  # steps before counting: past every zoo change of SCENARIOS (steps 10 and 20)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.count_scenario_steps", description=__doc__)
    parser.add_argument("n_steps", type=int)
    args = parser.parse_args()
    recording = load(DEFAULT_RECORDING)
    names = [None, *SCENARIOS]
    envs = {name or STATIONARY: single_env(recording, name, WARM_UP + args.n_steps) for name in names}
    for label, env in envs.items():
        for _ in range(WARM_UP):
            env.step(1)
        callgrind_control("-z")
        instrument(True)
        for _ in range(args.n_steps):
            env.step(1)
        instrument(False)
        callgrind_control("-d", label)


if __name__ == "__main__":
    main()
