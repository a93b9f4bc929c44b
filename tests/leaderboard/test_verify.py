"""verify: honest results pass; every kind of tampering is rejected with a reason."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from messenv.leaderboard.__main__ import main
from messenv.harness import stream_outcomes
from messenv.leaderboard.evaluate import evaluate_submission, open_tracks
from messenv.leaderboard.protocol import Protocol
from messenv.leaderboard.board import collect_board
from messenv.leaderboard.evaluate import HARNESS_VERSION
from messenv.leaderboard.records import RESULTS_FORMAT, Results, RunRecord, audit, read_results, scores, write_results
from messenv.leaderboard.render import markdown
from messenv.leaderboard.schema import MAX_DESCRIBED_ERRORS, LeaderboardError
from messenv.leaderboard.sandbox import bwrap_path
from messenv.leaderboard.submission import LoadedSubmission, load_submission
from messenv.leaderboard.verify import verify_submission
from messenv.oracle import hindsight_oracle
from tests.conftest import REPO_ROOT
from tests.leaderboard.conftest import (
    DRIFT_RUN, DRIFT_WINDOWED, LATENCY_SLO, PARSER_BOMB, scenario_protocol, write_submission,
)

EVERY_RUN = 1000
UNSANDBOXED = bwrap_path() is None
"""Where bubblewrap is missing, results are marked ``sandbox: none``: these tests then accept them."""
LOCAL = ["--allow-unsandboxed"] if UNSANDBOXED else []


@pytest.fixture
def evaluated(tmp_path: Path, tiny_protocol: Protocol) -> LoadedSubmission:
    """An evaluated UCB1 submission on the tiny protocol."""
    submission = write_submission(tmp_path, "ucb", "messenv_agents.ucb.UCB1Agent")
    evaluate_submission(submission, tiny_protocol, show_progress=False)
    return submission


def rewrite_consistently(
    submission: LoadedSubmission, protocol: Protocol, change: Callable[[RunRecord], dict], index: int = 0
) -> None:
    """Edit run ``index`` as a careful forger would: derived figures and scores recomputed to match."""
    results = read_results(submission.results_path)
    runs = list(results.runs)
    run = runs[index].model_copy(update=change(runs[index]))
    runs[index] = run.model_copy(update={"energy_ratio": run.total_energy_j / run.oracle_energy_j,
                                     "sla_met": run.mean_quality >= run.alpha})
    tracks, overall = scores(runs, protocol)
    write_results(submission.results_path, results.model_copy(update={"runs": runs, "tracks": tracks, "overall": overall}))


def edit_json(submission: LoadedSubmission, change: Callable[[dict], None]) -> None:
    data = json.loads(submission.results_path.read_text())
    change(data)
    submission.results_path.write_text(json.dumps(data))


def verify(submission: LoadedSubmission, protocol: Protocol, **options: object):
    return verify_submission(submission, protocol, allow_unsandboxed=UNSANDBOXED, **options)


def reasons(submission: LoadedSubmission, protocol: Protocol) -> str:
    return "\n".join(verify(submission, protocol, sample=EVERY_RUN, seed=0).reasons)


def test_honest_results_pass_and_every_run_is_replayed(evaluated: LoadedSubmission, tiny_protocol: Protocol) -> None:
    verdict = verify(evaluated, tiny_protocol, sample=EVERY_RUN, seed=0)
    assert verdict.ok, verdict.reasons
    assert len(verdict.replayed) == len(tiny_protocol.runs())
    sampled = verify(evaluated, tiny_protocol, seed=1)
    assert sampled.ok and len(sampled.replayed) == tiny_protocol.verify_runs


def test_forged_energy_is_caught_by_the_replay(evaluated: LoadedSubmission, tiny_protocol: Protocol) -> None:
    rewrite_consistently(evaluated, tiny_protocol, lambda run: {"total_energy_j": run.total_energy_j * 0.9})
    assert "total_energy_j is" in reasons(evaluated, tiny_protocol) and "when recomputed" in reasons(evaluated, tiny_protocol)


def test_forged_sla_pass_is_caught_by_the_replay(evaluated: LoadedSubmission, tiny_protocol: Protocol) -> None:
    rewrite_consistently(evaluated, tiny_protocol, lambda run: {"mean_quality": min(1.0, run.alpha + 0.1)})
    assert "mean_quality is" in reasons(evaluated, tiny_protocol)


def test_forged_oracle_is_caught_by_re_solving(evaluated: LoadedSubmission, tiny_protocol: Protocol) -> None:
    rewrite_consistently(evaluated, tiny_protocol, lambda run: {"oracle_energy_j": run.oracle_energy_j * 1.5})
    verdict = verify(evaluated, tiny_protocol, sample=0, seed=0)  # no replay needed to catch it
    assert any("oracle_energy_j is" in reason and "when re-solved" in reason for reason in verdict.reasons)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["runs"][0].update(energy_ratio=0.5), "energy_ratio 0.5 != total_energy_j / oracle_energy_j"),
        (lambda d: d["runs"][0].update(sla_met=not d["runs"][0]["sla_met"]), "sla_met"),
        (lambda d: d["tracks"]["full"].update(pass_rate=1.0), "track 'full': stored score"),
        (lambda d: d["overall"].update(energy_ratio=1.01), "overall score"),
        (lambda d: d["runs"].pop(), "the runs are not the protocol's: missing"),
        (lambda d: d["runs"][0].update(total_energy_j="cheap"), "runs.0.total_energy_j"),
        (lambda d: d["runs"][0].update(bonus=1), "runs.0.bonus: Extra inputs are not permitted"),
        (lambda d: d.update(harness_version="0.0.1"), "harness version '0.0.1' is not the current"),
        (lambda d: d.update(protocol_sha256="0" * 64), "protocol_sha256 does not match"),
        (lambda d: d["recordings"]["full"].update(fingerprint="a" * 64), "recording sha256 aaaaaaaaaaaa"),
        (lambda d: d["runs"][0].update(status="error", error=None), "needs an error"),
        (lambda d: d["runs"][0].update(stream_sha256="0" * 64), "stream_sha256 is '0000"),
        (lambda d: d["runs"].reverse(), "the runs are not in the protocol's order: run 0 is sparse/beta_bench/seed 1"),
        (lambda d: d["recordings"]["full"].update(name="other"), "track 'full': recording ('other'"),
        (lambda d: d["recordings"]["full"].update(source_sha256="0" * 64), "is not the current recording's"),
        (lambda d: d["recordings"]["full"].update(private=False), "is not the current recording's"),
        (lambda d: d["runs"][0].update(total_energy_j=-1.0, energy_ratio=-1.0 / d["runs"][0]["oracle_energy_j"]),
         "total_energy_j: Input should be greater than or equal to 0"),
    ],
    ids=["ratio", "sla", "track", "overall", "missing-run", "type", "extra-field", "harness", "protocol",
         "recording", "status", "stream", "order", "recording-name", "recording-source", "recording-private",
         "negative-energy"],
)
def test_tampered_json_is_rejected_with_a_reason(
    evaluated: LoadedSubmission, tiny_protocol: Protocol, change: Callable[[dict], None], expected: str
) -> None:
    edit_json(evaluated, change)
    assert expected in reasons(evaluated, tiny_protocol)


def test_results_of_another_submission_yaml_are_rejected(evaluated: LoadedSubmission, tiny_protocol: Protocol) -> None:
    path = evaluated.directory / "submission.yaml"
    path.write_text(path.read_text().replace("params: {}", "params: {eta: 0.5}"))
    assert "different submission.yaml" in reasons(load_submission(evaluated.directory), tiny_protocol)


def test_cli_exit_status_and_reasons(
    evaluated: LoadedSubmission, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--root", str(tmp_path), "--protocol", str(tmp_path / "protocol.yaml"), "verify", "--all", *LOCAL]
    assert main(args) == 0
    assert "OK ucb: re-played 8 run(s)" in capsys.readouterr().out
    edit_json(evaluated, lambda d: d["runs"][0].update(energy_ratio=0.5))
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "REJECTED ucb:" in out and "energy_ratio 0.5 !=" in out


def test_results_round_trip_through_the_schema(evaluated: LoadedSubmission) -> None:
    results = read_results(evaluated.results_path)
    assert Results.model_validate_json(results.to_json()) == results


def test_a_passing_run_below_the_oracle_is_impossible(
    evaluated: LoadedSubmission, tiny_protocol: Protocol, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rejected by the audit alone, with no data: ``build`` refuses it too."""
    passing = next(i for i, run in enumerate(read_results(evaluated.results_path).runs) if run.sla_met)

    def halve(data: dict) -> None:
        run = data["runs"][passing]
        run["total_energy_j"] = run["oracle_energy_j"] / 2
        run["energy_ratio"] = 0.5
    edit_json(evaluated, halve)
    verdict = verify(evaluated, tiny_protocol, sample=0, seed=0)
    assert any("below the hindsight oracle's" in reason and "impossible" in reason for reason in verdict.reasons)
    assert main(["--root", str(tmp_path), "--protocol", str(tmp_path / "protocol.yaml"), "build"]) == 2
    assert "refusing to build" in capsys.readouterr().err and not (tmp_path / "README.md").exists()


