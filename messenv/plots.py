"""PNG plots of a run and of a sweep (matplotlib, headless).

Run plots answer "how did the episode unfold": running quality against the SLA, cumulative energy
against the hindsight oracle, and which model answered over time. The sweep plot answers "which
configuration is worth it": energy against quality per task (a Pareto view).

Figures are built with the object-oriented API (``matplotlib.figure.Figure``), not pyplot: no
global state, no GUI backend, safe in worker processes; files are written atomically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from messenv.atomic import atomic_path

MAX_POINTS = 2000  # per line: enough for a smooth curve, keeps files small on long streams
# The two reference points look the same in every Pareto panel: oracle a black star, mix a grey square.
REFERENCE_STYLE = {"oracle": ("black", "*"), "static_mix": ("dimgray", "s")}


def _save(figure: Figure, path: str | Path) -> Path:
    path = Path(path)
    figure.tight_layout()
    with atomic_path(path) as temp:
        figure.savefig(temp, dpi=120, format="png")
    return path


def _thin(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Step numbers (1-based) and values, subsampled to at most MAX_POINTS points."""
    steps = np.arange(1, len(values) + 1)
    stride = max(1, len(values) // MAX_POINTS)
    keep = np.r_[np.arange(0, len(values), stride), len(values) - 1] if len(values) else np.arange(0)
    return steps[keep], np.asarray(values)[keep]


def running_quality_plot(running_quality: Mapping[str, np.ndarray], alpha: float, path: str | Path) -> Path:
    """Running mean quality of each agent over the stream, with the SLA α as a dashed line.

    The first agent (the one evaluated) is drawn thicker than the baselines.
    """
    figure = Figure(figsize=(7, 4))
    axes = figure.add_subplot()
    for index, (label, values) in enumerate(running_quality.items()):
        axes.plot(*_thin(values), label=label, linewidth=2.2 if index == 0 else 1.0)
    axes.axhline(alpha, color="black", linestyle="--", linewidth=1, label=f"α = {alpha:g}")
    axes.set(xlabel="request", ylabel="running mean quality", title="Running quality vs the SLA")
    axes.legend(fontsize="small", ncol=2)
    return _save(figure, path)


def cumulative_energy_plot(
    energy_j: Mapping[str, np.ndarray], oracle_cumulative_j: np.ndarray, path: str | Path
) -> Path:
    """Cumulative energy (kJ) of each agent (the first drawn thicker) and of the hindsight oracle,
    log scale (agents differ by orders of magnitude)."""
    figure = Figure(figsize=(7, 4))
    axes = figure.add_subplot()
    for index, (label, values) in enumerate(energy_j.items()):
        steps, cumulative = _thin(np.cumsum(values))
        axes.plot(steps, cumulative / 1000.0, label=label, linewidth=2.2 if index == 0 else 1.0)
    steps, cumulative = _thin(np.asarray(oracle_cumulative_j))
    axes.plot(steps, cumulative / 1000.0, color="black", linestyle="--", linewidth=1.2, label="oracle")
    axes.set(xlabel="request", ylabel="cumulative energy (kJ)", title="Cumulative energy vs the oracle")
    axes.set_yscale("log")
    axes.legend(fontsize="small", ncol=2)
    return _save(figure, path)


def model_share_plot(actions: np.ndarray, action_labels: Sequence[str], path: str | Path, title: str) -> Path:
    """Share of each action (model, or explore) in a sliding window over the stream, stacked."""
    actions = np.asarray(actions)
    window = max(1, min(200, len(actions) // 20))
    onehot = actions[:, None] == np.arange(len(action_labels))[None, :]
    kernel = np.ones(window) / window
    shares = np.stack([np.convolve(onehot[:, a], kernel, mode="valid") for a in range(len(action_labels))])
    steps = np.arange(window, len(actions) + 1)
    stride = max(1, len(steps) // MAX_POINTS)
    figure = Figure(figsize=(7, 4))
    axes = figure.add_subplot()
    axes.stackplot(steps[::stride], shares[:, ::stride], labels=list(action_labels))
    axes.set(xlabel="request", ylabel=f"share (window of {window})", ylim=(0, 1), title=title)
    axes.legend(fontsize="small", loc="upper right")
    return _save(figure, path)


def pareto_plot(groups: Sequence, path: str | Path) -> Path:
    """Energy vs quality per task: one point per agent configuration (± std over seeds).

    ``groups`` are :class:`messenv.report.Group`. One panel per task with the SLA as a dashed
    line; points on the Pareto front (no other point both cheaper and at least as good) are
    ringed. A configuration keeps its colour and marker in every panel; one legend for all.
    """
    from messenv.report import by_task, varying_parameters

    tasks = by_task(groups)
    swept = varying_parameters(groups)
    names = list(dict.fromkeys(_config_name(g, swept) for g in groups if g.kind not in REFERENCE_STYLE))
    colours = {name: f"C{i % 10}" for i, name in enumerate(names)}
    markers = {name: "ovD^<>ph"[(i // 10) % 8] for i, name in enumerate(names)}
    for kind, (colour, marker) in REFERENCE_STYLE.items():
        colours[kind], markers[kind] = colour, marker
    columns = min(4, len(tasks))
    rows = -(-len(tasks) // columns)
    figure = Figure(figsize=(4.2 * columns + 3.0, 3.6 * rows))
    handles = {}
    for index, (task, members) in enumerate(tasks.items()):
        axes = figure.add_subplot(rows, columns, index + 1)
        energy = np.array([g.energy_kj.mean for g in members])
        quality = np.array([g.quality.mean for g in members])
        for group, x, y in zip(members, energy, quality):
            name = _config_name(group, swept)
            style = group.kind if group.kind in REFERENCE_STYLE else name
            marker = markers[style]
            handles[name] = axes.errorbar(
                x,
                y,
                xerr=group.energy_kj.std,
                yerr=group.quality.std,
                fmt=marker,
                color=colours[style],
                markersize=6 if marker == "*" else 4,
                capsize=2,
                elinewidth=0.8,
            )
        front = _pareto_front(energy, quality)
        axes.scatter(energy[front], quality[front], s=110, facecolors="none", edgecolors="black", linewidths=0.8)
        axes.axhline(task.alpha, color="black", linestyle="--", linewidth=1)
        if energy.min() > 0 and energy.max() / energy.min() > 20:
            axes.set_xscale("log")
        axes.set_xlabel("energy (kJ)")
        axes.set_ylabel("mean quality")
        axes.set_title(task.title(), fontsize="small")
    figure.legend(list(handles.values()), list(handles), loc="outside right upper", fontsize="x-small")
    figure.set_layout_engine("constrained")
    with atomic_path(Path(path)) as temp:
        figure.savefig(temp, dpi=120, format="png")
    return Path(path)


def _config_name(group, swept: dict[str, list[str]]) -> str:
    params = group.params_text(swept.get(group.label, []))
    return f"{group.label} {params}".strip()


def _pareto_front(energy: np.ndarray, quality: np.ndarray) -> list[int]:
    """Indices of points no other point dominates (cheaper or equal AND better or equal, one strictly)."""
    return [
        i
        for i in range(len(energy))
        if not np.any((energy <= energy[i]) & (quality >= quality[i]) & ((energy < energy[i]) | (quality > quality[i])))
    ]


def regret_plot(
    energy_regret_j: Mapping[str, np.ndarray], shortfall: Mapping[str, np.ndarray], alpha: float, path: str | Path,
    title: str,
) -> Path:
    """Two panels over the stream, one line per agent: cumulative energy above the hindsight oracle
    (kJ; symlog, as agents differ by orders of magnitude) and cumulative SLA shortfall
    ``max(0, α·t − Σ quality)`` (answers short of the SLA so far); both mappings have the same agents."""
    figure = Figure(figsize=(11, 4))
    energy_axes, shortfall_axes = figure.subplots(1, 2)
    for index, (label, values) in enumerate(energy_regret_j.items()):
        style = {"label": label, "linewidth": 1.4, "linestyle": ("-", "--", ":")[index % 3]}
        energy_axes.plot(*_thin(np.asarray(values) / 1000.0), **style)
        shortfall_axes.plot(*_thin(shortfall[label]), **style)
    energy_axes.axhline(0.0, color="black", linewidth=0.8)
    energy_axes.set_yscale("symlog", linthresh=1.0)
    energy_axes.set(xlabel="request", ylabel="energy above the oracle (kJ)", title="Cumulative energy regret")
    shortfall_axes.set(
        xlabel="request", ylabel="answers short of α·t", title=f"Cumulative SLA shortfall (α = {alpha:g})"
    )
    energy_axes.legend(fontsize="small")
    figure.suptitle(title)
    return _save(figure, path)
