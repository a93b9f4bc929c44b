"""The README's scenario tables: grouping by scenario, pass rate over every constraint, worst violations."""

from __future__ import annotations

import pytest

from messenv.results import ResultRow
from messenv.scenario_table import main, passed, scenario_tables


def row(
    label, seed, ratio, sla_met=True, constraints_met=None, latency_violation=None, scenario="latency_slo", window=None
):
    return ResultRow(
        label=label, kind="oracle" if label == "oracle" else "baseline", params={}, recording="tiny",
        benchmarks=None, alpha=0.6, seed=seed, n_requests=100, total_energy_j=ratio, mean_quality=0.6,
        sla_met=sla_met, sla_violation=0.0 if sla_met else 0.05, energy_ratio=ratio, model_share={},
        scenario=scenario, constraints_met=constraints_met, latency_violation=latency_violation,
        worst_window_quality=window,
    )  # fmt: skip


def test_pass_needs_every_constraint():
    assert passed(row("a", 0, 1.0, sla_met=True, constraints_met=None))
    assert not passed(row("a", 0, 1.0, sla_met=True, constraints_met=False, latency_violation=0.2))


def test_one_table_per_scenario_with_pass_rate_and_worst_violations():
    rows = [
        row("ucb1", 0, 2.0, constraints_met=True, latency_violation=0.0),
        row("ucb1", 1, 4.0, constraints_met=False, latency_violation=0.25),
        row("oracle", 0, 1.0, constraints_met=True, latency_violation=0.0),
        row("ucb1", 0, 3.0, sla_met=False, scenario="delayed_feedback"),
    ]
    text = scenario_tables(rows)
    delayed, latency = text.split("**latency_slo**")  # "none" first, then by name
    assert delayed.startswith("**delayed_feedback**")
    assert "| ucb1 | 3.00 ± 1.41 | 50% | 0.000 | 0.250 |" in latency
    assert "| oracle | 1.00 | 100% | 0.000 | 0.000 |" in latency
    assert "| ucb1 | 3.00 | 0% | 0.050 |" in delayed and "latency violation" not in delayed


def test_an_empty_directory_is_an_error_naming_it(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main([str(tmp_path)])
    assert f"no results.json under {tmp_path}" in capsys.readouterr().err


def test_a_windowed_scenario_shows_the_worst_window_over_seeds():
    rows = [row("ucb1", s, 2.0, constraints_met=s == 0, scenario="drift", window=w) for s, w in ((0, 0.7), (1, 0.55))]
    text = scenario_tables(rows)
    assert (
        "| agent | energy × oracle | pass rate | worst SLA violation | worst window quality |\n|---|---|---|---|---|"
        in text
    )
    assert "| ucb1 | 2.00 ± 0.00 | 50% | 0.000 | 0.550 |" in text
