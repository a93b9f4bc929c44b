"""PNG plots of a run and of a sweep (matplotlib, headless).

Run plots answer "how did the episode unfold": running quality against the SLA, cumulative energy
against the hindsight oracle, and which model answered over time. The sweep plot answers "which
configuration is worth it": energy against quality per task (a Pareto view).

Figures are built with the object-oriented API (``matplotlib.figure.Figure``), not pyplot: no
global state, no GUI backend, safe in worker processes; files are written atomically.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from messenv.atomic import atomic_path

MAX_POINTS = 2000  # per line: enough for a smooth curve, keeps files small on long streams
# Reference rows look the same in every plot: oracle black (dashed line, star), static mix grey
# (dash-dot line, square); no agent gets black or grey (see PALETTE).
REFERENCE_STYLE = {"oracle": ("black", "*"), "static_mix": ("dimgray", "s")}
REFERENCE_LINE = {"oracle": "--", "static_mix": "-."}
SLA_COLOUR = "firebrick"
# tab20 without its two greys (they would read as the static mix), strong shades first: 18 colours.
PALETTE: tuple = tuple(colormaps["tab20"].colors[i] for i in (*range(0, 20, 2), *range(1, 20, 2)) if i not in (14, 15))
MARKERS = "ovD^<>ph"
LINESTYLES = ("-", "--", "-.", ":")


@dataclass(frozen=True)
class RunCaption:
    """What a run's plots show: the title every run plot carries, so a figure stands on its own."""

    recording: str
    benchmarks: Sequence[str] | None
    alpha: float
    seed: int
    synthetic: bool = False

    def text(self) -> str:
        which = "all benchmarks" if not self.benchmarks else ", ".join(self.benchmarks)
        zoo = "SYNTHETIC zoo (not measured): " if self.synthetic else ""
        return f"{zoo}{self.recording} ({which}) · α = {self.alpha:g} · seed {self.seed}"


def style_of(index: int) -> tuple[tuple[float, ...], str]:
    """The ``index``-th (colour, marker) pair: colours and markers both cycle, so the first 72
    pairs (the least common multiple of 18 colours and 8 markers) are all distinct."""
    return PALETTE[index % len(PALETTE)], MARKERS[index % len(MARKERS)]


def energy_unit(max_joules: float) -> tuple[float, str]:
    """(divisor, unit) so that energies up to ``max_joules`` read as J, kJ, MJ or GJ."""
    for divisor, unit in ((1e9, "GJ"), (1e6, "MJ"), (1e3, "kJ")):
        if max_joules >= divisor:
            return divisor, unit
    return 1.0, "J"


SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_of_ten_label(value: float, _position: object = None) -> str:
    """A log axis's decade tick as plain text, ``10³`` (``10⁻²``, ``1`` for 10⁰): it reads like
    matplotlib's default label but needs no mathtext, whose parser costs ~0.1 s of CPU per process."""
    if value <= 0:
        return ""
    exponent = round(float(np.log10(value)))
    if not np.isclose(value, 10.0**exponent):
        return f"{value:g}"
    return "1" if exponent == 0 else f"10{str(exponent).translate(SUPERSCRIPT)}"


def _caption(figure: Figure, caption: RunCaption | None) -> None:
    if caption is not None:
        colour = SLA_COLOUR if caption.synthetic else "black"
        figure.suptitle(
            caption.text(), fontsize="medium", color=colour, fontweight="bold" if caption.synthetic else None
        )


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


def mark_changes(axes, marks: Sequence[tuple[int, str]]) -> None:
    """Vertical lines where a scenario changes the stream (a phase, a window, a zoo change), each
    labelled at the top of the axes; repeated labels (``window``) are written once."""
    written = set()
    for step, label in marks:
        axes.axvline(step, color="grey", linestyle=":" if label == "window" else "-", linewidth=0.8, alpha=0.7)
        if label not in written:
            axes.annotate(label, (step, 1.0), xycoords=("data", "axes fraction"), fontsize="x-small",
                          rotation=90, va="top", ha="right", color="dimgray")  # fmt: skip
            written.add(label)


