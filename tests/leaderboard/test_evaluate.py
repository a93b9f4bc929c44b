"""evaluate: every run is played and recorded; crashes and timeouts fail their run only."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from messenv.harness import stream_outcomes
from messenv.leaderboard.__main__ import main
from messenv.leaderboard.evaluate import HARNESS_VERSION, evaluate_submission, open_tracks, withholds_failure_text
from messenv.leaderboard.protocol import Protocol
from messenv.leaderboard.records import RESULTS_FORMAT, audit, read_results, same_figures
from messenv.leaderboard import sandbox
from messenv.leaderboard.sandbox import bwrap_path
from messenv.oracle import hindsight_oracle
from tests.conftest import REPO_ROOT
from tests.leaderboard.conftest import (
    DRIFT_PHASES, DRIFT_RUN, DRIFT_WINDOWED, LATENCY_SLO, ZOO_CHANGE, logged_reason, scenario_protocol,
    write_submission,
)

RAISES_ON_SEED_1 = """
    from messenv_agents.base import BaseAgent

    class RaisesOnSeed1(BaseAgent):
        name = "raises"

        def reset(self, spec, seed):
            super().reset(spec, seed)
            self.seed = seed

        def act(self, obs):
            if self.seed == 1 and int(obs["step"]) == 3:
                raise ZeroDivisionError("boom at step 3")
            return self.n_models - 1
"""

SLOW_ON_SPARSE = """
    import time
    from messenv_agents.base import BaseAgent

    class SlowOnSparse(BaseAgent):
        name = "slow"

        def act(self, obs):
            if self.spec.feedback_rate < 1.0:
                while True:          # never returns: only the time limit ends it
                    time.sleep(0.01)
            return self.n_models - 1
"""

RAISES_IN_RESET = """
    from messenv_agents.base import BaseAgent

    class RaisesInReset(BaseAgent):
        name = "raises_in_reset"

        def reset(self, spec, seed):
            raise RuntimeError("no reset for you")

        def act(self, obs):
            return 0
"""

INVALID_ACTION = """
    from messenv_agents.base import BaseAgent

    class Invalid(BaseAgent):
        name = "invalid"

        def act(self, obs):
            return "largest"
"""


def test_results_cover_every_run_with_scores(tmp_path: Path, tiny_protocol: Protocol) -> None:
    submission = write_submission(tmp_path, "largest", "messenv_agents.fixed.LargestOnlyAgent")
    results = evaluate_submission(submission, tiny_protocol, show_progress=False)
    assert read_results(submission.results_path) == results
    assert sorted(run.key for run in results.runs) == sorted(tiny_protocol.runs())
    for run in results.runs:
        assert run.status == "ok" and run.error is None
        assert run.energy_ratio == pytest.approx(run.total_energy_j / run.oracle_energy_j)
        assert run.energy_ratio >= 1.0 - 1e-12  # no policy beats the hindsight LP
        assert run.sla_met == (run.mean_quality >= run.alpha)
    assert set(results.tracks) == {"full", "sparse"}
    assert results.recordings["full"].private and len(results.recordings["full"].fingerprint) == 64


def test_evaluation_is_deterministic(tmp_path: Path, tiny_protocol: Protocol) -> None:
    submission = write_submission(tmp_path, "ucb", "messenv_agents.ucb.UCB1Agent")
    first = evaluate_submission(submission, tiny_protocol, show_progress=False)
    second = evaluate_submission(submission, tiny_protocol, show_progress=False)
    strip = lambda results: [run.model_dump(exclude={"wall_s"}) for run in results.runs]  # noqa: E731
    assert strip(first) == strip(second)
    assert first.tracks == second.tracks


def test_an_agent_that_raises_fails_its_run_and_the_others_go_on(tmp_path: Path, tiny_protocol: Protocol) -> None:
    submission = write_submission(tmp_path, "raises", "raises_agent_for_tests.RaisesOnSeed1", code=RAISES_ON_SEED_1)
    results = evaluate_submission(submission, tiny_protocol, show_progress=False)
    failed = [run for run in results.runs if run.status != "ok"]
    assert {run.seed for run in failed} == {1} and len(failed) == 4
    assert all(run.status == "error" for run in failed)
    # A private track keeps only the exception's type; the whole text is in the evaluator's own log.
    assert failed[0].error == "ZeroDivisionError: details withheld (the protocol has a private track)"
    assert logged_reason(failed[0]).startswith("ZeroDivisionError: boom at step 3 (at raises_agent_for_tests.py:")
    assert failed[0].total_energy_j is None and failed[0].oracle_energy_j > 0
    assert all(run.status == "ok" for run in results.runs if run.seed == 0)
    assert all(score.passed <= score.runs - 2 for score in results.tracks.values())


def test_an_error_in_reset_is_the_runs_reason_even_when_the_worker_ended_before_act(
    tmp_path: Path, tiny_protocol: Protocol, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``reset`` has no reply: its error comes back with the next message. A worker that has replied
    it and exited before the evaluator sends ``act`` (a loaded machine) leaves a closed pipe, and
    the run must still fail with the agent's error, not 'closed the pipe'."""
    from messenv.leaderboard.remote_agent import RemoteAgent

    forward = RemoteAgent.reset

    def reset_then_wait(self, spec, seed):
        forward(self, spec, seed)
        time.sleep(0.5)  # the worker replies its error and exits meanwhile

    monkeypatch.setattr(RemoteAgent, "reset", reset_then_wait)
    submission = write_submission(tmp_path, "reset", "reset_agent_for_tests.RaisesInReset", code=RAISES_IN_RESET)
    results = evaluate_submission(submission, tiny_protocol, show_progress=False)
    assert results.runs and all(run.status == "error" for run in results.runs)
    assert all(logged_reason(run).startswith("RuntimeError: no reset for you") for run in results.runs)


