"""The board's Pareto plot (energy ratio vs quality margin) as inline SVG.

SVG rather than PNG: it is text, scales, needs no base64 and, with text kept as ``<text>``
elements, a fixed id salt and no date, the same board always renders to the same bytes.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullFormatter  # noqa: E402

from messenv.leaderboard.board import Board, Row  # noqa: E402

RATIO_TICKS = [0.5, 1, 2, 3, 5, 10, 20, 50]
SVG_STYLE = {"svg.fonttype": "none", "svg.hashsalt": "messenv-leaderboard", "font.family": "DejaVu Sans"}


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points no other point beats on both axes (lower x, higher y), sorted by x."""
    front = []
    for x, y in sorted(points, key=lambda p: (p[0], -p[1])):
        if not front or y > front[-1][1]:
            front.append((x, y))
    return front


LABEL_OFFSETS = [(6, 4), (6, -11), (-6, 4), (-6, -11), (6, 15), (6, -22), (-6, 15), (-6, -22), (6, 26), (6, -33)]
"""Where a point's label may go, in points from the point, tried in order."""


def label_points(axes, points: list[tuple[str, float, float]], fontsize: float = 8) -> None:
    """Annotate each ``(name, x, y)`` at the first of :data:`LABEL_OFFSETS` whose drawn text overlaps
    no label placed before it, so that close points keep readable labels; the plot's limits and
    layout must be final (they fix where each point is drawn)."""
    renderer = axes.figure.canvas.get_renderer()
    placed = []
    for name, x, y in sorted(points, key=lambda p: (p[1], -p[2])):
        text = axes.annotate(name, (x, y), textcoords="offset points", xytext=LABEL_OFFSETS[0], fontsize=fontsize)
        for dx, dy in LABEL_OFFSETS:
            text.xyann = (dx, dy)
            text.set_horizontalalignment("left" if dx > 0 else "right")
            box = text.get_window_extent(renderer)
            if not any(box.overlaps(other) for other in placed):
                break
        placed.append(box)


def _plotted(rows: list[Row]) -> list[Row]:
    return [row for row in rows if row.all_runs_ratio is not None and row.quality_margin is not None]


def pareto_svg(board: Board) -> str:
    """An SVG document: one point per submission and reference, the front of the submissions drawn."""
    entries, references = _plotted(board.entries), _plotted(board.references)
    with plt.rc_context(SVG_STYLE):
        figure, axes = plt.subplots(figsize=(9, 5.2))
        axes.axhline(0.0, color="#b22222", linewidth=1, linestyle="--", label="SLA (quality = α)")
        axes.axvline(1.0, color="#555555", linewidth=1, linestyle=":", label="oracle energy")
        scatter = axes.scatter(
            [row.all_runs_ratio for row in entries], [100 * row.quality_margin for row in entries],
            c=[row.overall.pass_rate for row in entries], cmap="viridis", vmin=0.0, vmax=1.0,
            s=60, edgecolors="black", linewidths=0.6, zorder=3,
        )
        for row in references:
            axes.scatter(row.all_runs_ratio, 100 * row.quality_margin, marker="*", s=160, color="#444444", zorder=3)
        front = pareto_front([(row.all_runs_ratio, 100 * row.quality_margin) for row in entries])
        axes.plot([x for x, _ in front], [y for _, y in front], color="#1f77b4", linewidth=1, alpha=0.6,
                  label="Pareto front (submissions)")
        axes.set_xscale("log")
        axes.xaxis.set_major_locator(FixedLocator(RATIO_TICKS))
        axes.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        axes.xaxis.set_minor_formatter(NullFormatter())
        axes.margins(x=0.12, y=0.08)
        axes.set_xlabel("energy ÷ oracle energy, geometric mean over ALL finished runs, passing or not (log scale)")
        axes.set_ylabel("final quality − α (mean over runs, points)")
        figure.colorbar(scatter, ax=axes, label="pass rate")
        axes.legend(loc="lower right", fontsize=8)
        axes.grid(True, which="both", alpha=0.2)
        figure.tight_layout()
        # After the layout: the colorbar and tight_layout move the axes, and labels are placed in display space.
        label_points(axes, [(row.name, row.all_runs_ratio, 100 * row.quality_margin) for row in entries + references])
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
        plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg"):]
