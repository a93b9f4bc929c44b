"""Scoring: the documented worked example, the deficit, the ranking, the Pareto front."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from messenv.leaderboard import scoring
from messenv.leaderboard.plot import pareto_front
from messenv.leaderboard.scoring import (
    MET_PASS_RATE, Outcome, TrackScore, geometric_mean, rank_key, score_overall, score_track, tracks_met, worst_deficit,
)


def test_worked_example_in_the_docstring_holds() -> None:
    failures, attempted = doctest.testmod(scoring, verbose=False)
    assert attempted >= 4 and failures == 0


def test_failed_runs_do_not_count_in_the_ratio_however_cheap() -> None:
    track = score_track([Outcome(True, 2.0), Outcome(False, 0.1), Outcome(False, None)])
    assert track.pass_rate == pytest.approx(1 / 3)
    assert track.energy_ratio == pytest.approx(2.0)
    assert score_track([Outcome(False, 0.5)]).energy_ratio is None


def test_geometric_mean() -> None:
    assert geometric_mean([1.0, 4.0]) == pytest.approx(2.0)
    assert geometric_mean([]) is None


def test_worst_deficit_ignores_the_warmup() -> None:
    running = np.array([0.0, 0.0, 0.5, 0.7, 0.6, 0.8])
    assert worst_deficit(running, alpha=0.7, warmup=2) == pytest.approx(0.2)
    assert worst_deficit(running, alpha=0.7, warmup=0) == pytest.approx(0.7)
    assert worst_deficit(running, alpha=0.5, warmup=2) == 0.0
    assert worst_deficit(running, alpha=0.9, warmup=100) == pytest.approx(0.1)  # last step only


def track(pass_rate: float, ratio: float | None) -> TrackScore:
    return TrackScore(runs=100, passed=round(100 * pass_rate), pass_rate=pass_rate, energy_ratio=ratio)


def test_rank_tracks_met_first_then_energy_of_the_met_tracks() -> None:
    boards = {
        "all_met_cheap": [track(0.96, 2.0), track(0.95, 2.5)],
        "all_met_costly": [track(1.0, 10.0), track(1.0, 6.0)],
        "one_met_cheapest": [track(1.0, 1.1), track(0.94, 1.2)],
        "one_met_costly": [track(1.0, 9.0), track(0.5, 1.2)],
        "none_met_higher_pass_rate": [track(0.9, 3.0), track(0.9, 3.0)],
        "none_met": [track(0.5, 1.5), track(0.0, None)],
        "never_passes": [track(0.0, None), track(0.0, None)],
    }
    ranked = sorted(boards, key=lambda name: rank_key(score_overall(boards[name]), boards[name]))
    assert ranked == list(boards)


def test_a_pass_rate_just_under_the_bar_does_not_count_as_met() -> None:
    assert tracks_met([track(MET_PASS_RATE, 1.0), track(MET_PASS_RATE - 1e-9, 1.0)]) == [track(MET_PASS_RATE, 1.0)]
    assert tracks_met([track(19 / 20, 1.0)]) == [track(0.95, 1.0)]


def test_pareto_front_keeps_the_non_dominated_points() -> None:
    points = [(1.0, -5.0), (2.0, 1.0), (3.0, 0.5), (4.0, 2.0), (2.0, -1.0)]
    assert pareto_front(points) == [(1.0, -5.0), (2.0, 1.0), (4.0, 2.0)]