def test_the_best_run_is_always_replayed(evaluated: LoadedSubmission, tiny_protocol: Protocol) -> None:
    """A forger improves the run that sets the score; a one-run sample catches it whatever its seed."""
    runs = read_results(evaluated.results_path).runs
    best = min((run for run in runs if run.sla_met), key=lambda run: run.energy_ratio)
    index = runs.index(best)
    results = read_results(evaluated.results_path)
    forged = list(results.runs)
    cheaper = best.oracle_energy_j + 0.5 * (best.total_energy_j - best.oracle_energy_j)
    forged[index] = best.model_copy(update={"total_energy_j": cheaper, "energy_ratio": cheaper / best.oracle_energy_j})
    tracks, overall = scores(forged, tiny_protocol)
    forged_results = results.model_copy(update={"runs": forged, "tracks": tracks, "overall": overall})
    write_results(evaluated.results_path, forged_results)
    for seed in range(5):
        verdict = verify(evaluated, tiny_protocol, sample=1, seed=seed)
        assert verdict.replayed == [str(best.key)]
        assert any("total_energy_j is" in reason for reason in verdict.reasons)


def test_unsandboxed_results_do_not_verify_for_the_board(evaluated: LoadedSubmission, tiny_protocol: Protocol) -> None:
    edit_json(evaluated, lambda d: d.update(sandbox="none"))
    verdict = verify_submission(evaluated, tiny_protocol, sample=0, seed=0)
    assert any("evaluated without the sandbox (sandbox: none)" in reason for reason in verdict.reasons)


