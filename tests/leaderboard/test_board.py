"""The board with a scenario track: the static mix, undefined under a changing zoo, is shown as n/a."""

from __future__ import annotations

from pathlib import Path

from messenv.leaderboard.board import collect_board
from messenv.leaderboard.evaluate import evaluate_submission
from messenv.leaderboard.protocol import Protocol
from messenv.leaderboard.render import markdown, page
from messenv.leaderboard.schema import parse
from tests.leaderboard.conftest import ZOO_CHANGE, protocol_dict, write_submission


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
