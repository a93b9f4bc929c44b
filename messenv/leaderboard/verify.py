"""``verify``: check a submission's results.json against the protocol, the data and a re-run.

Checks, in order (each failure is a reason the results are rejected):

1. the file parses under the strict schema and belongs to this submission.yaml (sha256), and was
   evaluated in the bubblewrap sandbox (unless the caller allows ``sandbox: none``);
2. :func:`messenv.leaderboard.records.audit`: harness version, protocol digest, exactly the
   protocol's runs in its order, every derived figure (ratios, SLA outcomes, track and overall scores), and no
   passing run below the oracle's energy;
3. every track's recording has the recorded identity: content sha256 (fingerprint), name, source
   sha256 and privacy (``build`` refuses results whose identities differ between submissions);
4. every run's stream fingerprint, oracle and static-mix figures are re-computed on the stream
   the protocol's seed draws and must match;
5. a sample of runs is re-played with the submission's agent, each in a sandbox of its own,
   and must reproduce status and figures (determinism; a run that drew on an earlier run of its
   evaluation's shared sandbox does not reproduce). The sample always holds the
   submission's best-scoring run (its passing run of lowest ratio), the rest is random unless
   ``--seed``; ``--all`` re-plays every run. A re-play whose worker dies is a failed run, so it
   can only match a run that failed the same way.

What this protects: hand-edited or stale results, results computed on other data, streams or
with another harness, and non-deterministic agents. A tampered figure in a run outside the sample
is caught by 2 and 4 when it touches the references or any derived figure, or claims to beat the
oracle, otherwise only with the probability of being sampled: re-play everything (``--all``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from messenv.leaderboard.evaluate import HARNESS_VERSION, TrackContext, open_tracks, play_run
from messenv.leaderboard.host import WorkerHost, sharing_one_cpu
from messenv.leaderboard.protocol import Protocol
from messenv.leaderboard.records import REFERENCE_FIELDS, RunRecord, audit, differing_fields, read_results
from messenv.leaderboard.sandbox import SANDBOX_BWRAP
from messenv.leaderboard.schema import LeaderboardError
from messenv.leaderboard.submission import LoadedSubmission, check_target, worker_spec

REPLAYED_FIELDS = (
    "status", "total_energy_j", "mean_quality", "sla_met", "worst_deficit", "exploration_share", "energy_ratio",
    "latency_cost", "worst_window_quality", "constraints_met",
)


@dataclass
class Verdict:
    """The outcome of verifying one submission."""

    submission: str
    reasons: list[str] = field(default_factory=list)
    replayed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing was found wrong."""
        return not self.reasons


def _differences(stored: RunRecord, fresh: RunRecord, names: tuple[str, ...]) -> list[str]:
    return [
        f"{stored.key}: {name} is {getattr(stored, name)!r} in results.json but {getattr(fresh, name)!r} when recomputed"
        for name in differing_fields(stored, fresh, names)
    ]


def _error_type(run: RunRecord) -> str | None:
    return run.error.partition(":")[0] if run.error else None


def choose_runs(runs: list[RunRecord], count: int, seed: int | None) -> list[RunRecord]:
    """``count`` runs to re-play: the best-scoring passing run (lowest ratio) first, the rest at random."""
    passing = [run for run in runs if run.outcome.passed]
    best = [min(passing, key=lambda run: run.energy_ratio)] if passing and count > 0 else []
    others = [run for run in runs if run not in best]
    return best + random.Random(seed).sample(others, max(0, min(count - len(best), len(others))))


def verify_submission(
    submission: LoadedSubmission, protocol: Protocol, contexts: Callable[[], list[TrackContext]] | None = None,
    sample: int | None = None, seed: int | None = None, allow_unsandboxed: bool = False,
) -> Verdict:
    """Verify one submission's results.json (see the module docstring).

    Args:
        sample: how many runs to re-play (``None``: the protocol's ``verify_runs``; a number at
            least the number of runs re-plays all).
        seed: seeds the sample (``None``: fresh randomness, so it cannot be predicted).
        contexts: gives the opened tracks (recordings, envs and reference figures shared between
            submissions); called only once the file passes the checks that need no recording, so
            that a results.json of another protocol is named as such, not as a recording missing.
        allow_unsandboxed: accept results marked ``sandbox: none`` (a local check, never the public board's).
    """
    verdict = Verdict(submission.spec.name)
    try:
        results = read_results(submission.results_path)
    except LeaderboardError as error:
        verdict.reasons.append(f"results.json is invalid: {error}")
        return verdict
    if results.submission.sha256 != submission.sha256 or results.submission.name != submission.spec.name:
        verdict.reasons.append("results.json was produced for a different submission.yaml (name or sha256 differ): re-evaluate")
    if results.sandbox != SANDBOX_BWRAP and not allow_unsandboxed:
        verdict.reasons.append(f"results.json was evaluated without the sandbox (sandbox: {results.sandbox}); "
                               "re-evaluate where bubblewrap (bwrap) is installed")
    verdict.reasons += audit(results, protocol, HARNESS_VERSION)
    if verdict.reasons:
        return verdict
    opened = open_tracks(protocol) if contexts is None else contexts()
    by_track = {context.track.name: context for context in opened}
    for name, context in by_track.items():
        recorded, current = results.recordings[name], context.identity()
        if recorded.fingerprint != current.fingerprint:
            verdict.reasons.append(f"track {name!r}: recording sha256 {recorded.fingerprint[:12]}… is not the "
                                   f"current recording's {current.fingerprint[:12]}…")
        elif recorded.content() != current.content():  # build compares these across submissions
            verdict.reasons.append(f"track {name!r}: recording {recorded.content()!r} is not the current recording's "
                                   f"{current.content()!r} (name, fingerprint, source sha256, private)")
    if verdict.reasons:
        return verdict
    for run in results.runs:
        refs = by_track[run.track].references(run.key)
        verdict.reasons += [
            f"{run.key}: {name} is {getattr(run, name)!r} in results.json but {getattr(refs, name)!r} when re-solved"
            for name in differing_fields(run, refs, REFERENCE_FIELDS)
        ]
    count = protocol.verify_runs if sample is None else sample
    check_target(submission)
    spec = worker_spec(submission, protocol)
    with sharing_one_cpu() as cpu:
        for run in choose_runs(results.runs, count, seed):
            # A sandbox of its own per re-play: in one shared sandbox a worker can tell a first run
            # from a later one (the PID counter), and a relay from run to run re-played the same
            # when the first re-played run was the first evaluated (attack3).
            with WorkerHost(spec.directory, cpu, spec.memory_mb) as host:
                fresh = play_run(by_track[run.track], run.key, spec, host, protocol)
            verdict.replayed.append(str(run.key))
            verdict.reasons += _differences(run, fresh, REPLAYED_FIELDS)
            if _error_type(run) != _error_type(fresh):
                verdict.reasons.append(
                    f"{run.key}: error {run.error!r} in results.json but {fresh.error!r} when re-played"
                )
    return verdict
