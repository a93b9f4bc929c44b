"""``python -m messenv.leaderboard evaluate|verify|build``.

evaluate DIR...   play every run of the protocol with each submission's agent; write results.json
                  (with --track NAME, repeatable: only those tracks, a partial check that writes no
                  results.json; --output PATH keeps its figures in a file of another name)
verify [DIR...]   check results.json files (all submissions by default); exit 1 if any is rejected
build             render README.md and index.html from the committed results

Exit status: 0 success, 1 rejected results, 2 an error (bad file, missing recording, ...), 130 interrupted.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path
from typing import Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from messenv.leaderboard.board import collect_board, submission_dirs
from messenv.leaderboard.evaluate import evaluate_submission, open_tracks, partial_protocol
from messenv.leaderboard.protocol import Protocol, load_protocol
from messenv.leaderboard.records import Results, RunRecord, write_results
from messenv.leaderboard.render import percent, ratio, track_cell, write_board
from messenv.leaderboard.sandbox import SANDBOX_BWRAP, sandbox_kind
from messenv.leaderboard.schema import RESULTS_FILE, LeaderboardError, printable
from messenv.leaderboard.submission import check_target, load_submission
from messenv.leaderboard.verify import Verdict, verify_submission

DEFAULT_ROOT = Path("leaderboard")
INTERRUPTED = 130
"""Exit status after Ctrl-C (128 + SIGINT, as a shell reports it)."""


def parser() -> argparse.ArgumentParser:
    """The command line."""
    main = argparse.ArgumentParser(
        prog="python -m messenv.leaderboard",
        description="The messenv leaderboard: evaluate submissions, verify results, build the board.",
        epilog=__doc__.split("\n", 2)[2],  # the commands and exit statuses, below the docstring's title line
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    main.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="the leaderboard directory (default: leaderboard)")
    main.add_argument("--protocol", type=Path, default=None, help="protocol file (default: ROOT/protocol.yaml)")
    commands = main.add_subparsers(dest="command", required=True)
    evaluate = commands.add_parser("evaluate", help="evaluate submissions and write their results.json")
    evaluate.add_argument("submissions", nargs="+", type=Path, help="submission directories")
    evaluate.add_argument("--no-progress", action="store_true", help="no progress bar")
    evaluate.add_argument(
        "--track", action="append", metavar="NAME",
        help="play only this track (repeatable): a quick partial check, printed only; results.json is not written",
    )
    evaluate.add_argument(
        "--output", type=Path, metavar="PATH", default=None,
        help="with --track and one submission: also write the partial results to PATH (never named results.json)",
    )
    verify = commands.add_parser("verify", help="verify results.json files")
    verify.add_argument("submissions", nargs="*", type=Path, help="submission directories (default: all under ROOT)")
    sample = verify.add_mutually_exclusive_group()
    sample.add_argument("--sample", type=int, default=None, help="runs to re-play per submission (default: protocol)")
    sample.add_argument("--all", action="store_true", help="re-play every run")
    verify.add_argument("--seed", type=int, default=None, help="seed of the sample (default: unpredictable)")
    verify.add_argument(
        "--allow-unsandboxed", action="store_true",
        help="re-play without bubblewrap and accept results marked 'sandbox: none' (a local check only)",
    )
    commands.add_parser("build", help="render ROOT/README.md and ROOT/index.html")
    return main


SUMMARY_COLUMNS = (
    "track", "ratio (pass rate)", "runs", "passed", "missed α", "missed window/SLO", "crashed", "over time"
)


def added_constraints(run: RunRecord) -> str:
    """What a run's track adds to α, as the summary names it: ``window`` (a windowed SLA), ``latency
    SLO``, or ``window or latency SLO`` where the track has both."""
    figures = (("window", run.worst_window_quality), ("latency SLO", run.latency_cost))
    return " or ".join(name for name, figure in figures if figure is not None)


def summary_table(results: Results) -> Table:
    """One line per track and the overall score of a results.json; a run that did not pass either
    finished below α (``missed α``), met α but not another constraint of its track (``missed
    window/SLO``, naming which: ``window`` for a windowed SLA, ``latency SLO``), or failed:
    ``crashed`` (error) or ``over time`` (timeout)."""
    table = Table(title=f"{results.submission.name}: {results.evaluation_s:.1f} s (sandbox: {results.sandbox})")
    for column in SUMMARY_COLUMNS:
        table.add_column(column, overflow="fold")  # on a narrow terminal a track's name wraps, never ends in "…"
    for name, score in results.tracks.items():
        runs = [run for run in results.runs if run.track == name]
        missed = sum(run.status == "ok" and not run.sla_met for run in runs)
        missed_other = [run for run in runs if run.status == "ok" and run.sla_met and run.constraints_met is False]
        which = sorted({added_constraints(run) for run in missed_other})
        failed = [sum(run.status == status for run in runs) for status in ("error", "timeout")]
        counts = map(str, (len(runs), score.passed, missed))
        other = f"{len(missed_other)} ({', '.join(which)})" if missed_other else "0"
        table.add_row(name, track_cell(score), *counts, other, *map(str, failed))
    overall = f"{ratio(results.overall.energy_ratio)} ({percent(results.overall.pass_rate)})"
    table.add_row("overall", overall, *[""] * (len(SUMMARY_COLUMNS) - 2))
    return table


def run(args: argparse.Namespace, console: Console) -> int:
    """Execute the parsed command; returns the exit status."""
    path = args.protocol or args.root / "protocol.yaml"
    if args.protocol is None and not path.is_file():
        raise LeaderboardError(f"{path}: no such file (run from the repository's root, or pass --root or --protocol)")
    protocol = load_protocol(path)
    if args.command == "build":
        for path in write_board(args.root, collect_board(args.root, protocol)):
            console.print(f"wrote {path}")
        return 0
    directories = args.submissions or submission_dirs(args.root)
    if args.command == "evaluate":
        check_output(args.output, args.track, directories)
        partial = partial_protocol(protocol, args.track) if args.track else None
        return evaluate_all(directories, partial or protocol, console, show_progress=not args.no_progress,
                            partial=partial is not None, output=args.output)
    if sandbox_kind() != SANDBOX_BWRAP and not args.allow_unsandboxed:
        raise LeaderboardError("verify re-plays agents in the bubblewrap sandbox, and bwrap is not installed "
                               "(apt-get install bubblewrap); --allow-unsandboxed checks locally without it")
    contexts = functools.cache(functools.partial(open_tracks, protocol))  # opened when first needed, then shared
    rejected = 0
    for directory in directories:
        started = time.perf_counter()
        sample = 10**9 if args.all else args.sample
        try:  # one hostile submission is rejected, the others are still verified
            verdict = verify_submission(
                load_submission(directory), protocol, contexts, sample=sample, seed=args.seed,
                allow_unsandboxed=args.allow_unsandboxed,
            )
        except LeaderboardError as error:
            verdict = Verdict(directory.name, [str(error)])
        elapsed = time.perf_counter() - started
        if verdict.ok:
            console.print(f"[green]OK[/green] {verdict.submission}: re-played {len(verdict.replayed)} run(s) in {elapsed:.1f} s")
        else:
            rejected += 1
            console.print(f"[red]REJECTED[/red] {escape(verdict.submission)}:")
            for reason in verdict.reasons:
                console.print(f"  - {reason}", markup=False, highlight=False)
    return 1 if rejected else 0


def check_output(output: Path | None, tracks: list[str] | None, directories: list[Path]) -> None:
    """Refuse an ``--output`` that could pass for the board's results (one without ``--track``,
    named results.json, or shared by several submissions) or that the agent could read (inside its
    submission's folder).

    Raises:
        LeaderboardError: one line saying which.
    """
    if output is None:
        return
    if not tracks:
        raise LeaderboardError(f"--output is for a partial evaluation (--track NAME); a full one writes {RESULTS_FILE}")
    if output.name.casefold() == RESULTS_FILE.casefold():  # casefold: a case-insensitive file system
        raise LeaderboardError(
            f"--output {output}: {RESULTS_FILE} is the board's name; name the partial results otherwise"
        )
    if len(directories) != 1:
        raise LeaderboardError(f"--output {output}: one submission at a time ({len(directories)} given)")
    target = output.resolve()
    inside = next((folder for folder in directories if target.is_relative_to(folder.resolve())), None)
    if inside is not None:
        # The sandbox shows the submission its own folder: its later runs would read the figures
        # (of a private track too) that the file holds (attack4).
        raise LeaderboardError(f"--output {output}: inside the submission's folder {inside}, which its agent can read; "
                               "write the partial results elsewhere")


def evaluate_all(
    directories: list[Path], protocol: Protocol, console: Console, show_progress: bool, partial: bool = False,
    output: Path | None = None,
) -> int:
    """Evaluate each submission in ``directories``; one that cannot be (a bad submission.yaml or agent
    target, refused before any recording is loaded, or an evaluation that stops with an error) is
    reported and skipped, the others are still evaluated. Returns 2 if any was skipped, else 0.

    ``partial``: ``protocol`` holds only some of the board's tracks (``--track``); the table is
    printed, said to be partial, and no results.json is written or replaced (the board's results
    must hold exactly the protocol's runs); ``output``: where its results go instead (see :func:`check_output`)."""
    submissions, skipped = [], 0

    def skip(error: LeaderboardError) -> None:
        nonlocal skipped
        skipped += 1
        errors = Console(stderr=True, soft_wrap=True)
        errors.print(f"[red]error:[/red] {escape(str(error))} (skipped; the others are still evaluated)",
                     highlight=False)

    for directory in directories:
        try:
            submission = load_submission(directory)
            check_target(submission)
        except LeaderboardError as error:
            skip(error)
            continue
        submissions.append(submission)
    if submissions and sandbox_kind() != SANDBOX_BWRAP:
        console.print("[yellow]bubblewrap (bwrap) is not installed: agents run unsandboxed, results are marked "
                      "'sandbox: none' and will not verify for the public board[/yellow]")
    contexts = open_tracks(protocol) if submissions else []
    for submission in submissions:
        before = submission.results_path.stat().st_mtime_ns if submission.results_path.is_file() else None
        try:
            results = evaluate_submission(
                submission, protocol, contexts, show_progress=show_progress, write=not partial
            )
        except LeaderboardError as error:
            skip(error)
            continue
        console.print(summary_table(results))
        failed = [run for run in results.runs if run.status != "ok"]
        if failed:  # the reason, which is otherwise only inside results.json (printable characters only)
            reason = printable(failed[0].error or "")
            console.print(f"{len(failed)} run(s) failed; the first, {failed[0].key}: {reason}",
                          markup=False, highlight=False)
        if partial:
            console.print(f"partial evaluation (tracks: {', '.join(results.tracks)}): not for the board; "
                          f"{submission.results_path} was not written", markup=False, highlight=False)
            if output is not None:
                console.print(f"wrote the partial results to {write_results(output, results)}", markup=False,
                              highlight=False)
            continue
        unchanged = before is not None and submission.results_path.stat().st_mtime_ns == before
        console.print(f"{'unchanged (same figures)' if unchanged else 'wrote'} {submission.results_path}")
    return 2 if skipped else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; a :class:`LeaderboardError` is printed as one clear message, exit status 2."""
    args = parser().parse_args(argv)
    console = Console(soft_wrap=True)
    try:
        return run(args, console)
    except LeaderboardError as error:
        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {escape(str(error))}", highlight=False)
        return 2
    except KeyboardInterrupt:  # the sandboxes are already torn down and every write is atomic
        message = "interrupted: the submission being played keeps its previous results.json"
        Console(stderr=True, soft_wrap=True).print(message)
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
