"""``evaluate``: play every run of the protocol with a submission's agent and write results.json.

Each run gets a fresh worker process for the agent (forked by the submission's sandboxed worker
host: :mod:`messenv.leaderboard.host`, :mod:`messenv.leaderboard.sandbox`), and a
:class:`~messenv.leaderboard.remote_agent.RemoteAgent` standing for it is handed to
:func:`messenv.harness.run_episode`, which measures energy and quality in this process: the
agent only returns actions, and it never shares a process with the env, the recording or another
run. A run whose agent raises, exits, stalls, returns an invalid action or exceeds a time limit
is recorded as a failure with the reason, and the other runs go on. The threat model is in
leaderboard/README.md (rendered from :mod:`messenv.leaderboard.render`).
"""

from __future__ import annotations

import builtins
import json
import time
from collections.abc import Callable
from typing import Any

import messenv
from messenv.env.mess_env import MessEnv
from messenv.env.scenario import Scenario
from messenv.harness import ACTION_ERRORS, run_episode
from messenv.leaderboard.host import WorkerHost, sharing_one_cpu
from messenv.leaderboard.protocol import Protocol, RunKey, Track
from messenv.leaderboard.records import (
    RESULTS_FORMAT, RecordingId, Results, RunRecord, SubmissionRef, read_results, same_figures, scores, write_results,
)
from messenv.leaderboard.remote_agent import RunFailure, WorkerSpec, start_agent
from messenv.leaderboard.sandbox import sandbox_kind
from messenv.leaderboard.schema import LeaderboardError, printable
from messenv.leaderboard.scoring import worst_deficit
from messenv.leaderboard.streams import References, stream_references
from messenv.leaderboard.submission import SUBMISSION_FILE, LoadedSubmission, check_target, worker_spec
from messenv.leaderboard.worker import PARAMETER_ERROR
from messenv.home import messenv_home
from messenv.progress import DelayedProgress
from messenv.recordings import Recording

HARNESS_ERRORS = (*(error.__name__ for error in ACTION_ERRORS), "TargetError")
"""Exception types of messenv's own that a private track's failure reason may name (see :func:`withheld`)."""

HARNESS_VERSION = f"{messenv.__version__}+leaderboard.4"
"""Bump the suffix whenever a change to the harness or the scoring changes any run's figures
(.2: every agent plays in its own sandboxed worker process; .3: scenario tracks, a run passes
only if it meets every constraint of its track's scenario; .4: drift and windowed-SLA tracks, a
windowed run records its window and worst window, and passes only if every window reaches α)."""


class TrackContext:
    """A track with its loaded recording, one env per benchmark (or its drift stream) and the
    reference figures of every run, shared by all the submissions evaluated or verified in one process."""

    def __init__(self, track: Track, recording: Recording, file_sha256: str) -> None:
        self.track = track
        self.recording = recording
        self.file_sha256 = file_sha256
        self._envs: dict[str, MessEnv] = {}
        self._references: dict[RunKey, References] = {}

    def env(self, benchmark: str) -> MessEnv:
        """The env that plays ``benchmark``'s stream (a drift track's: its ``stream``, whose
        benchmarks the drift chooses) under the track's α, feedback rate and scenario."""
        if benchmark not in self._envs:
            track = self.track
            self._envs[benchmark] = MessEnv(
                self.recording, alpha=track.run_alphas[benchmark], explore_action=True, n_requests=track.n_requests,
                benchmarks=None if track.drifts else [benchmark], feedback_rate=track.feedback_rate,
                scenario=track.play_scenario,
            )
        return self._envs[benchmark]

    def references(self, key: RunKey) -> References:
        """The oracle and static mix on the run's stream (solved once per run key).

        Raises:
            LeaderboardError: the protocol asks for an α the oracle cannot reach on this stream.
        """
        if key not in self._references:
            try:
                self._references[key] = stream_references(self.env(key.benchmark), key.seed)
            except ValueError as error:
                raise LeaderboardError(f"{key}: {error}") from error
        return self._references[key]

    def identity(self) -> RecordingId:
        """The recording's identity as results.json stores it."""
        meta = self.recording.metadata
        return RecordingId(
            name=self.recording.name, fingerprint=self.recording.fingerprint(),
            source_sha256=meta.source_sha256, file_sha256=self.file_sha256, private=self.track.private,
        )


def partial_protocol(protocol: Protocol, names: list[str]) -> Protocol:
    """``protocol`` with only the tracks called ``names`` (in the protocol's order), for a quick
    partial evaluation. Unless ``names`` holds every track, its results are not the board's: their
    runs are not the protocol's, and their protocol digest is not the protocol's, so the audit and
    ``verify`` refuse them. (Naming every track is a full evaluation, whose figures ``--output``
    writes under another name than results.json; the command still writes no results.json.)

    Raises:
        LeaderboardError: a name that is no track of the protocol (one line listing the tracks).
    """
    for name in names:
        try:
            protocol.track(name)
        except LeaderboardError as error:
            raise LeaderboardError(f"--track {name!r}: {error}") from None
    return protocol.model_copy(update={"tracks": [track for track in protocol.tracks if track.name in names]})


