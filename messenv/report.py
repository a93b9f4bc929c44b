"""Aggregate results.json files into tables (mean ± std over seeds) and a Pareto plot.

``python -m messenv.report DIR`` reads every results.json under DIR (a single run, a Hydra
multirun sweep, or a grid run), groups rows by task (recording, benchmarks, α) and by agent
configuration (name and parameters), and prints one table per task. Seeds are what varies
inside a group, so mean ± std is the spread over seeds. It writes ``pareto.png`` (energy vs
quality per task) and ``report.json`` (the aggregated numbers) into DIR.

The same tables are what ``python -m messenv.run`` prints at the end of a run.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from messenv.atomic import atomic_write_text
from messenv.results import (
    AGENT,
    BASELINE,
    ORACLE,
    STATIC_MIX,
    ResultRow,
    collect_rows,
    find_results,
)

KIND_ORDER = {AGENT: 0, BASELINE: 1, ORACLE: 2, STATIC_MIX: 3}
# A shortfall below α smaller than this is the float noise of a mean over seeds, not a miss: a run's
# mean quality is k/T, so a real shortfall is at least 1/T (1e-7 for a 10^7-request episode).
SHORTFALL_NOISE = 1e-9


@dataclass(frozen=True)
class Stat:
    """Mean and sample standard deviation of one metric over a group's seeds (NaNs ignored)."""

    mean: float
    std: float
    n: int

    @classmethod
    def of(cls, values: Iterable[float]) -> Stat:
        array = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
        if array.size == 0:
            return cls(float("nan"), float("nan"), 0)
        std = float(array.std(ddof=1)) if array.size > 1 else 0.0
        return cls(float(array.mean()), std, int(array.size))

    def format(self, digits: int = 3, mean_text: str | None = None) -> str:
        """``mean ± std`` (just the mean for one value, ``-`` for none); ``mean_text`` replaces the
        mean's own rounding (see :meth:`Group.quality_text`)."""
        if self.n == 0:
            return "-"
        mean = f"{self.mean:.{digits}f}" if mean_text is None else mean_text
        return mean if self.n == 1 else f"{mean} ± {self.std:.{digits}f}"


@dataclass(frozen=True)
class TaskKey:
    """What makes two rows comparable: the same kind of stream, under the same SLA, seen through
    the same features and feedback."""

    recording: str
    benchmarks: tuple[str, ...] | None
    alpha: float
    n_requests: int
    feedback_rate: float = 1.0
    features: str | None = None

    def sort_key(self) -> tuple:
        return (
            self.recording,
            self.benchmarks or (),
            self.alpha,
            self.n_requests,
            self.feedback_rate,
            self.features or "",
        )

    def title(self) -> str:
        which = "all benchmarks" if self.benchmarks is None else ", ".join(self.benchmarks)
        feedback = f"  feedback {self.feedback_rate:g}" if self.feedback_rate < 1 else ""
        features = f"  features {self.features}" if self.features else ""
        return f"{self.recording} ({which})  α = {self.alpha:g}  T = {self.n_requests}{feedback}{features}"


@dataclass(frozen=True)
class Group:
    """One agent configuration on one task, over its seeds."""

    task: TaskKey
    label: str
    kind: str
    params: dict
    seeds: tuple[int, ...]
    energy_kj: Stat
    energy_ratio: Stat
    quality: Stat
    sla_met: int
    violation: Stat
    exploration_share: Stat
    model_share: dict[str, float]

    @property
    def missed(self) -> bool:
        """Some seed of the group missed α."""
        return self.sla_met < len(self.seeds)

    def quality_mean_text(self, digits: int = 3) -> str:
        """The mean quality to ``digits`` decimals, rounded DOWN where rounding would carry a mean
        below α up to it: 0.69959 against α = 0.7 reads 0.699, not 0.700, which would look met. Only
        in a group where a seed missed α (a reference that met α up to its LP's tolerance keeps its
        0.700), and only for a shortfall above :data:`SHORTFALL_NOISE`."""
        mean = self.quality.mean
        text = f"{mean:.{digits}f}"
        if self.missed and mean < self.task.alpha - SHORTFALL_NOISE and float(text) >= self.task.alpha:
            text = str(Decimal(mean).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_FLOOR))  # exact floor
        return text

    def violation_mean_text(self, digits: int = 3) -> str:
        """The mean SLA violation to ``digits`` decimals, ``<0.001`` (for 3) where the violation of a
        group that missed α would round to zero (above :data:`SHORTFALL_NOISE`)."""
        mean = self.violation.mean
        text = f"{mean:.{digits}f}"
        if self.missed and mean > SHORTFALL_NOISE and float(text) == 0:
            text = f"<{10.0**-digits:.{digits}f}"
        return text

    def quality_text(self, digits: int = 3) -> str:
        """Mean quality ± std over seeds, never rounded up across α (:meth:`quality_mean_text`)."""
        return self.quality.format(digits, self.quality_mean_text(digits))

    def violation_text(self, digits: int = 3) -> str:
        """Mean violation ± std over seeds, never rounded to zero (:meth:`violation_mean_text`)."""
        return self.violation.format(digits, self.violation_mean_text(digits))

    def params_text(self, keys: Iterable[str] | None = None) -> str:
        """``k=v`` pairs of the parameters (only ``keys``, if given)."""
        shown = self.params if keys is None else {k: self.params[k] for k in keys if k in self.params}
        return " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in shown.items())


