"""Plots: each writes a real PNG atomically (no temporary file left behind) from small inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_hex

from messenv.plots import (
    MAX_POINTS,
    PALETTE,
    RunCaption,
    _pareto_front,
    _thin,
    cumulative_energy_plot,
    energy_unit,
    model_share_plot,
    pareto_figure,
    pareto_plot,
    running_quality_figure,
    running_quality_plot,
    style_of,
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


def line_styles(axes) -> dict[str, tuple]:
    return {
        line.get_label(): (to_hex(line.get_color()), line.get_linestyle(), line.get_marker(), line.get_zorder())
        for line in axes.get_lines()
    }


def test_run_caption_names_recording_benchmarks_alpha_seed_and_marks_synthetic():
    real = RunCaption("messplus-llama3", ("arc_easy", "boolq"), 0.75, 3)
    assert real.text() == "messplus-llama3 (arc_easy, boolq) · α = 0.75 · seed 3"
    fake = RunCaption("synthetic-llama3", None, 0.7, 0, synthetic=True)
    assert fake.text().startswith("SYNTHETIC zoo (not measured): synthetic-llama3 (all benchmarks) · α = 0.7 · seed 0")


def test_running_quality_has_references_and_tellable_lines(episode_arrays):
    running = episode_arrays["running"]
    agents = {name: running + 0.001 * i for i, name in enumerate(["mess_plus", "ucb1", "thompson", "linucb", "random"])}
    references = {"oracle": running * 0 + 0.6, "static_mix": running * 0 + 0.61}
    caption = RunCaption("synthetic-llama3", None, 0.6, 0, synthetic=True)
    figure = running_quality_figure(agents, 0.6, references, caption)
    assert figure.get_suptitle() == caption.text()
    (axes,) = figure.axes
    styles = line_styles(axes)
    assert set(styles) == {*agents, "oracle", "static_mix", "SLA α = 0.6"}
    assert [t.get_text() for t in axes.get_legend().get_texts()] == list(styles)
    agent_styles = [styles[name][:3] for name in agents]
    assert len({s[0] for s in agent_styles}) == len(agents)  # colours
    assert len({s[2] for s in agent_styles}) == len(agents)  # markers
    assert styles["mess_plus"][3] > max(styles[name][3] for name in list(agents)[1:])  # the agent on top
    assert styles["oracle"][:2] == ("#000000", "--") and styles["static_mix"][1] == "-."
    assert not {styles["oracle"][0], styles["static_mix"][0]} & {s[0] for s in agent_styles}


def test_palette_has_no_grey_and_pairs_do_not_repeat():
    greys = [colour for colour in PALETTE if max(colour) - min(colour) < 0.05]
    assert greys == [] and len(set(PALETTE)) == len(PALETTE) == 18
    assert len({style_of(i) for i in range(72)}) == 72


def test_pareto_legend_explains_markers_and_colours_never_collide():
    labels = [f"agent{i}" for i in range(12)]
    rows = [
        make_row(label=label, seed=s, energy=100 + 10 * i + s, quality=0.6 + i / 100)
        for i, label in enumerate(labels)
        for s in (0, 1)
    ]
    rows += [make_row(label="oracle", kind="oracle", seed=s, energy=90, quality=0.7) for s in (0, 1)]
    rows += [make_row(label="static_mix", kind="static_mix", seed=s, energy=95, quality=0.7) for s in (0, 1)]
    figure = pareto_figure(aggregate(rows), synthetic={"tiny"})
    legend = figure.legends[0]
    texts = [t.get_text() for t in legend.get_texts()]
    assert {"Pareto front (ringed)", "SLA α (dashed)", "oracle", "static_mix", *labels} <= set(texts)
    assert legend.get_title().get_text() == "mean ± std over seeds"
    points = {}
    for container in figure.axes[0].containers:
        line = container.lines[0]
        points[container.get_label()] = (to_hex(line.get_color()), line.get_marker())
    assert len(set(points.values())) == len(points) == len(labels) + 2
    reference_colours = {points["oracle"][0], points["static_mix"][0]}
    assert not reference_colours & {points[label][0] for label in labels}
    assert figure.axes[0].get_title().startswith("SYNTHETIC: tiny")
    assert figure.get_suptitle() == "Energy vs quality, 2 seed(s): 0, 1"


@pytest.mark.parametrize(("joules", "unit"), [(0.5, "J"), (999.0, "J"), (1000.0, "kJ"), (2.5e6, "MJ"), (7e9, "GJ")])
def test_energy_unit_scales(joules, unit):
    divisor, name = energy_unit(joules)
    assert name == unit
    assert joules / divisor < 1000 and (joules < 1 or joules / divisor >= 1)
def test_scenario_marks_are_vertical_lines_labelled_once(tmp_path):
    from matplotlib.figure import Figure

    from messenv.plots import mark_changes, running_quality_plot

    axes = Figure().add_subplot()
    mark_changes(axes, [(5, "phase 2"), (10, "window"), (20, "window")])
    assert len(axes.lines) == 3 and [t.get_text() for t in axes.texts] == ["phase 2", "window"]
    path = running_quality_plot({"a": np.linspace(0, 1, 30)}, 0.5, tmp_path / "q.png", marks=[(10, "phase 2")])
    assert path.read_bytes().startswith(b"\x89PNG")