def test_an_over_time_agent_fails_its_runs(tmp_path: Path, tiny_protocol: Protocol) -> None:
    protocol = tiny_protocol.model_copy(update={"step_time_limit_s": 1.0})
    submission = write_submission(tmp_path, "slow", "slow_agent_for_tests.SlowOnSparse", code=SLOW_ON_SPARSE)
    results = evaluate_submission(submission, protocol, show_progress=False)
    by_track = {name: [run for run in results.runs if run.track == name] for name in ("full", "sparse")}
    assert all(run.status == "ok" for run in by_track["full"])
    assert all(run.status == "timeout" and "over the 1 s per-step time limit" in logged_reason(run)
               for run in by_track["sparse"])
    assert results.tracks["sparse"].pass_rate == 0.0


def test_the_cli_prints_the_first_failed_runs_reason(
    tmp_path: Path, tiny_protocol: Protocol, capsys: pytest.CaptureFixture
) -> None:
    """A submission whose runs crash says why on the terminal, not only inside results.json."""
    submission = write_submission(tmp_path, "raises", "raises_agent_for_tests.RaisesOnSeed1", code=RAISES_ON_SEED_1)
    status = main(["--protocol", str(tmp_path / "protocol.yaml"), "evaluate", str(submission.directory), "--no-progress"])
    out = capsys.readouterr().out
    assert status == 0 and "4 run(s) failed; the first, " in out and "ZeroDivisionError: details withheld" in out


def test_an_invalid_action_is_the_agents_error(tmp_path: Path, tiny_protocol: Protocol) -> None:
    submission = write_submission(tmp_path, "invalid", "invalid_agent_for_tests.Invalid", code=INVALID_ACTION)
    results = evaluate_submission(submission, tiny_protocol, show_progress=False)
    assert all(run.status == "error" and run.error.startswith("InvalidActionError") for run in results.runs)
    assert results.overall.pass_rate == 0.0 and results.overall.energy_ratio is None


def test_cli_writes_results_json_atomically(tmp_path: Path, tiny_protocol: Protocol) -> None:
    submission = write_submission(tmp_path, "cheap", "messenv_agents.fixed.CheapestFirstAgent")
    status = main(["--protocol", str(tmp_path / "protocol.yaml"), "evaluate", str(submission.directory), "--no-progress"])
    assert status == 0
    data = json.loads(submission.results_path.read_text())
    assert data["format"] == RESULTS_FORMAT and len(data["runs"]) == 8
    assert sorted(p.name for p in submission.directory.iterdir()) == ["results.json", "submission.yaml"]  # no temp file left