def task_of(row: ResultRow) -> TaskKey:
    """The task a row was played on."""
    benchmarks = None if row.benchmarks is None else tuple(row.benchmarks)
    return TaskKey(row.recording, benchmarks, float(row.alpha), row.n_requests, float(row.feedback_rate), row.features)


def aggregate(rows: Sequence[ResultRow]) -> list[Group]:
    """Group rows by task and agent configuration; sort agent first, references last.

    A row repeated with the same seed is counted once: in a sweep over agents every job replays
    the same baselines and oracle on the same streams, and an agent of one job (``agent=ucb1``)
    is a baseline of another; such a group takes the kind listed first in ``KIND_ORDER``.
    """
    buckets: dict[tuple, dict[int, ResultRow]] = defaultdict(dict)
    kinds: dict[tuple, set[str]] = defaultdict(set)
    for row in rows:
        params = {k: v for k, v in row.params.items() if v is not None}
        key = (task_of(row), row.label, json.dumps(params, sort_keys=True))
        buckets[key].setdefault(row.seed, row)
        kinds[key].add(row.kind)
    groups = []
    for (task, label, params), by_seed in buckets.items():
        members = list(by_seed.values())
        models = list(members[0].model_share)
        groups.append(
            Group(
                task=task,
                label=label,
                kind=min(kinds[(task, label, params)], key=lambda kind: KIND_ORDER.get(kind, len(KIND_ORDER))),
                params=json.loads(params),
                seeds=tuple(sorted(r.seed for r in members)),
                energy_kj=Stat.of(r.total_energy_j / 1000.0 for r in members),
                energy_ratio=Stat.of(r.energy_ratio for r in members),
                quality=Stat.of(r.mean_quality for r in members),
                sla_met=sum(bool(r.sla_met) for r in members),
                violation=Stat.of(r.sla_violation for r in members),
                exploration_share=Stat.of(r.exploration_share for r in members),
                model_share={m: float(np.mean([r.model_share.get(m, 0.0) for r in members])) for m in models},
            )
        )
    groups.sort(key=lambda g: (g.task.sort_key(), KIND_ORDER.get(g.kind, 9), g.label, _sortable(g.params)))
    return groups


def _sortable(params: dict) -> tuple:
    """Parameters as a sort key that orders numbers numerically (1e-05 before 0.001)."""
    return tuple((k, (0, v, "") if isinstance(v, (int, float)) else (1, 0, str(v))) for k, v in sorted(params.items()))


def by_task(groups: Sequence[Group]) -> dict[TaskKey, list[Group]]:
    """Groups split per task, in order."""
    tasks: dict[TaskKey, list[Group]] = defaultdict(list)
    for group in groups:
        tasks[group.task].append(group)
    return dict(tasks)


def varying_parameters(groups: Sequence[Group]) -> dict[str, list[str]]:
    """Per agent label, the parameters whose values differ between its groups (what was swept)."""
    values: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for group in groups:
        members = [g for g in groups if g.label == group.label]
        for key in set().union(*(g.params for g in members)):
            values[group.label][key].add(repr(group.params.get(key)))
    return {label: sorted(k for k, seen in keys.items() if len(seen) > 1) for label, keys in values.items()}