def largest_only_evaluated(tmp_path: Path, protocol: Protocol) -> tuple[LoadedSubmission, Protocol]:
    """A largest-only submission evaluated on ``protocol``, with the protocol."""
    submission = write_submission(tmp_path, "largest", "messenv_agents.fixed.LargestOnlyAgent")
    evaluate_submission(submission, protocol, show_progress=False)
    return submission, protocol


@pytest.fixture
def latency_run(tmp_path: Path, tiny_parquet: Path) -> tuple[LoadedSubmission, Protocol]:
    """Largest-only evaluated on a latency-SLO track: every run meets α and misses the SLO."""
    return largest_only_evaluated(tmp_path, scenario_protocol(LATENCY_SLO))


def test_a_forged_pass_below_the_scenario_oracle_is_rejected_by_the_audit(
    latency_run: tuple[LoadedSubmission, Protocol],
) -> None:
    """The forger claims the SLO met at an energy the stationary oracle would allow but the
    latency-constrained oracle rules out: the audit compares with the scenario's oracle."""
    submission, protocol = latency_run
    run = read_results(submission.results_path).runs[0]
    (context,) = open_tracks(protocol)
    references = context.references(run.key)  # resets the env to run 0's stream
    quality, energy_j = stream_outcomes(context.env(run.benchmark))
    stationary = hindsight_oracle(quality, energy_j, run.alpha).energy_j
    assert run.oracle_energy_j == references.oracle_energy_j > 1.2 * stationary
    forged = (stationary + run.oracle_energy_j) / 2
    rewrite_consistently(submission, protocol, lambda run: {
        "total_energy_j": forged, "latency_cost": 0.3, "constraints_met": True})
    reasons = verify(submission, protocol, sample=0, seed=0).reasons
    assert any("below the hindsight oracle's" in reason and "impossible" in reason for reason in reasons), reasons


