"""The board with scenario tracks: the static mix, undefined under a changing zoo, is shown as n/a;
drift and windowed-SLA tracks show like the others, their one stream named in the track table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from messenv.leaderboard.board import collect_board
from messenv.leaderboard.evaluate import evaluate_submission
from messenv.leaderboard.protocol import Protocol
from messenv.leaderboard.render import markdown, page
from messenv.leaderboard.schema import LeaderboardError, parse
from tests.leaderboard.conftest import (
    DRIFT_PHASES, DRIFT_RUN, DRIFT_WINDOWED, ZOO_CHANGE, protocol_dict, write_submission,
)


def test_the_static_mix_has_no_score_on_a_zoo_track_and_the_board_renders(tmp_path: Path, tiny_parquet: Path) -> None:
    stationary, zoo = protocol_dict()["tracks"]
    protocol = parse(Protocol, protocol_dict(tracks=[stationary, {**zoo, "name": "zoo", "scenario": ZOO_CHANGE}]), "p")
    submission = write_submission(tmp_path, "largest", "messenv_agents.fixed.LargestOnlyAgent")
    evaluate_submission(submission, protocol, show_progress=False)
    board = collect_board(tmp_path, protocol)
    oracle, static_mix = board.references
    assert set(oracle.tracks) == {"full", "zoo"} and set(static_mix.tracks) == {"full"}
    assert static_mix.overall.pass_rate == static_mix.tracks["full"].pass_rate
    text = markdown(board)
    static_line = next(line for line in text.splitlines() if line.startswith("| ref | *static-mix*"))
    assert static_line.endswith("| n/a |")
    assert '`{"zoo": {"joins": {"m2": 10}, "leaves": {"m0": 20}}}`' in text
    assert "<svg" in page(board) and "n/a" in page(board)


def test_drift_and_windowed_tracks_show_like_the_other_scenario_tracks(tmp_path: Path, tiny_parquet: Path) -> None:
    stationary = protocol_dict()["tracks"][0]
    drift_track = {key: value for key, value in stationary.items() if key != "alphas"} | DRIFT_RUN
    tracks = [stationary, {**drift_track, "name": "drift", "scenario": DRIFT_PHASES},
              {**drift_track, "name": "windowed", "scenario": DRIFT_WINDOWED}]
    protocol = parse(Protocol, protocol_dict(tracks=tracks), "p")
    submission = write_submission(tmp_path, "largest", "messenv_agents.fixed.LargestOnlyAgent")
    evaluate_submission(submission, protocol, show_progress=False)
    board = collect_board(tmp_path, protocol)
    (largest,) = board.entries
    assert largest.tracks["drift"].pass_rate == 1.0 and largest.tracks["windowed"].pass_rate == 0.5
    oracle, static_mix = board.references
    assert set(oracle.tracks) == set(static_mix.tracks) == {"full", "drift", "windowed"}
    lines = markdown(board).splitlines()
    assert lines[lines.index("## Tracks") + 2].startswith("| Track | Recording | Benchmarks, or drift stream (α) |")
    assert any(line.startswith("| windowed | tiny (private) | alpha-to-beta 0.7 | 0, 1 | 1 | `{\"drift\": ")
               and '"window": 8}` |' in line for line in lines)
    header = next(line for line in lines if line.startswith("| Rank |"))
    assert header.endswith("| full | drift | windowed |")
    assert "<th>drift</th><th>windowed</th>" in page(board)


def test_submissions_agree_on_references_within_verifys_tolerance_and_on_every_reference_field(
    tmp_path: Path, tiny_parquet: Path
) -> None:
    """An oracle energy 1e-12 apart (another machine's solver) still builds, as verify accepts it;
    a reference figure that differs otherwise (a static mix made infeasible in the alphabetically
    first results.json, whose figures the reference rows show) is refused, naming the field."""
    protocol = parse(Protocol, protocol_dict(), "p")
    first = write_submission(tmp_path, "aaa", "messenv_agents.fixed.LargestOnlyAgent")
    second = write_submission(tmp_path, "bbb", "messenv_agents.fixed.CheapestFirstAgent")
    for submission in (first, second):
        evaluate_submission(submission, protocol, show_progress=False)
    data = json.loads(first.results_path.read_text(encoding="utf-8"))
    for run in data["runs"]:
        run["oracle_energy_j"] *= 1 + 1e-12
    first.results_path.write_text(json.dumps(data), encoding="utf-8")
    assert len(collect_board(tmp_path, protocol).entries) == 2
    data["runs"][0]["static_mix_feasible"] = not data["runs"][0]["static_mix_feasible"]
    first.results_path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(LeaderboardError, match="submissions disagree on static_mix_feasible; verify them"):
        collect_board(tmp_path, protocol)


def test_a_run_at_zero_joules_is_accepted_and_left_out_of_the_plotted_mean(tmp_path: Path, tiny_parquet: Path) -> None:
    """A zoo of one's own may hold a model measured at 0 J: such a run is honest, but has no
    logarithm, so the plotted geometric mean over finished runs takes the others."""
    protocol = parse(Protocol, protocol_dict(), "p")
    submission = write_submission(tmp_path, "cheap", "messenv_agents.fixed.CheapestFirstAgent")
    evaluate_submission(submission, protocol, show_progress=False)
    data = json.loads(submission.results_path.read_text(encoding="utf-8"))
    failed = next(run for run in data["runs"] if run["status"] == "ok" and not run["sla_met"])
    failed.update(total_energy_j=0.0, energy_ratio=0.0)
    submission.results_path.write_text(json.dumps(data), encoding="utf-8")
    (entry,) = collect_board(tmp_path, protocol).entries
    assert entry.all_runs_ratio is not None and entry.all_runs_ratio > 0