def task_table(task: TaskKey, groups: Sequence[Group]) -> Table:
    """A rich table of every agent configuration on one task (swept parameters shown, not all).

    Model columns are the share of requests each model answered alone; ``explore`` is the share
    on which every model was queried.
    """
    models = list(dict.fromkeys(m for g in groups for m in g.model_share))
    swept = varying_parameters(groups)
    show_params = any(swept.values())
    table = Table(title=escape(task.title()), title_justify="left")
    headers = [
        "agent",
        *(["params"] if show_params else []),
        "seeds",
        "energy kJ",
        "×oracle",
        "quality",
        "SLA met",
        "violation",
        "explore",
        *models,
    ]
    for header in headers:
        table.add_column(header, justify="left" if header in ("agent", "params") else "right")
    for group in groups:
        style = "bold" if group.kind == AGENT else ("dim" if group.kind in (ORACLE, STATIC_MIX) else None)
        table.add_row(
            group.label,
            *([group.params_text(swept.get(group.label, []))] if show_params else []),
            str(len(group.seeds)),
            group.energy_kj.format(1),
            group.energy_ratio.format(2),
            group.quality_text(3),
            f"{group.sla_met}/{len(group.seeds)}",
            group.violation_text(3),
            group.exploration_share.format(3),
            *(f"{group.model_share.get(m, 0.0):.2f}" for m in models),
            style=style,
        )
    return table


def print_tables(groups: Sequence[Group], console: Console | None = None) -> None:
    """Print one table per task; a table wider than the console is printed at its full width
    (the terminal wraps it) rather than with its numbers cut to "…"."""
    console = console or Console()
    for task, members in by_task(groups).items():
        table = task_table(task, members)
        needed = console.measure(table, options=console.options.update_width(10_000)).maximum
        width = console.width
        console.width = max(width, needed)
        console.print(table)
        console.width = width


def markdown_table(groups: Sequence[Group]) -> str:
    """One Markdown table, agents × tasks: each cell ``ratio× · quality · met/seeds``.

    The compact form of :func:`print_tables` for a README or a paper: energy as a ratio to the
    hindsight oracle, mean quality over seeds, and on how many seeds the SLA was met.
    """
    tasks = list(by_task(groups))
    one_recording = len({t.recording for t in tasks}) == 1
    columns = [  # the benchmarks and α where that names the task, else its full title (α included)
        f"{', '.join(task.benchmarks)} (α {task.alpha:g})" if task.benchmarks and one_recording else task.title()
        for task in tasks
    ]
    header = "| agent | " + " | ".join(columns) + " |"
    lines = [header, "|---|" + "---|" * len(tasks)]
    cells: dict[str, dict[TaskKey, str]] = defaultdict(dict)
    varying = varying_parameters(groups)
    for group in groups:
        name = f"{group.label} {group.params_text(varying.get(group.label, []))}".strip()
        cells[name][group.task] = (
            f"{group.energy_ratio.mean:.2f}× · {group.quality_mean_text(3)} · {group.sla_met}/{len(group.seeds)}"
        )
    for name, row in cells.items():
        lines.append(f"| {name} | " + " | ".join(row.get(task, "-") for task in tasks) + " |")
    return "\n".join(lines) + "\n"


def report_json(groups: Sequence[Group]) -> str:
    """The aggregated groups as JSON (one object per group)."""
    return json.dumps([asdict(g) for g in groups], indent=2) + "\n"


def synthetic_recordings(paths: Iterable[Path]) -> set[str]:
    """Names of the recordings that results files say are synthetic (marked so in the plots)."""
    names = set()
    for path in paths:
        identity = json.loads(path.read_text(encoding="utf-8")).get("recording") or {}
        if identity.get("synthetic"):
            names.add(str(identity.get("name")))
    return names


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m messenv.report DIR``: tables on stdout, pareto.png and report.json in DIR."""
    parser = argparse.ArgumentParser(prog="python -m messenv.report", description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="a run or sweep directory holding results.json files")
    parser.add_argument("--no-plot", action="store_true", help="skip pareto.png")
    parser.add_argument(
        "--markdown", action="store_true", help="print one Markdown table (agents x tasks) instead of rich tables"
    )
    args = parser.parse_args(argv)
    if not args.directory.is_dir():
        print(f"messenv.report: error: {args.directory} is not a directory", file=sys.stderr)
        return 2
    paths = find_results(args.directory)
    if not paths:
        print(f"messenv.report: error: no results.json under {args.directory}", file=sys.stderr)
        return 2
    try:
        groups = aggregate(collect_rows(paths))
    except ValueError as exc:
        print(f"messenv.report: error: {exc}", file=sys.stderr)
        return 2
    console = Console()
    if args.markdown:
        print(markdown_table(groups), end="")
    else:
        console.print(f"{len(paths)} results file(s) under {args.directory}")
        print_tables(groups, console)
    atomic_write_text(args.directory / "report.json", report_json(groups))
    if not args.no_plot:
        from messenv.plots import pareto_plot

        plot = pareto_plot(groups, args.directory / "pareto.png", synthetic_recordings(paths))
        console.print(f"wrote {plot}", soft_wrap=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
