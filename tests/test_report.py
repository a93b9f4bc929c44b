"""Report aggregation: rows grouped by task and agent configuration, mean ± std over seeds."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from messenv.report import Stat, aggregate, main, markdown_table, varying_parameters
from messenv.results import (
    RESULTS_FILE,
    ResultRow,
    RunResults,
    read_rows,
    write_results,
)


def make_row(
    label="mess_plus", kind="agent", seed=0, alpha=0.7, energy=1000.0, quality=0.72, params=None, benchmarks=("b",)
):
    """A result row with the given outcome (other fields consistent with it)."""
    return ResultRow(
        label=label,
        kind=kind,
        params=dict(params or {}),
        recording="tiny",
        benchmarks=None if benchmarks is None else list(benchmarks),
        alpha=alpha,
        seed=seed,
        n_requests=10,
        total_energy_j=energy,
        mean_quality=quality,
        sla_met=quality >= alpha,
        sla_violation=max(0.0, alpha - quality),
        energy_ratio=energy / 500.0,
        model_share={"s": 0.25, "l": 0.75},
        exploration_share=0.1,
        exploration_energy_j=5.0,
        wall_s=0.1,
    )


def test_stat_is_mean_and_sample_std_ignoring_nan():
    stat = Stat.of([1.0, 2.0, 4.0, float("nan")])
    assert stat.n == 3
    assert stat.mean == pytest.approx(7 / 3)
    assert stat.std == pytest.approx(np.std([1.0, 2.0, 4.0], ddof=1))
    assert Stat.of([3.0]).format() == "3.000"
    assert Stat.of([]).format() == "-"


def test_groups_split_by_task_and_parameters_and_average_over_seeds():
    rows = [
        make_row(seed=0, energy=1000, quality=0.66, params={"c": 0.1}),
        make_row(seed=1, energy=3000, quality=0.78, params={"c": 0.1}),
        make_row(seed=0, energy=500, quality=0.60, params={"c": 1.0}),
        make_row(seed=0, energy=800, quality=0.80, params={"c": 0.1}, alpha=0.8),
        make_row(label="oracle", kind="oracle", seed=0, energy=400, quality=0.7),
    ]
    groups = aggregate(rows)
    first = groups[0]
    assert (first.task.alpha, first.label, first.params, first.seeds) == (0.7, "mess_plus", {"c": 0.1}, (0, 1))
    assert first.energy_kj.mean == pytest.approx(2.0)
    assert first.energy_kj.std == pytest.approx(math.sqrt(2.0))
    assert first.quality.mean == pytest.approx(0.72)
    assert first.sla_met == 1  # 0.78 meets α = 0.7, 0.66 does not
    assert first.violation.mean == pytest.approx(0.02)
    assert [g.label for g in groups] == ["mess_plus", "mess_plus", "oracle", "mess_plus"]
    assert varying_parameters(groups) == {"mess_plus": ["c"]}


def test_report_cli_aggregates_a_sweep_dir(tmp_path, capsys):
    for seed, energy in ((0, 1000.0), (1, 2000.0)):
        results = RunResults(
            config={"seed": seed}, recording={"name": "tiny"}, rows=[make_row(seed=seed, energy=energy)]
        )
        write_results(tmp_path / str(seed), results)
    assert main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "2 results file(s)" in out and "1.5 ± 0.7" in out
    report = json.loads((tmp_path / "report.json").read_text())
    assert report[0]["seeds"] == [0, 1]
    assert report[0]["energy_kj"]["mean"] == pytest.approx(1.5)
    assert (tmp_path / "pareto.png").read_bytes()[:4] == b"\x89PNG"


def test_report_cli_errors_are_one_line(tmp_path, capsys):
    assert main([str(tmp_path / "missing")]) == 2
    assert main([str(tmp_path)]) == 2
    (tmp_path / RESULTS_FILE).write_text("{not json")
    assert main([str(tmp_path)]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3 and all(line.startswith("messenv.report: error:") for line in errors)
    assert str(tmp_path / RESULTS_FILE) in errors[2]


def test_results_round_trip_through_json(tmp_path):
    rows = [make_row(seed=1), make_row(label="oracle", kind="oracle", benchmarks=None)]
    path = write_results(tmp_path, RunResults(config={}, recording={"name": "tiny"}, rows=rows))
    assert read_rows(path) == rows


def test_a_row_repeated_with_the_same_seed_counts_once_and_tasks_split_on_feedback():
    # A sweep over agents replays the same baseline on the same stream in every job.
    rows = [
        make_row(label="cheapest_first", kind="baseline", seed=s, energy=e)
        for s, e in ((0, 10.0), (0, 10.0), (1, 30.0))
    ]
    rows.append(replace(make_row(label="cheapest_first", kind="baseline", seed=0), feedback_rate=0.5))
    by_feedback = {group.task.feedback_rate: group for group in aggregate(rows)}
    full, sparse = by_feedback[1.0], by_feedback[0.5]
    assert full.seeds == (0, 1) and full.energy_kj.mean == pytest.approx(0.02)
    assert sparse.seeds == (0,)
    assert "feedback 0.5" in sparse.task.title()


def test_an_agent_that_is_another_jobs_baseline_is_one_group():
    # ``-m agent=mess_plus,ucb1``: ucb1 is a baseline in mess_plus's job and the agent in its own,
    # playing the same stream with the same seed, so it must be one row of the table, not two.
    rows = [
        make_row(label="mess_plus", kind="agent", seed=0),
        make_row(label="ucb1", kind="baseline", seed=0, energy=800.0),
        make_row(label="ucb1", kind="agent", seed=0, energy=800.0),
        make_row(label="ucb1", kind="agent", seed=1, energy=900.0),
        make_row(label="ucb1", kind="baseline", seed=1, energy=900.0),
    ]
    groups = aggregate(rows)
    assert [(g.label, g.kind, g.seeds) for g in groups] == [("mess_plus", "agent", (0,)), ("ucb1", "agent", (0, 1))]


def test_markdown_table_is_agents_by_tasks_with_ratio_quality_and_seeds_met(tmp_path, capsys):
    rows = [
        make_row(seed=0, energy=1000, quality=0.72, benchmarks=("b1",)),
        make_row(seed=1, energy=2000, quality=0.68, benchmarks=("b1",)),
        make_row(seed=0, energy=500, quality=0.9, benchmarks=("b2",), alpha=0.8),
        make_row(label="oracle", kind="oracle", energy=500, quality=0.7, benchmarks=("b1",)),
    ]
    lines = markdown_table(aggregate(rows)).splitlines()
    assert lines[0] == "| agent | b1 (α 0.7) | b2 (α 0.8) |"
    assert lines[2] == "| mess_plus | 3.00× · 0.700 · 1/2 | 1.00× · 0.900 · 1/1 |"
    assert lines[3] == "| oracle | 1.00× · 0.700 · 1/1 | - |"
    write_results(tmp_path, RunResults(config={}, recording={"name": "tiny"}, rows=rows))
    assert main([str(tmp_path), "--markdown", "--no-plot"]) == 0
    assert capsys.readouterr().out.splitlines() == lines


def test_a_run_that_missed_alpha_never_reads_as_met_in_any_table(tmp_path, capsys):
    """0.69959 against α = 0.7 rounds to 0.700 with a 0.000 violation: the runner's table (print_tables),
    the report's and its Markdown show it below α and its violation as non-zero instead; a reference met
    up to its LP's tolerance, and a mean over seeds at α up to float noise, keep their rounding."""
    from rich.console import Console

    from messenv.report import print_tables

    rows = [
        make_row(label="near_miss", quality=0.69959),
        # Met within the LP's tolerance: a reference row's sla_met is its LP's feasibility.
        replace(make_row(label="oracle", kind="oracle", quality=0.7 - 1e-12), sla_met=True, sla_violation=1e-12),
        make_row(label="two_seeds", seed=0, quality=0.7 - 1e-12),  # missed α by float noise ...
        make_row(label="two_seeds", seed=1, quality=0.7 + 5e-13),  # ... and their mean is 2.5e-13 below it
        make_row(label="far_miss", quality=0.65),
    ]
    groups = {group.label: group for group in aggregate(rows)}
    near = groups["near_miss"]
    assert (near.quality_text(), near.violation_text(), near.sla_met) == ("0.699", "<0.001", 0)
    assert (groups["oracle"].quality_text(), groups["oracle"].violation_text()) == ("0.700", "0.000")
    assert groups["two_seeds"].quality_mean_text() == "0.700"
    assert (groups["far_miss"].quality_text(), groups["far_miss"].violation_text()) == ("0.650", "0.050")
    console = Console(record=True, width=200)
    print_tables(list(groups.values()), console)
    table = console.export_text()
    near_line = next(line for line in table.splitlines() if "near_miss" in line)
    assert "0.699" in near_line and "<0.001" in near_line and "0.700" not in near_line
    markdown = markdown_table(aggregate(rows))
    assert "| near_miss | 2.00× · 0.699 · 0/1 |" in markdown
    write_results(tmp_path, RunResults(config={}, recording={"name": "tiny"}, rows=rows))
    assert main([str(tmp_path), "--no-plot"]) == 0
    report_line = next(line for line in capsys.readouterr().out.splitlines() if "near_miss" in line)
    assert "0.699" in report_line and "<0.001" in report_line


def test_a_violation_rounds_to_more_than_zero_and_a_spread_stays_beside_it():
    rows = [make_row(label="a", seed=0, quality=0.6996), make_row(label="a", seed=1, quality=0.6998)]
    (group,) = aggregate(rows)
    assert group.quality_text() == "0.699 ± 0.000"
    assert group.violation_text() == "<0.001 ± 0.000"


def test_markdown_column_of_a_task_without_benchmarks_is_its_title_once():
    rows = [make_row(benchmarks=None, alpha=0.65)]
    header = markdown_table(aggregate(rows)).splitlines()[0]
    assert header == f"| agent | {aggregate(rows)[0].task.title()} |"
    assert header.count("0.65") == 1


def test_synthetic_recordings_are_read_from_the_results_files(tmp_path):
    from messenv.report import synthetic_recordings

    for name, synthetic in (("a", True), ("b", False)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps({"recording": {"name": name, "synthetic": synthetic}}))
    assert synthetic_recordings(sorted(tmp_path.rglob("results.json"))) == {"a"}
