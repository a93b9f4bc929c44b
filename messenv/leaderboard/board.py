"""The board: every evaluated submission, ranked, with the oracle and static mix as reference lines.

Built from committed results.json files only (no data, no re-runs), so that the rendered board
is a pure function of what is in the repository; each file is audited first and ``build``
refuses inconsistent results.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from messenv.leaderboard.evaluate import HARNESS_VERSION
from messenv.leaderboard.protocol import Protocol, RunKey
from messenv.leaderboard.records import (
    REFERENCE_FIELDS, RecordingId, Results, RunRecord, audit, differing_fields, read_results,
)
from messenv.leaderboard.schema import LeaderboardError
from messenv.leaderboard.scoring import Outcome, OverallScore, TrackScore, geometric_mean, rank_key, score_overall, score_track
from messenv.leaderboard.submission import LoadedSubmission, load_submission

SUBMISSIONS_DIR = "submissions"


@dataclass(frozen=True)
class Row:
    """One line of the board: a submission or a reference solution.

    ``tracks`` holds every track of a submission; a reference's lacks the tracks it is not defined
    on (the static mix under a changing zoo). ``quality_margin`` is the mean of (final mean quality
    − α) over the runs that finished, and
    ``all_runs_ratio`` the geometric-mean ratio over those runs, passing or not: the Pareto plot's
    coordinates (a failing agent can spend less than the oracle, it just misses the SLA).
    """

    name: str
    title: str
    link: str | None
    directory: str | None
    tracks: dict[str, TrackScore]
    overall: OverallScore
    all_runs_ratio: float | None
    quality_margin: float | None
    errors: int
    reference: bool = False
    sandbox: str = "bwrap"


@dataclass(frozen=True)
class Board:
    """Ranked submissions, reference rows, and the provenance they share."""

    protocol: Protocol
    entries: list[Row]
    references: list[Row]
    recordings: dict[str, RecordingId]
    harness_version: str


def submission_dirs(root: Path) -> list[Path]:
    """Every ``root/submissions/<name>/`` holding a submission.yaml, sorted by name."""
    return sorted(p.parent for p in (root / SUBMISSIONS_DIR).glob("*/submission.yaml"))


def _finished_figures(runs: list[RunRecord]) -> tuple[float | None, float | None, int]:
    finished = [run for run in runs if run.status == "ok"]
    # A run at 0 J (a zoo with a model measured at 0 J) has no logarithm: the plot's log axis and
    # this geometric mean take the runs that spent energy.
    ratio = geometric_mean(run.energy_ratio for run in finished if run.energy_ratio > 0)
    margin = float(np.mean([run.mean_quality - run.alpha for run in finished])) if finished else None
    return ratio, margin, len(runs) - len(finished)


def entry_row(submission: LoadedSubmission, results: Results, root: Path) -> Row:
    """The board line of one evaluated submission."""
    ratio, margin, errors = _finished_figures(results.runs)
    spec = submission.spec
    return Row(
        name=spec.name, title=spec.title, link=spec.link,
        directory=submission.directory.resolve().relative_to(root.resolve()).as_posix(),
        tracks=results.tracks, overall=results.overall, all_runs_ratio=ratio, quality_margin=margin, errors=errors,
        sandbox=results.sandbox,
    )


def _reference_runs(all_results: list[Results]) -> dict[RunKey, RunRecord]:
    """One run per key carrying the reference figures, checked to agree across submissions."""
    runs: dict[RunKey, RunRecord] = {}
    for results in all_results:
        for run in results.runs:
            first = runs.setdefault(run.key, run)
            differ = differing_fields(first, run, REFERENCE_FIELDS)
            if differ:  # within verify's tolerance: solvers and machines differ in the last bits
                raise LeaderboardError(f"{run.key}: submissions disagree on {', '.join(differ)}; verify them")
    return runs


def reference_rows(runs: dict[RunKey, RunRecord], protocol: Protocol) -> list[Row]:
    """The hindsight oracle (ratio 1 by definition) and the best static mix, scored like agents.

    The static mix is not defined under a changing zoo: its row has no score on such a track
    (the cell reads "n/a") and its overall and plotted figures are over the other tracks' runs.
    """
    rows = []
    for name, title, ratio_of, quality_of, passed in (
        ("oracle", "Hindsight oracle (LP optimum, knows every outcome)", lambda r: 1.0, lambda r: r.oracle_quality,
         lambda r: True),
        ("static-mix", "Best static mix (prompt-blind, knows per-model means)",
         lambda r: r.static_mix_energy_j / r.oracle_energy_j, lambda r: r.static_mix_quality,
         lambda r: r.static_mix_feasible),
    ):
        defined = [run for run in runs.values() if quality_of(run) is not None]
        by_track: dict[str, list[Outcome]] = defaultdict(list)
        for run in defined:
            by_track[run.track].append(Outcome(passed(run), ratio_of(run)))
        tracks = {track.name: score_track(by_track[track.name]) for track in protocol.tracks if by_track[track.name]}
        if not tracks:  # defined on no track of the protocol
            continue
        margin = float(np.mean([quality_of(r) - r.alpha for r in defined]))
        rows.append(Row(
            name=name, title=title, link=None, directory=None, tracks=tracks,
            overall=score_overall(list(tracks.values())),
            all_runs_ratio=geometric_mean(ratio_of(r) for r in defined), quality_margin=margin, errors=0,
            reference=True,
        ))
    return rows


def collect_board(root: Path, protocol: Protocol) -> Board:
    """Read, audit and rank every submission under ``root``.

    Raises:
        LeaderboardError: a submission without results, or results that fail the audit (the
            reasons are listed); no submission at all.
    """
    entries, all_results = [], []
    for directory in submission_dirs(root):
        submission = load_submission(directory)
        results = read_results(submission.results_path)
        problems = audit(results, protocol, HARNESS_VERSION)
        if results.submission.sha256 != submission.sha256:
            problems.append("results.json was produced for a different submission.yaml")
        if problems:
            raise LeaderboardError(f"{submission.results_path}: refusing to build:\n  " + "\n  ".join(problems))
        entries.append(entry_row(submission, results, root))
        all_results.append(results)
    if not entries:
        raise LeaderboardError(f"{root / SUBMISSIONS_DIR}: no submissions with a submission.yaml")
    recordings = all_results[0].recordings
    for results in all_results[1:]:
        if {k: v.content() for k, v in results.recordings.items()} != {k: v.content() for k, v in recordings.items()}:
            raise LeaderboardError(f"{results.submission.name}: evaluated on other recordings than {entries[0].name}")
    entries.sort(key=lambda row: (rank_key(row.overall, row.tracks.values()), row.name))
    return Board(protocol, entries, reference_rows(_reference_runs(all_results), protocol), recordings, HARNESS_VERSION)


__all__ = ["Board", "Row", "collect_board", "submission_dirs"]