def open_tracks(protocol: Protocol) -> list[TrackContext]:
    """Load every track's recording before any run, so a missing one fails at once."""
    return [TrackContext(track, *track.load_recording()) for track in protocol.tracks]


def _record(key: RunKey, context: TrackContext, wall_s: float, **agent: Any) -> RunRecord:
    track = context.track
    refs = context.references(key)
    return RunRecord(
        track=key.track, benchmark=key.benchmark, seed=key.seed, alpha=track.run_alphas[key.benchmark],
        n_requests=refs.n_requests, feedback_rate=track.feedback_rate, window=track.play_scenario.window,
        wall_s=round(wall_s, 3),
        stream_sha256=refs.stream_sha256, oracle_energy_j=refs.oracle_energy_j, oracle_quality=refs.oracle_quality,
        static_mix_energy_j=refs.static_mix_energy_j, static_mix_quality=refs.static_mix_quality,
        static_mix_feasible=refs.static_mix_feasible, **agent,
    )


def play_run(
    context: TrackContext, key: RunKey, spec: WorkerSpec, host: WorkerHost, protocol: Protocol,
    progress: Callable[[int, int], None] | None = None,
) -> RunRecord:
    """Play one run with a fresh agent in a fresh worker; any failure of the agent becomes a failed :class:`RunRecord`.

    Raises:
        LeaderboardError: the protocol asks for an α the oracle cannot reach on this stream.
    """
    context.references(key)
    started = time.perf_counter()
    failure: tuple[str, str] | None = None  # status and reason
    try:
        with start_agent(spec, host) as agent:
            result = run_episode(context.env(key.benchmark), agent, key.seed, progress)
            agent.finish()
    except RunFailure as error:
        failure = (error.status, error.reason)
    except ACTION_ERRORS as error:  # out of range (harness) or masked (changing zoo)
        failure = ("error", f"{type(error).__name__}: {error}")  # it quotes the agent's action
    wall_s = time.perf_counter() - started
    if failure is not None:
        status, reason = failure
        empty = dict.fromkeys((
            "total_energy_j", "mean_quality", "sla_met", "worst_deficit", "exploration_share", "energy_ratio",
            "latency_cost", "worst_window_quality", "constraints_met",
        ))
        error = withheld(reason, key, spec) if withholds_failure_text(protocol) else reason
        return _record(key, context, wall_s, status=status, error=error, **empty)
    summary = result.summary
    alpha = context.track.run_alphas[key.benchmark]
    return _record(
        key, context, wall_s, status="ok", error=None,
        total_energy_j=float(summary["total_energy_j"]), mean_quality=float(summary["mean_quality"]),
        sla_met=bool(summary["sla_met"]),
        worst_deficit=worst_deficit(result.running_quality, alpha, protocol.warmup_requests),
        exploration_share=float(summary["exploration_share"]),
        energy_ratio=float(summary["total_energy_j"]) / context.references(key).oracle_energy_j,
        **_constraint_figures(summary, context.track.play_scenario),
    )


def withholds_failure_text(protocol: Protocol) -> bool:
    """Whether failed runs keep only their exception's type (:func:`withheld`): on every track of
    a protocol that has a private one, not only on the private tracks. A run of a public track
    played after a private one published the private prompt it had read, carried from run to run
    by the page cache, in its failure text (attack6)."""
    return any(track.private for track in protocol.tracks)


def withheld(reason: str, key: RunKey, spec: WorkerSpec) -> str:
    """A failure's reason as the results.json of a protocol with a private track keeps it: the
    exception's type when it is a Python builtin one or the harness's, else ``Error``, and no text.
    The rest is text the
    agent chose (a message, an action, a function name, an exit status, where its malformed reply
    broke): 500 characters of it per failed run would carry a hidden stream's prompts and outcomes
    out of the sandbox into the published results. The whole reason goes to the evaluator's own
    log, ``$MESSENV_HOME/leaderboard/withheld.jsonl`` (one JSON object per failed run: submission
    folder, run, reason), which is not published."""
    log = messenv_home() / "leaderboard" / "withheld.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as lines:
        lines.write(json.dumps({"submission": str(spec.directory), "run": str(key), "reason": reason}) + "\n")
    name = reason.partition(":")[0].strip()
    known = name in HARNESS_ERRORS or isinstance(getattr(builtins, name, None), type) and issubclass(
        getattr(builtins, name), BaseException
    )
    return f"{name if known else 'Error'}: details withheld (the protocol has a private track)"


