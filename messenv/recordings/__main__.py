"""Command line for the recording catalogue.

    python -m messenv.recordings list
    python -m messenv.recordings info NAME_OR_PARQUET
    python -m messenv.recordings pull NAME
    python -m messenv.recordings import PATH --name NAME
    python -m messenv.recordings remove NAME

``import`` with a catalogue name verifies a local copy of that entry's files against the
catalogue's sha256; with any other name it imports your own zoo (a MESS+ CSV, a Llama-3 style
tarball, a folder of Qwen2 style JSON files, or a messenv parquet) into the local registry
(:mod:`messenv.recordings.local`), where ``list`` and ``info`` show it as local with its sha256.
``remove`` deletes a local recording, or the cached file of a catalogue recording (``pull`` or
``import`` brings it back). After ``import``, ``pull`` and ``remove``, the numpy copies of
recordings (:mod:`messenv.recordings.arrays`) that no name loads any more are deleted.

Errors (unknown name, sha256 mismatch, failed download, malformed file) end the command with exit
status 1 and one line on stderr that says what is wrong and where.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from messenv.recordings.arrays import remove_unused_copies
from messenv.recordings.catalogue import (
    CatalogueEntry,
    cache_path,
    catalogue,
    checksum_path,
    get_entry,
    import_local,
    is_cached,
    load,
    pull,
)
from messenv.recordings.errors import RecordingError
from messenv.recordings.local import LocalEntry, import_file, local_entries, local_entry, local_files
from messenv.recordings.recording import Recording


def _availability(entry: CatalogueEntry) -> str:
    if entry.synthetic:
        return "generated on use"
    return "cached" if is_cached(entry) else "not cached"


def _list(console: Console) -> None:
    table = Table(title="messenv recordings")
    table.add_column("name", no_wrap=True)
    for column in ("zoo", "models", "benchmarks", "download", "status"):
        table.add_column(column)
    for entry in catalogue().values():
        size = "none (synthetic)" if entry.synthetic else f"{sum(f.size for f in entry.files) / 1e6:.1f} MB"
        table.add_row(
            entry.name,
            entry.zoo,
            str(len(entry.models)),
            str(len(entry.benchmarks)),
            size,
            _availability(entry),
        )
    for local in local_entries().values():
        table.add_row(
            local.name,
            f"yours: {Path(local.source).name}",
            str(len(local.models)),
            str(len(local.benchmarks)),
            "none (local)",
            f"local, sha256 {local.sha256[:12]}…",
        )
    console.print(table)


def _recording_tables(recording: Recording) -> list[Table]:
    """Per-model means and per-benchmark request counts of a loaded recording."""
    models = Table(title=f"{recording.name}: {recording.n_requests:,} requests, models cheapest first")
    for column in ("model", "id", "mean quality", "mean energy (J)", "mean latency (s)"):
        models.add_column(column, justify="left" if column in ("model", "id") else "right")
    for j, label in enumerate(recording.models):
        models.add_row(
            label,
            recording.metadata.model_ids.get(label, ""),
            f"{recording.quality[:, j].mean():.3f}",
            f"{recording.energy_j[:, j].mean():.1f}",
            f"{recording.latency_s[:, j].mean():.3f}",
        )
    benchmarks = Table(title="requests per benchmark")
    benchmarks.add_column("benchmark")
    benchmarks.add_column("requests", justify="right")
    counts = np.bincount(recording.benchmark_index, minlength=len(recording.benchmark_names))
    for name, count in zip(recording.benchmark_names, counts):
        benchmarks.add_row(name, f"{count:,}")
    return [models, benchmarks]


def _entry_table(entry: CatalogueEntry) -> Table:
    """What the catalogue says about an entry."""
    about = Table(title=entry.name, show_header=False)
    about.add_column("field", style="bold")
    about.add_column("value", overflow="fold")
    about.add_row("description", entry.description)
    about.add_row("zoo", entry.zoo)
    about.add_row("models", ", ".join(f"{label} = {model}" for label, model in entry.models.items()))
    about.add_row("benchmarks", ", ".join(entry.benchmarks))
    about.add_row("licence", entry.licence)
    if entry.synthetic:
        about.add_row("generator", f"{entry.generator}(spec={entry.spec}, seed={entry.seed})")
    else:
        about.add_row("converter", entry.converter)
    about.add_row("status", f"{_availability(entry)} ({cache_path(entry)})")
    about.add_row("catalogue file", str(entry.origin))
    return about


def _print_sources(console: Console, entry: CatalogueEntry) -> None:
    """Source files as plain lines, never wrapped, so hashes and URLs can be copied whole."""
    if not entry.files:
        return
    console.print("source files:", style="bold")
    for source in entry.files:
        console.print(f"  {source.name}  {source.size:,} bytes  sha256 {source.sha256}", soft_wrap=True, highlight=False)
        console.print(f"    {source.url}", soft_wrap=True, highlight=False)


def _local_table(entry: LocalEntry) -> Table:
    """What the local registry says about a recording imported under a local name."""
    about = Table(title=f"{entry.name} (local)", show_header=False)
    about.add_column("field", style="bold")
    about.add_column("value", overflow="fold")
    about.add_row("source", entry.source)
    about.add_row("reader", entry.reader)
    about.add_row("imported", entry.imported)
    about.add_row("models", ", ".join(entry.models))
    about.add_row("benchmarks", ", ".join(entry.benchmarks))
    about.add_row("status", f"local ({entry.path})")
    return about


def _info(console: Console, name_or_path: str) -> None:
    local = None if name_or_path in catalogue() else local_entry(name_or_path)
    if local is not None:
        console.print(_local_table(local))
        console.print(f"sha256 {local.sha256}", soft_wrap=True, highlight=False)
    elif name_or_path in catalogue():
        entry = get_entry(name_or_path)
        console.print(_entry_table(entry))
        _print_sources(console, entry)
        if not (entry.synthetic or is_cached(entry)):
            console.print(
                f"Not cached: run `python -m messenv.recordings pull {entry.name}` or "
                f"`python -m messenv.recordings import PATH --name {entry.name}` for per-model figures.",
                soft_wrap=True,
            )
            return
    for table in _recording_tables(load(name_or_path)):
        console.print(table)


def _import(console: Console, path: str, name: str) -> None:
    """A catalogue name verifies a local copy of its files; any other name imports the user's own zoo."""
    if name in catalogue():
        _report_cached(console, import_local(path, name))
        return
    entry = import_file(path, name)
    console.print(
        f"imported {entry.source} as local recording {name!r}: {entry.n_requests:,} requests, "
        f"{len(entry.models)} models ({', '.join(entry.models)}), {len(entry.benchmarks)} benchmarks, "
        f"sha256 {entry.sha256}",
        soft_wrap=True,
        highlight=False,
    )
    console.print(f"use it: python -m messenv.run env.recording={name}", soft_wrap=True, highlight=False)


