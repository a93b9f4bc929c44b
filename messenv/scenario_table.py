"""``python -m messenv.scenario_table DIR``: one Markdown table per scenario from the results.json under DIR.

For each scenario (``scenario=<name>`` runs, see ``conf/scenario``) and each agent: its energy
ratio to that scenario's hindsight oracle (mean ± std over seeds), its pass rate (share of seeds
meeting every constraint: the SLA, and the latency SLO where there is one) and its worst
violation over seeds (of the SLA, and of the latency SLO), or its worst window's mean quality
under a windowed SLA. These are the README's "Scenarios" tables.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Sequence

from messenv.report import KIND_ORDER, Stat
from messenv.results import ResultRow, collect_rows, find_results


def passed(row: ResultRow) -> bool:
    """Every constraint met: ``constraints_met`` where the scenario has several, else ``sla_met``."""
    return bool(row.sla_met if row.constraints_met is None else row.constraints_met)


def scenario_tables(rows: Sequence[ResultRow]) -> str:
    """The Markdown tables, one per scenario, agents in the run's order (oracle and mix last)."""
    groups: dict[str, dict[str, list[ResultRow]]] = defaultdict(lambda: defaultdict(list))
    for row in sorted(rows, key=lambda r: KIND_ORDER.get(r.kind, 9)):
        groups[row.scenario or "none"][row.label].append(row)
    out = []
    for scenario in sorted(groups, key=lambda name: (name != "none", name)):
        agents = groups[scenario]
        latency = any(r.latency_violation is not None for members in agents.values() for r in members)
        windowed = any(r.worst_window_quality is not None for members in agents.values() for r in members)
        first = next(iter(agents.values()))[0]
        seeds = sorted({r.seed for members in agents.values() for r in members})
        out.append(
            f"**{scenario}** ({first.recording}, α = {first.alpha:g}, {first.n_requests} requests, seeds {seeds})\n"
        )
        header = "| agent | energy × oracle | pass rate | worst SLA violation |"
        header += " worst latency violation |" if latency else ""
        header += " worst window quality |" if windowed else ""
        out.append(header)
        out.append("|---" * header.count(" |") + "|")
        for label, members in agents.items():
            ratio = Stat.of(r.energy_ratio for r in members).format(2)
            rate = sum(map(passed, members)) / len(members)
            cells = [label, ratio, f"{rate:.0%}", f"{max(r.sla_violation for r in members):.3f}"]
            if latency:
                cells.append(f"{max(r.latency_violation or 0.0 for r in members):.3f}")
            if windowed:
                cells.append(f"{min(r.worst_window_quality for r in members):.3f}")
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> None:
    """Print the tables of every results.json under the given directories."""
    parser = argparse.ArgumentParser(prog="python -m messenv.scenario_table", description=__doc__.splitlines()[0])
    parser.add_argument("directories", nargs="+", help="run or sweep directories holding results.json files")
    args = parser.parse_args(argv)
    paths = [path for directory in args.directories for path in find_results(directory)]
    if not paths:
        parser.error(f"no results.json under {', '.join(args.directories)}")
    print(scenario_tables(collect_rows(paths)))


if __name__ == "__main__":
    main()