def test_a_forged_constraint_outcome_is_rejected_by_the_audit(latency_run: tuple[LoadedSubmission, Protocol]) -> None:
    submission, protocol = latency_run
    rewrite_consistently(submission, protocol, lambda run: {"constraints_met": True})
    reasons = "\n".join(verify(submission, protocol, sample=0, seed=0).reasons)
    assert "constraints_met True contradicts sla_met True and latency_cost" in reasons


@pytest.fixture
def windowed_run(tmp_path: Path, tiny_parquet: Path) -> tuple[LoadedSubmission, Protocol]:
    """Largest-only evaluated on a windowed-SLA drift track: run 0 meets every window, run 1 only the
    whole-stream SLA (worst window 0.5 < α 0.7; see DRIFT_RUN)."""
    return largest_only_evaluated(tmp_path, scenario_protocol(DRIFT_WINDOWED, "windowed", **DRIFT_RUN))


def test_honest_windowed_results_verify_with_every_run_replayed(
    windowed_run: tuple[LoadedSubmission, Protocol],
) -> None:
    submission, protocol = windowed_run
    verdict = verify(submission, protocol, sample=EVERY_RUN, seed=0)
    assert verdict.ok, verdict.reasons
    assert len(verdict.replayed) == 2


def test_a_forged_windowed_pass_is_caught_by_the_replay(windowed_run: tuple[LoadedSubmission, Protocol]) -> None:
    """Consistent on paper (the audit cannot tell): only re-playing the run shows its last window missed α."""
    submission, protocol = windowed_run
    rewrite_consistently(submission, protocol, lambda run: {"worst_window_quality": 0.75, "constraints_met": True}, 1)
    assert read_results(submission.results_path).tracks["windowed"].pass_rate == 1.0
    assert verify(submission, protocol, sample=0, seed=0).ok
    text = reasons(submission, protocol)
    assert "windowed/alpha-to-beta/seed 1: worst_window_quality is 0.75 in results.json but 0.5 when recomputed" in text
    assert "windowed/alpha-to-beta/seed 1: constraints_met is True in results.json but False when recomputed" in text


@pytest.mark.parametrize(
    ("index", "change", "message"),
    [
        (1, {"constraints_met": True},
         "constraints_met True contradicts sla_met True and worst_window_quality 0.5 vs alpha 0.7"),
        (0, {"worst_window_quality": 0.95},
         "worst_window_quality 0.95 is above the stream's mean quality 0.875, which is impossible"),
        (0, {"worst_window_quality": None}, "worst_window_quality is needed on a track with a windowed SLA"),
        (0, {"window": 9}, "window 9 is not the protocol's 8"),
    ],
)
def test_a_forged_windowed_outcome_is_rejected_by_the_audit(
    windowed_run: tuple[LoadedSubmission, Protocol], index: int, change: dict, message: str
) -> None:
    submission, protocol = windowed_run
    rewrite_consistently(submission, protocol, lambda run: change, index)
    assert f"windowed/alpha-to-beta/seed {index}: {message}" in "\n".join(
        verify(submission, protocol, sample=0, seed=0).reasons
    )


