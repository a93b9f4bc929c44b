"""Each scenario's single-env step against the stationary step, in instructions (issue 12: ≤ 1.5×).

``benchmarks/count_scenario_steps.py`` steps every scenario's env and the stationary one in one
process under ``valgrind --tool=callgrind``, with the instrumentation on for each env's steps only
and one dump per env; the ratio of counts cannot move with the machine's load, unlike the timed
ratio of ``benchmarks/test_env_speed.py``, which records it. Run with::

    pytest benchmarks/test_scenario_instructions.py --benchmark-enable

Skipped where valgrind is not installed, and with timing disabled (the test suite's default).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchmarks.conftest import SCENARIO_GOAL, SCENARIOS, enforce_goal, needs_valgrind, run_under_callgrind
from benchmarks.count_scenario_steps import STATIONARY

N_STEPS = 2000


def step_instructions(n_steps: int, out_dir: Path) -> dict[str, int]:
    """Instructions of ``n_steps`` steps of each env, by label (``stationary`` and each scenario)."""
    run_under_callgrind(out_dir / "scenario_steps.out", "benchmarks.count_scenario_steps", str(n_steps))
    counts = {}
    for dump in out_dir.glob("scenario_steps.out.*"):
        text = dump.read_text()
        label = re.search(r"^desc: Trigger: dump (\S+)$", text, re.MULTILINE)
        totals = re.search(r"^totals: (\d+)$", text, re.MULTILINE)
        assert label and totals, f"{dump} has no dump label or totals"
        counts[label.group(1)] = int(totals.group(1))
    assert set(counts) == {STATIONARY, *SCENARIOS}, sorted(counts)
    return counts


@pytest.fixture(scope="module")
def counts(tmp_path_factory) -> dict[str, int]:
    return step_instructions(N_STEPS, tmp_path_factory.mktemp("callgrind"))


@needs_valgrind
@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_step_instructions_vs_stationary(benchmark, name, request) -> None:
    if benchmark.disabled:
        pytest.skip("counts instructions only with --benchmark-enable (one run under valgrind)")
    counted = benchmark.pedantic(lambda: request.getfixturevalue("counts"), rounds=1, iterations=1)
    benchmark.extra_info["stationary_instructions_per_step"] = counted[STATIONARY] / N_STEPS
    enforce_goal(benchmark, counted[name] / counted[STATIONARY], SCENARIO_GOAL, f"{name}_step / stationary_step")