def _report_cached(console: Console, path: Path) -> None:
    recording = load(path)
    console.print(
        f"cached {recording.name!r} at {path}: {recording.n_requests:,} requests, "
        f"{recording.n_models} models ({', '.join(recording.models)}), {len(recording.benchmark_names)} benchmarks"
    )


def _recording_files() -> list[Path]:
    """The parquet file each name loads: every local recording's and every catalogue recording's cache."""
    return [entry.path for entry in local_entries().values()] + [cache_path(entry) for entry in catalogue().values()]


def _remove_unused_copies(console: Console) -> None:
    """Delete the numpy copies no recording uses any more (see :func:`remove_unused_copies`), and say
    so. With a registry entry that cannot be read, which recordings are in use is not known: every
    copy is kept, and the command that ran before this cleanup still succeeds."""
    try:
        in_use = _recording_files()
    except RecordingError as error:
        console.print(f"kept every numpy copy: {error}", soft_wrap=True, highlight=False)
        return
    removed = [path for path in remove_unused_copies(in_use) if path.suffix == ".npz"]
    if removed:
        console.print(f"deleted {len(removed)} numpy cop{'y' if len(removed) == 1 else 'ies'} no recording uses "
                      f"any more ({removed[0].parent})", soft_wrap=True, highlight=False)


def _files_of(name: str) -> tuple[str, Path, list[Path]]:
    """What ``remove NAME`` deletes: (what it is, its recording, its files in deletion order). A
    local recording's registry entry goes first, so a name never points at a missing file; an
    entry that cannot be read is deleted too (nothing else can remove it).

    Raises:
        RecordingError: a name that is neither local nor in the catalogue (the known ones are listed).
    """
    if name not in catalogue():
        try:
            local = local_entry(name)
        except RecordingError:
            entry, recording = local_files(name)
            return "unreadable local recording", recording, [entry, recording]
        if local is not None:
            return "local recording", local.path, [local.path.with_suffix(".json"), local.path]
    recording = cache_path(get_entry(name))
    return "cached catalogue recording", recording, [recording, checksum_path(recording)]


def _remove(console: Console, name: str) -> None:
    """Delete a local recording, or a catalogue recording's cached file and its recorded sha256."""
    kind, recording, files = _files_of(name)
    present = [path for path in files if path.exists()]
    for path in present:
        path.unlink()
    done = f"removed {kind} {name!r} ({recording})" if present else f"{name!r} is not cached: nothing to remove"
    console.print(done, soft_wrap=True, highlight=False)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m messenv.recordings", description="The messenv recording catalogue.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the catalogue and what is cached")
    info = commands.add_parser("info", help="describe a recording (catalogue or local name, or a file path)")
    info.add_argument("name", metavar="NAME_OR_PARQUET")
    pull_cmd = commands.add_parser("pull", help="download, verify (sha256), convert and cache a recording")
    pull_cmd.add_argument("name", metavar="NAME")
    import_cmd = commands.add_parser(
        "import",
        help="convert and cache a local copy of a catalogue recording (sha256-checked), "
        "or your own zoo under a new name",
    )
    import_cmd.add_argument(
        "path",
        metavar="PATH",
        help="a MESS+ .csv (UTF-8), a .tar.gz of CSVs, a .jsonl (a record a line) or .json (an array of records) "
        "of the CSV's columns, a .parquet (a recording, or a table of the CSV's columns), or a folder of "
        "*_qwen.json files",
    )
    import_cmd.add_argument(
        "--name", required=True, help="a catalogue name (its files are checked against its sha256), or a new local name"
    )
    remove_cmd = commands.add_parser(
        "remove", help="delete a local recording, or a catalogue recording's cached file (pull or import it again)"
    )
    remove_cmd.add_argument("name", metavar="NAME")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    console = Console()
    try:
        if args.command == "list":
            _list(console)
        elif args.command == "info":
            _info(console, args.name)
        elif args.command == "pull":
            _report_cached(console, pull(args.name))
        elif args.command == "remove":
            _remove(console, args.name)
        else:
            _import(console, args.path, args.name)
        if args.command in ("pull", "import", "remove"):  # each may have replaced or removed a recording
            _remove_unused_copies(console)
    except (RecordingError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