def test_many_duplicated_runs_are_rejected_in_linear_time(evaluated: LoadedSubmission, tiny_protocol: Protocol) -> None:
    """20,000 copies of one run: the audit counted each key with list.count, O(n²) (about 400
    million comparisons here, minutes); a Counter makes it one pass."""
    results = read_results(evaluated.results_path)
    flooded = results.model_copy(update={"runs": [results.runs[0]] * 20_000})
    problems = audit(flooded, tiny_protocol, HARNESS_VERSION)
    assert problems == [
        f"the runs are not the protocol's: missing {[str(k) for k in tiny_protocol.runs()[1:6]]}, unexpected [], "
        f"duplicated {[str(results.runs[0].key)]}"
    ]


def test_a_huge_invalid_results_json_is_described_in_a_few_lines(tmp_path: Path) -> None:
    """A 16 MiB file of invalid runs printed 79 MB of errors (attack2-dos2): the first problems and a count."""
    path = tmp_path / "results.json"
    run = dict.fromkeys(RunRecord.model_fields, [])
    path.write_text(json.dumps({**dict.fromkeys(Results.model_fields, None), "runs": [run] * 2_000}), encoding="utf-8")
    with pytest.raises(LeaderboardError) as error:
        read_results(path)
    lines = str(error.value).splitlines()
    assert len(lines) == MAX_DESCRIBED_ERRORS + 1 and lines[-1].endswith("more problems"), lines[-1]
    path.write_text(json.dumps({"format": RESULTS_FORMAT, "runs": [run] * 2_000}), encoding="utf-8")
    with pytest.raises(LeaderboardError, match=r"\(top level\): missing fields \['submission', "):
        read_results(path)


def test_one_bad_submission_does_not_stop_verify_for_the_others(
    evaluated: LoadedSubmission, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An agent source that breaks Python's parser (attack2-pocs/bomb) is one rejected submission."""
    bomb = write_submission(tmp_path, "aaa-bomb", "bomb_agent.Agent", code=PARSER_BOMB)
    (bomb.directory / "results.json").write_bytes(evaluated.results_path.read_bytes())
    edit_json(bomb, lambda d: d["submission"].update(name="aaa-bomb", sha256=bomb.sha256))
    args = ["--root", str(tmp_path), "--protocol", str(tmp_path / "protocol.yaml"), "verify", "--sample", "1", *LOCAL]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "REJECTED aaa-bomb:" in out and "bomb_agent.py: nested too deeply or too large" in out
    assert "OK ucb: re-played 1 run(s)" in out


def test_an_edited_recording_name_is_rejected_and_escaped_on_the_board(
    evaluated: LoadedSubmission, tiny_protocol: Protocol, tmp_path: Path
) -> None:
    """The recording identity in results.json is what build shows and compares across submissions:
    editing it made build fail for everyone (attack2-dos) and its name was rendered unescaped."""
    name = "tiny <img src=x> | forged |"
    edit_json(evaluated, lambda d: [recording.update(name=name) for recording in d["recordings"].values()])
    assert f"track 'full': recording ({name!r}" in reasons(evaluated, tiny_protocol)
    board = collect_board(tmp_path, tiny_protocol)
    assert r"| tiny \<img src=x\> \| forged \| (private) |" in markdown(board)


def test_results_of_another_protocol_are_named_as_such_before_any_recording_is_needed(
    evaluated: LoadedSubmission, capsys: pytest.CaptureFixture[str]
) -> None:
    """Results made with a copy of the protocol (a one-track check), verified against the board's
    protocol, whose recordings this MESSENV_HOME does not hold: the reason is the protocol, not a
    recording missing from the cache (newcomer audit)."""
    board_protocol = str(REPO_ROOT / "leaderboard" / "protocol.yaml")
    assert main(["--protocol", board_protocol, "verify", *LOCAL, str(evaluated.directory)]) == 1
    captured = capsys.readouterr()
    assert "protocol_sha256 does not match the current protocol.yaml: re-evaluate" in captured.out
    assert "not cached" not in captured.out + captured.err