def _constraint_figures(summary: dict[str, Any], scenario: Scenario) -> dict[str, Any]:
    """The summary's figures of the scenario's added constraints, each ``None`` where the track has
    no such constraint: ``latency_cost`` (mean latency cost, under a latency SLO),
    ``worst_window_quality`` (under a windowed SLA) and ``constraints_met`` (α and every added constraint)."""
    return {
        "latency_cost": None if scenario.latency is None else float(summary["mean_costs"][1]),
        "worst_window_quality": None if scenario.window is None else float(summary["worst_window_quality"]),
        "constraints_met": bool(summary["constraints_met"]) if scenario.constrained else None,
    }


def check_parameters(submission: LoadedSubmission, spec: WorkerSpec, host: WorkerHost) -> None:
    """Build the agent once, in a worker of ``host`` (the sandbox: the evaluator never imports the
    submission's class), before the first run. A ``params`` key the class does not take, a required
    one missing or a value of the wrong type would fail every run with the same reason; it stops the
    submission instead, with one line. Any other failure is left to the runs, which record it.

    Raises:
        LeaderboardError: ``submission.yaml: agent.params (Class): unknown parameter(s) [...]; it takes [...]``.
    """
    try:
        with start_agent(spec, host):
            pass
    except RunFailure as failure:
        if failure.reason.startswith(PARAMETER_ERROR):
            line = printable(failure.reason.removeprefix(PARAMETER_ERROR))
            raise LeaderboardError(f"{submission.directory / SUBMISSION_FILE}: {line}") from None


def _shifted(bar: Callable[[int, int], None], offset: int, total: int) -> Callable[[int, int], None]:
    """A run's ``progress(done, _)`` reported on its track's bar, after the ``offset`` earlier requests."""
    return lambda done, _total: bar(offset + done, total)


def evaluate_submission(
    submission: LoadedSubmission, protocol: Protocol, contexts: list[TrackContext] | None = None,
    show_progress: bool = True, write: bool = True,
) -> Results:
    """Play every run of ``protocol`` with the submission's agent and write its results.json.

    An existing results.json whose figures are all the same (only the timings ``wall_s`` and
    ``evaluation_s`` differ) is left as it is, so re-evaluating an unchanged submission does not
    change a committed file.

    Args:
        submission: the loaded submission.
        protocol: the tracks to play.
        contexts: already opened tracks (to share loaded recordings between submissions).
        show_progress: draw a progress bar (on a terminal, after a second).
        write: write results.json; ``False`` for a partial evaluation (:func:`partial_protocol`),
            whose results must never replace the board's.

    Raises:
        LeaderboardError: the submission's target is refused (see
            :func:`~messenv.leaderboard.submission.check_target`), its agent does not take its
            ``params`` (:func:`check_parameters`), or a track cannot be played.
    """
    check_target(submission)
    spec = worker_spec(submission, protocol)
    contexts = open_tracks(protocol) if contexts is None else contexts
    started = time.perf_counter()
    runs: list[RunRecord] = []
    plan = [(context, [key for key in protocol.runs() if key.track == context.track.name]) for context in contexts]
    with (
        DelayedProgress(enabled=show_progress) as bars,
        sharing_one_cpu() as cpu,
        WorkerHost(spec.directory, cpu, spec.memory_mb) as host,
    ):
        check_parameters(submission, spec, host)
        lengths = {key: context.references(key).n_requests for context, keys in plan for key in keys}  # solved unpinned
        for context, keys in plan:
            total = sum(lengths[key] for key in keys)
            bar = bars.bar(f"{submission.spec.name} · {context.track.name}", total=total)
            for index, key in enumerate(keys):
                shifted = _shifted(bar, sum(lengths[k] for k in keys[:index]), total)
                runs.append(play_run(context, key, spec, host, protocol, shifted))
    tracks, overall = scores(runs, protocol)
    results = Results(
        format=RESULTS_FORMAT,
        submission=SubmissionRef(name=submission.spec.name, sha256=submission.sha256),
        harness_version=HARNESS_VERSION,
        protocol_sha256=protocol.digest(),
        sandbox=sandbox_kind(),
        recordings={context.track.name: context.identity() for context in contexts},
        runs=runs,
        tracks=tracks,
        overall=overall,
        evaluation_s=round(time.perf_counter() - started, 3),
    )
    if write and not _unchanged(submission, results):
        write_results(submission.results_path, results)
    return results


def _unchanged(submission: LoadedSubmission, results: Results) -> bool:
    """Whether results.json already holds ``results`` apart from the timings."""
    if not submission.results_path.is_file():
        return False
    try:
        return same_figures(read_results(submission.results_path), results)
    except LeaderboardError:
        return False