@pytest.mark.parametrize("earlier", [None, b"an earlier results.json"])
def test_evaluate_track_plays_those_tracks_only_and_writes_nothing(
    tmp_path: Path, tiny_protocol: Protocol, capsys: pytest.CaptureFixture, earlier: bytes | None
) -> None:
    """``--track`` (repeatable) is a quick partial check: the table of those tracks, in the
    protocol's order, said to be partial; results.json is neither written nor replaced (the board's
    must hold exactly the protocol's runs)."""
    submission = write_submission(tmp_path, "cheap", "messenv_agents.fixed.CheapestFirstAgent")
    if earlier is not None:
        submission.results_path.write_bytes(earlier)
    status = main(["--protocol", str(tmp_path / "protocol.yaml"), "evaluate", str(submission.directory),
                   "--no-progress", "--track", "sparse"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert f"partial evaluation (tracks: sparse): not for the board; {submission.results_path} was not written" in out
    assert "│ sparse" in out and "│ full" not in out
    assert (submission.results_path.read_bytes() if earlier else submission.results_path.exists()) == (earlier or False)
    status = main(["--protocol", str(tmp_path / "protocol.yaml"), "evaluate", str(submission.directory),
                   "--no-progress", "--track", "sparse", "--track", "full"])
    assert status == 0 and "partial evaluation (tracks: full, sparse)" in capsys.readouterr().out


def test_evaluate_track_output_keeps_the_partial_figures_under_another_name(
    tmp_path: Path, tiny_protocol: Protocol, capsys: pytest.CaptureFixture
) -> None:
    """``--output PATH`` writes the partial results; the audit refuses them for the board."""
    submission = write_submission(tmp_path, "cheap", "messenv_agents.fixed.CheapestFirstAgent")
    protocol = str(tmp_path / "protocol.yaml")
    partial = tmp_path / "partial.json"
    status = main(["--protocol", protocol, "evaluate", str(submission.directory), "--no-progress", "--track", "full",
                   "--output", str(partial)])
    assert status == 0 and f"wrote the partial results to {partial}" in capsys.readouterr().out
    results = read_results(partial)
    assert {run.track for run in results.runs} == {"full"} and len(results.runs) == 4
    assert not submission.results_path.exists()
    assert "protocol_sha256 does not match the current protocol.yaml: re-evaluate" in audit(
        results, tiny_protocol, HARNESS_VERSION
    )
    folder = str(submission.directory)
    for refused, fragment in (
        ([folder, "--output", str(partial)], "--output is for a partial evaluation (--track NAME)"),
        ([folder, "--track", "full", "--output", str(submission.results_path)], "results.json is the board's name"),
        ([folder, folder, "--track", "full", "--output", str(partial)], "one submission at a time (2 given)"),
        ([folder, "--track", "full", "--output", str(submission.directory / "RESULTS.JSON")], "the board's name"),
        # the sandbox shows the agent its folder: a later run would read the figures (attack4, review)
        ([folder, "--track", "full", "--output", str(submission.directory / "notes" / "p.json")],
         "inside the submission's folder"),
    ):
        assert main(["--protocol", protocol, "evaluate", *refused]) == 2
        assert fragment in capsys.readouterr().err
    assert not submission.results_path.exists()


def test_evaluate_refuses_an_unknown_track_in_one_line(
    tmp_path: Path, tiny_protocol: Protocol, capsys: pytest.CaptureFixture
) -> None:
    submission = write_submission(tmp_path, "cheap", "messenv_agents.fixed.CheapestFirstAgent")
    status = main(["--protocol", str(tmp_path / "protocol.yaml"), "evaluate", str(submission.directory),
                   "--track", "full", "--track", "sprase"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert err == ["error: --track 'sprase': no track 'sprase' in the protocol; tracks: ['full', 'sparse']"]
    assert not submission.results_path.exists()


def test_results_record_the_converted_file_and_the_sandbox(
    tmp_path: Path, tiny_protocol: Protocol, tiny_parquet: Path
) -> None:
    submission = write_submission(tmp_path, "largest", "messenv_agents.fixed.LargestOnlyAgent")
    results = evaluate_submission(submission, tiny_protocol, show_progress=False)
    assert results.recordings["full"].file_sha256 == hashlib.sha256(tiny_parquet.read_bytes()).hexdigest()
    assert results.sandbox == ("bwrap" if bwrap_path() else "none")
    assert len({run.stream_sha256 for run in results.runs}) == 4  # one stream per benchmark and seed


def test_an_unchanged_submission_keeps_its_results_file(tmp_path: Path, tiny_protocol: Protocol) -> None:
    submission = write_submission(tmp_path, "largest", "messenv_agents.fixed.LargestOnlyAgent")
    evaluate_submission(submission, tiny_protocol, show_progress=False)
    before = submission.results_path.read_bytes()
    again = evaluate_submission(submission, tiny_protocol, show_progress=False)
    assert submission.results_path.read_bytes() == before  # only the timings differ: not rewritten
    assert same_figures(again, read_results(submission.results_path))


SLEEPER = """
    import time
    from messenv_agents.base import BaseAgent

    class Sleeper(BaseAgent):
        name = "sleeper"

        def act(self, obs):
            time.sleep(60)
            return 0
"""


def test_ctrl_c_stops_evaluate_cleanly(tmp_path: Path, tiny_protocol: Protocol) -> None:
    """SIGINT while an agent plays: exit status 130, no results.json, no process of the sandbox left."""
    submission = write_submission(tmp_path, "sleeper", "sleeper_agent_for_tests.Sleeper", code=SLEEPER)
    command = [sys.executable, "-m", "messenv.leaderboard", "--protocol", str(tmp_path / "protocol.yaml"),
               "evaluate", "--no-progress", str(submission.directory)]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not sandbox_processes(submission.directory, besides=process.pid):
        time.sleep(0.2)
    assert sandbox_processes(submission.directory, besides=process.pid), "the sandbox never started"
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 130
    assert "interrupted" in process.stderr.read()
    assert not submission.results_path.exists()
    time.sleep(0.5)
    assert sandbox_processes(submission.directory, besides=process.pid) == []


def sandbox_processes(directory: Path, besides: int) -> list[int]:
    """Processes other than ``besides`` whose command line names ``directory`` (the worker host, or bwrap)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int(entry.name) != besides and str(directory.resolve()).encode() in (
                entry / "cmdline"
            ).read_bytes():
                found.append(int(entry.name))
        except OSError:
            pass
    return found


def test_without_bubblewrap_the_agent_still_plays_apart_and_results_say_so(
    tmp_path: Path, tiny_protocol: Protocol, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)
    submission = write_submission(tmp_path, "raises", "raises_agent_for_tests.RaisesOnSeed1", code=RAISES_ON_SEED_1)
    results = evaluate_submission(submission, tiny_protocol, show_progress=False)
    assert results.sandbox == "none"
    assert {run.seed for run in results.runs if run.status == "error"} == {1}
    assert all(run.status == "ok" for run in results.runs if run.seed == 0)
    assert main(["--root", str(tmp_path), "--protocol", str(tmp_path / "protocol.yaml"), "build"]) == 0
    assert "test agent raises (sandbox: none)" in (tmp_path / "README.md").read_text()


IGNORES_THE_MASK = """
    from messenv_agents.base import BaseAgent

    class IgnoresTheMask(BaseAgent):
        name = "ignores-the-mask"

        def act(self, obs):
            return self.n_models - 1
"""


def test_a_run_that_meets_alpha_but_breaks_the_latency_slo_fails(tmp_path: Path, tiny_parquet: Path) -> None:
    protocol = scenario_protocol(LATENCY_SLO)
    submission = write_submission(tmp_path, "largest", "messenv_agents.fixed.LargestOnlyAgent")
    results = evaluate_submission(submission, protocol, show_progress=False)
    limit = LATENCY_SLO["latency"]["mean_s"]
    for run in results.runs:
        assert run.status == "ok" and run.sla_met and run.latency_cost > limit and run.constraints_met is False
        assert not run.outcome.passed
    assert results.tracks["scenario"].pass_rate == 0.0 and results.tracks["scenario"].energy_ratio is None
    assert audit(results, protocol, HARNESS_VERSION) == []


def test_on_a_changing_zoo_the_mask_reaches_the_agent_and_a_masked_action_fails_its_run(
    tmp_path: Path, tiny_parquet: Path
) -> None:
    protocol = scenario_protocol(ZOO_CHANGE)
    # observation_keys: [] still delivers the action_mask the agent needs to play the largest available model.
    agent = {"target": "messenv_agents.fixed.LargestOnlyAgent", "params": {}, "observation_keys": []}
    aware_submission = write_submission(tmp_path, "aware", agent["target"], agent=agent)
    aware = evaluate_submission(aware_submission, protocol, show_progress=False)
    assert all(run.status == "ok" and run.static_mix_energy_j is None for run in aware.runs)
    assert audit(aware, protocol, HARNESS_VERSION) == []
    assert read_results(tmp_path / "submissions" / "aware" / "results.json") == aware  # null static mix round-trips
    unaware = write_submission(tmp_path, "unaware", "unaware_agent_for_tests.IgnoresTheMask", code=IGNORES_THE_MASK)
    results = evaluate_submission(unaware, protocol, show_progress=False)
    masked = "MaskedActionError: action 2 is masked at step 0"
    assert all(run.status == "error" and logged_reason(run).startswith(masked) for run in results.runs)


def test_a_drift_run_plays_the_phases_of_its_one_stream(tmp_path: Path, tiny_parquet: Path) -> None:
    protocol = scenario_protocol(DRIFT_PHASES, "drift", **DRIFT_RUN)
    submission = write_submission(tmp_path, "largest", "messenv_agents.fixed.LargestOnlyAgent")
    results = evaluate_submission(submission, protocol, show_progress=False)
    assert [(run.benchmark, run.seed) for run in results.runs] == [("alpha-to-beta", 0), ("alpha-to-beta", 1)]
    for run in results.runs:
        assert run.status == "ok" and run.n_requests == 40 and run.alpha == 0.7 and run.outcome.passed
        assert run.window is None and run.worst_window_quality is None and run.constraints_met is None
    assert results.runs[0].stream_sha256 != results.runs[1].stream_sha256
    (context,) = open_tracks(protocol)
    context.references(results.runs[0].key)  # resets the env to seed 0's stream
    env = context.env("alpha-to-beta").unwrapped
    benchmarks = [env.recording.benchmark_names[i] for i in env.recording.benchmark_index[env.stream_rows]]
    assert benchmarks == ["alpha_bench"] * 20 + ["beta_bench"] * 20
    assert audit(results, protocol, HARNESS_VERSION) == []


def test_a_windowed_run_passes_only_if_every_window_reaches_alpha(tmp_path: Path, tiny_parquet: Path) -> None:
    """The largest model meets α on seed 1's whole stream but not on its last window (see DRIFT_RUN)."""
    protocol = scenario_protocol(DRIFT_WINDOWED, "windowed", **DRIFT_RUN)
    submission = write_submission(tmp_path, "largest", "messenv_agents.fixed.LargestOnlyAgent")
    results = evaluate_submission(submission, protocol, show_progress=False)
    every_window, last_window_short = results.runs
    assert all(run.status == "ok" and run.sla_met and run.window == 8 for run in results.runs)
    assert every_window.worst_window_quality == pytest.approx(0.875) and every_window.constraints_met
    assert last_window_short.worst_window_quality == pytest.approx(0.5) and last_window_short.constraints_met is False
    assert every_window.outcome.passed and not last_window_short.outcome.passed
    assert results.tracks["windowed"].pass_rate == 0.5
    assert read_results(submission.results_path) == results
    assert audit(results, protocol, HARNESS_VERSION) == []
    (context,) = open_tracks(protocol)
    for run in results.runs:  # the reference is the windowed LP, dearer than the whole-stream oracle
        context.references(run.key)  # resets the env to the run's stream
        whole_stream = hindsight_oracle(*stream_outcomes(context.env(run.benchmark)), run.alpha).energy_j
        assert run.oracle_energy_j > whole_stream * 1.01


def test_failure_text_is_withheld_on_every_track_of_a_protocol_with_a_private_one(tiny_protocol: Protocol) -> None:
    """A public run played after a private one published, in its failure text, the private prompt
    its agent carried over (attack6): with any private track, no track keeps failure text."""
    private = tiny_protocol.tracks[0]
    public = private.model_copy(update={"name": "public", "recording": "synthetic-llama3"})
    assert private.private and not public.private
    assert withholds_failure_text(tiny_protocol.model_copy(update={"tracks": [public, private]}))
    assert not withholds_failure_text(tiny_protocol.model_copy(update={"tracks": [public]}))
