"""A scenario track's references face its scenario: a constrained or masked oracle; no static mix if the zoo changes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from messenv.env.scenario import Scenario
from messenv.leaderboard.evaluate import open_tracks
from messenv.leaderboard.protocol import RunKey
from messenv.oracle import hindsight_oracle
from messenv.scenario_oracle import (
    constrained_oracle,
    constrained_static_mix,
    scenario_constraints,
)
from tests.leaderboard.conftest import LATENCY_SLO, ZOO_CHANGE, scenario_protocol

KEY = RunKey("scenario", "alpha_bench", 0)
ALPHA = 0.55  # the tiny protocol's α on alpha_bench


def _stream(context) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The run's recorded quality, energy and latency ``[T, M]``, read from the recording directly."""
    env = context.env(KEY.benchmark)
    env.reset(seed=KEY.seed)
    rows = env.stream_rows
    recording = context.recording
    return recording.quality[rows], recording.energy_j[rows], recording.latency_s[rows]


def test_a_latency_track_references_are_the_constrained_oracle_and_mix(tiny_parquet: Path) -> None:
    (context,) = open_tracks(scenario_protocol(LATENCY_SLO))
    references = context.references(KEY)
    quality, energy_j, latency_s = _stream(context)
    constraints = scenario_constraints(quality, latency_s, ALPHA, Scenario.parse(LATENCY_SLO))
    oracle = constrained_oracle(energy_j, constraints)
    mix = constrained_static_mix(energy_j, constraints)
    assert oracle.feasible and references.oracle_energy_j == pytest.approx(oracle.energy_j, rel=1e-9)
    assert references.static_mix_energy_j == pytest.approx(mix.energy_j, rel=1e-9)
    assert references.static_mix_feasible == mix.feasible
    # The SLO binds: the stationary oracle on the same stream is cheaper, and would be the wrong bar.
    assert references.oracle_energy_j > 1.2 * hindsight_oracle(quality, energy_j, ALPHA).energy_j


def test_a_zoo_track_routes_only_to_available_models_and_has_no_static_mix(tiny_parquet: Path) -> None:
    (context,) = open_tracks(scenario_protocol(ZOO_CHANGE))
    references = context.references(KEY)
    quality, energy_j, latency_s = _stream(context)
    steps = np.arange(len(quality))
    available = np.column_stack([steps < 20, np.ones(len(quality), bool), steps >= 10])  # m0 leaves, m2 joins
    constraints = scenario_constraints(quality, latency_s, ALPHA, Scenario.parse(ZOO_CHANGE), available)
    oracle = constrained_oracle(energy_j, constraints, available)
    assert references.oracle_energy_j == pytest.approx(oracle.energy_j, rel=1e-9)
    assert references.oracle_energy_j > hindsight_oracle(quality, energy_j, ALPHA).energy_j
    assert (references.static_mix_energy_j, references.static_mix_quality, references.static_mix_feasible) == (
        None, None, None
    )
