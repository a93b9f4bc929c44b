"""``python -m messenv.run scenario=<name>``: every conf/scenario file runs every baseline and the oracle."""

from __future__ import annotations

from importlib import resources

import pytest

from messenv.config import BASELINES, CONFIG_PACKAGE, ConfigError, compose_config
from messenv.run import run

SCENARIOS = sorted(
    p.name[: -len(".yaml")]
    for p in (resources.files(CONFIG_PACKAGE) / "scenario").iterdir()
    if p.name.endswith(".yaml")
)


def test_the_config_group_has_the_stationary_stream_and_each_scenario():
    expected = {"none", "latency_slo", "latency_deadline", "delayed_feedback", "delayed_geometric", "drift_phases"}
    assert expected | {"drift_windowed", "zoo_change", "zoo_silent_update"} <= set(SCENARIOS)


@pytest.mark.parametrize("name", SCENARIOS)
def test_each_scenario_runs_every_baseline_and_the_oracle_and_writes_plots(tmp_path, name):
    drift = compose_config(f"scenario={name}").scenario.drift is not None
    # A drift sets the stream's length itself; a zoo change needs a stream long enough to change.
    length = [] if drift else ["env.n_requests=2100" if name.startswith("zoo") else "env.n_requests=240"]
    cfg = compose_config(f"scenario={name}", "progress=false", "agent=ucb1", *length)
    rows = run(cfg, tmp_path)
    labels = {row.label for row in rows}
    assert set(BASELINES) | {"ucb1", "oracle"} <= labels
    assert {row.scenario for row in rows} == {name}
    latency = cfg.scenario.latency is not None
    for row in rows:
        assert (row.latency_violation is not None) == latency
        assert (row.constraints_met is not None) == (latency or cfg.scenario.window is not None)
        assert (row.worst_window_quality is not None) == (cfg.scenario.window is not None)
    zoo = cfg.scenario.zoo is not None
    assert ("static_mix" in labels) != zoo  # one fixed mixture over a changing zoo is not defined
    oracle = next(row for row in rows if row.label == "oracle")
    assert oracle.energy_ratio == 1.0 and (oracle.constraints_met is not False)
    for plot in ("running_quality.png", "cumulative_energy.png", "model_share.png"):
        assert (tmp_path / plot).stat().st_size > 0


def test_a_bad_scenario_value_is_a_config_error_naming_the_field(tmp_path):
    with pytest.raises(ConfigError, match="scenario.latency.mean_s must be a number > 0"):
        run(compose_config("scenario=latency_slo", "scenario.latency.mean_s=-1"), tmp_path)


def test_a_grid_refuses_a_scenario_rather_than_ignoring_it(tmp_path):
    with pytest.raises(ConfigError, match="scenario=latency_slo runs one task at a time"):
        run(compose_config("experiment=paper_grid", "scenario=latency_slo"), tmp_path)