def _agent_line(axes, index: int, label: str, steps: np.ndarray, values: np.ndarray, n_lines: int) -> None:
    """One agent's line: its own colour, line style and markers, the markers of each line offset
    along the stream so that lines lying on top of each other (bandits at α) stay tellable apart.
    The evaluated agent (index 0) is thicker and drawn on top."""
    colour, marker = style_of(index)
    every = max(1, len(steps) // 8)
    axes.plot(
        steps,
        values,
        label=label,
        color=colour,
        linestyle=LINESTYLES[index % len(LINESTYLES)],
        marker=marker,
        markevery=(int(every * index / max(1, n_lines)), every),
        markersize=5,
        linewidth=2.4 if index == 0 else 1.2,
        zorder=4 if index == 0 else 3,
    )


def _reference_line(axes, name: str, steps: np.ndarray, values: np.ndarray) -> None:
    colour, _ = REFERENCE_STYLE[name]
    axes.plot(steps, values, label=name, color=colour, linestyle=REFERENCE_LINE[name], linewidth=1.4, zorder=2)


def running_quality_figure(
    running_quality: Mapping[str, np.ndarray],
    alpha: float,
    references: Mapping[str, np.ndarray] | None = None,
    caption: RunCaption | None = None,
    marks: Sequence[tuple[int, str]] = (),
) -> Figure:
    """Running mean quality of each agent over the stream, the SLA α, and the references.

    ``references`` (``oracle``, ``static_mix``) are their running quality on the same stream: the
    oracle's per-request allocation, the static mix's expected quality ``w·a_t``. The y-axis spans
    the values from the first 5 % of the stream on: the first few requests swing between 0 and 1.
    ``marks`` (step, label) are a scenario's phase changes and windows
    (:meth:`messenv.env.scenario.Scenario.marks`).
    """
    figure = Figure(figsize=(9, 4.6))
    axes = figure.add_subplot()
    lines = dict(running_quality)
    for index, (label, values) in enumerate(lines.items()):
        _agent_line(axes, index, label, *_thin(values), len(lines))
    for name, values in (references or {}).items():
        _reference_line(axes, name, *_thin(values))
    axes.axhline(alpha, color=SLA_COLOUR, linewidth=1.2, label=f"SLA α = {alpha:g}", zorder=1)
    settled = [np.asarray(v)[max(1, len(v) // 20) :] for v in [*lines.values(), *(references or {}).values()]]
    settled = [v for v in settled if len(v)]
    if settled:
        low = min(alpha, *(float(v.min()) for v in settled))
        high = max(alpha, *(float(v.max()) for v in settled))
        pad = max(0.01, 0.08 * (high - low))
        axes.set_ylim(max(0.0, low - pad), min(1.0, high + pad))
    mark_changes(axes, marks)
    axes.set(xlabel="request", ylabel="running mean quality", title="Running quality vs the SLA")
    axes.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    _caption(figure, caption)
    return figure


def running_quality_plot(
    running_quality: Mapping[str, np.ndarray],
    alpha: float,
    path: str | Path,
    references: Mapping[str, np.ndarray] | None = None,
    caption: RunCaption | None = None,
    marks: Sequence[tuple[int, str]] = (),
) -> Path:
    """:func:`running_quality_figure` written to ``path`` (PNG)."""
    return _save(running_quality_figure(running_quality, alpha, references, caption, marks), path)


def cumulative_energy_figure(
    energy_j: Mapping[str, np.ndarray], oracle_cumulative_j: np.ndarray, caption: RunCaption | None = None
) -> Figure:
    """Cumulative energy of each agent (styled as in the running-quality plot) and of the hindsight
    oracle, log scale (agents differ by orders of magnitude), in J, kJ or MJ as the totals need."""
    cumulative = {label: np.cumsum(values) for label, values in energy_j.items()}
    totals = [float(c[-1]) for c in cumulative.values() if len(c)] + [float(np.max(oracle_cumulative_j, initial=0))]
    divisor, unit = energy_unit(max(totals, default=0.0))
    figure = Figure(figsize=(9, 4.6))
    axes = figure.add_subplot()
    for index, (label, values) in enumerate(cumulative.items()):
        steps, thinned = _thin(values)
        _agent_line(axes, index, label, steps, thinned / divisor, len(cumulative))
    steps, thinned = _thin(np.asarray(oracle_cumulative_j))
    _reference_line(axes, "oracle", steps, thinned / divisor)
    axes.set(xlabel="request", ylabel=f"cumulative energy ({unit})", title="Cumulative energy vs the oracle")
    axes.set_yscale("log")
    axes.yaxis.set_major_formatter(FuncFormatter(power_of_ten_label))
    axes.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    _caption(figure, caption)
    return figure


def cumulative_energy_plot(
    energy_j: Mapping[str, np.ndarray],
    oracle_cumulative_j: np.ndarray,
    path: str | Path,
    caption: RunCaption | None = None,
) -> Path:
    """:func:`cumulative_energy_figure` written to ``path`` (PNG)."""
    return _save(cumulative_energy_figure(energy_j, oracle_cumulative_j, caption), path)


def model_share_plot(
    actions: np.ndarray,
    action_labels: Sequence[str],
    path: str | Path,
    title: str,
    caption: RunCaption | None = None,
    marks: Sequence[tuple[int, str]] = (),
) -> Path:
    """Share of each action (model, or explore) in a sliding window over the stream, stacked;
    ``marks`` (step, label) are where a scenario changed the zoo."""
    actions = np.asarray(actions)
    window = max(1, min(200, len(actions) // 20))
    onehot = actions[:, None] == np.arange(len(action_labels))[None, :]
    kernel = np.ones(window) / window
    shares = np.stack([np.convolve(onehot[:, a], kernel, mode="valid") for a in range(len(action_labels))])
    steps = np.arange(window, len(actions) + 1)
    stride = max(1, len(steps) // MAX_POINTS)
    figure = Figure(figsize=(9, 4.6))
    axes = figure.add_subplot()
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(action_labels))]
    axes.stackplot(steps[::stride], shares[:, ::stride], labels=list(action_labels), colors=colours)
    mark_changes(axes, marks)
    axes.set(xlabel="request", ylabel=f"share (window of {window})", ylim=(0, 1), title=title)
    axes.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    _caption(figure, caption)
    return _save(figure, path)


def pareto_figure(groups: Sequence, synthetic: Collection[str] = ()) -> Figure:
    """Energy vs quality per task: one point per agent configuration (± std over seeds).

    ``groups`` are :class:`messenv.report.Group`; ``synthetic`` names the recordings that are
    synthetic, marked so in their panels' titles. One panel per task with the SLA as a dashed
    line; points on the Pareto front (no other point both cheaper and at least as good) are
    ringed. A configuration keeps its colour and marker in every panel (no two share both, and
    none is black or grey like the references); one legend for all, explaining the ring and line.
    """
    from messenv.report import by_task, varying_parameters

    tasks = by_task(groups)
    swept = varying_parameters(groups)
    names = list(dict.fromkeys(_config_name(g, swept) for g in groups if g.kind not in REFERENCE_STYLE))
    styles = {name: style_of(i) for i, name in enumerate(names)}
    styles.update(REFERENCE_STYLE)
    divisor, unit = energy_unit(
        1000.0 * max((g.energy_kj.mean for g in groups if np.isfinite(g.energy_kj.mean)), default=0)
    )
    seeds = sorted({seed for g in groups for seed in g.seeds})
    columns = min(4, len(tasks))
    rows = -(-len(tasks) // columns)
    figure = Figure(figsize=(4.2 * columns + 3.4, 3.6 * rows + 0.6))
    handles = {}
    for index, (task, members) in enumerate(tasks.items()):
        axes = figure.add_subplot(rows, columns, index + 1)
        energy = np.array([g.energy_kj.mean for g in members]) * 1000.0 / divisor
        quality = np.array([g.quality.mean for g in members])
        for group, x, y in zip(members, energy, quality):
            name = _config_name(group, swept)
            colour, marker = styles[group.kind if group.kind in REFERENCE_STYLE else name]
            handles[name] = axes.errorbar(
                x,
                y,
                xerr=group.energy_kj.std * 1000.0 / divisor,
                yerr=group.quality.std,
                fmt=marker,
                color=colour,
                markersize=8 if marker == "*" else 5,
                capsize=2,
                elinewidth=0.8,
                zorder=3,
                label=name,
            )
        front = _pareto_front(energy, quality)
        axes.scatter(energy[front], quality[front], s=130, facecolors="none", edgecolors="black", linewidths=0.8)
        axes.axhline(task.alpha, color=SLA_COLOUR, linestyle="--", linewidth=1)
        if energy.min() > 0 and energy.max() / energy.min() > 20:
            axes.set_xscale("log")
            # 1-2-5 ticks with plain numbers: the default minor labels of a log axis overlap
            axes.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            axes.xaxis.set_minor_formatter(NullFormatter())
        axes.set_xlabel(f"energy ({unit})")
        axes.set_ylabel("mean quality")
        title = task.title()
        axes.set_title(
            f"SYNTHETIC: {title}" if task.recording in synthetic else title,
            fontsize="small",
            color=SLA_COLOUR if task.recording in synthetic else "black",
        )
    handles["Pareto front (ringed)"] = Line2D(
        [], [], marker="o", markersize=11, markerfacecolor="none", markeredgecolor="black", linestyle="none"
    )
    handles["SLA α (dashed)"] = Line2D([], [], color=SLA_COLOUR, linestyle="--")
    figure.legend(
        list(handles.values()),
        list(handles),
        loc="outside right upper",
        fontsize="x-small",
        title="mean ± std over seeds",
        title_fontsize="x-small",
    )
    figure.suptitle(f"Energy vs quality, {len(seeds)} seed(s): {', '.join(map(str, seeds))}", fontsize="medium")
    figure.set_layout_engine("constrained")
    return figure


def pareto_plot(groups: Sequence, path: str | Path, synthetic: Collection[str] = ()) -> Path:
    """:func:`pareto_figure` written to ``path`` (PNG)."""
    figure = pareto_figure(groups, synthetic)
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
