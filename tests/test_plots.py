"""Plots: each writes a real PNG atomically (no temporary file left behind) from small inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from messenv.plots import (
    MAX_POINTS,
    _pareto_front,
    _thin,
    cumulative_energy_plot,
    model_share_plot,
    pareto_plot,
    running_quality_plot,
)
from messenv.report import aggregate
from tests.test_report import make_row

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert path.stat().st_size > 5_000  # a drawn figure, not an empty canvas
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []


@pytest.fixture
def episode_arrays():
    rng = np.random.default_rng(0)
    quality = rng.random(500) < 0.7
    return {
        "running": np.cumsum(quality) / np.arange(1, 501),
        "energy": rng.uniform(1, 100, 500),
        "actions": rng.integers(0, 4, 500),
    }


def test_run_plots_are_pngs(tmp_path, episode_arrays):
    arrays = episode_arrays
    assert_png(running_quality_plot({"a": arrays["running"], "b": arrays["running"] * 0.9}, 0.6, tmp_path / "q.png"))
    oracle = np.cumsum(np.full(500, 10.0))
    assert_png(cumulative_energy_plot({"a": arrays["energy"]}, oracle, tmp_path / "e.png"))
    assert_png(model_share_plot(arrays["actions"], ["s", "m", "l", "explore"], tmp_path / "s.png", "a"))


def test_pareto_plot_has_a_panel_per_task(tmp_path):
    rows = [make_row(label="x", seed=s, alpha=a, energy=100 + s, quality=0.7) for s in (0, 1) for a in (0.5, 0.6)]
    rows += [
        make_row(label="oracle", kind="oracle", seed=s, alpha=a, energy=90, quality=a)
        for s in (0, 1)
        for a in (0.5, 0.6)
    ]
    assert_png(pareto_plot(aggregate(rows), tmp_path / "pareto.png"))


def test_thinning_keeps_the_last_point_and_bounds_the_size():
    steps, values = _thin(np.arange(10_000.0))
    assert len(steps) <= MAX_POINTS + 1
    assert steps[-1] == 10_000 and values[-1] == 9_999.0
    assert steps[0] == 1 and values[0] == 0.0


def test_pareto_front_keeps_only_undominated_points():
    energy = np.array([1.0, 2.0, 2.0, 3.0, 0.5])
    quality = np.array([0.5, 0.7, 0.6, 0.7, 0.4])
    # 2 is dominated by 1 (same energy, lower quality), 3 by 1 (more energy, same quality).
    assert _pareto_front(energy, quality) == [0, 1, 4]


def test_scenario_marks_are_vertical_lines_labelled_once(tmp_path):
    from matplotlib.figure import Figure

    from messenv.plots import mark_changes, running_quality_plot

    axes = Figure().add_subplot()
    mark_changes(axes, [(5, "phase 2"), (10, "window"), (20, "window")])
    assert len(axes.lines) == 3 and [t.get_text() for t in axes.texts] == ["phase 2", "window"]
    path = running_quality_plot({"a": np.linspace(0, 1, 30)}, 0.5, tmp_path / "q.png", [(10, "phase 2")])
    assert path.read_bytes().startswith(b"\x89PNG")
