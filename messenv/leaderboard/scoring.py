"""How runs become scores, and submissions a ranking.

Per run: ``energy_ratio = agent energy / hindsight-oracle energy`` on the same stream (1.0 is the
limit: the oracle is the LP optimum, which no policy meeting α can undercut) and the SLA outcome:
the run *passes* if its final mean quality reaches α. A run that misses α, crashes or runs over
time is a failure, not a low score: its ratio is not averaged. The worst running deficit
``max_t (α − running quality_t)`` after a warm-up is recorded beside it.

Per track: the pass rate, and the geometric mean of the ratio over the passing runs. Overall: the
mean of the tracks' pass rates, and the geometric mean of the track ratios (tracks without a pass
are left out, and already cost the pass rate).

Ranking is in tiers. A track is *met* when its pass rate is at least ``MET_PASS_RATE`` (95 %):
the SLA held on all but a few of its runs. Submissions rank by the number of tracks met, more
first; within a tier by the geometric mean of the ratios of the met tracks, lower first; then by
overall pass rate and overall ratio (which order the submissions that meet no track). The SLA
stays a hard requirement — no energy saving lifts a submission over one that meets more tracks —
but 100 % at any price no longer beats 96 % near the static mix's energy.

Worked example (one track, three runs)::

    run   energy (kJ)  oracle (kJ)  ratio  mean quality  α     outcome
    1     120          100          1.20   0.81          0.80  pass
    2     150          100          1.50   0.80          0.80  pass
    3      90          100          0.90   0.78          0.80  FAIL (missed α)

>>> runs = [Outcome(True, 1.2), Outcome(True, 1.5), Outcome(False, 0.9)]
>>> track = score_track(runs)
>>> round(track.pass_rate, 4), round(track.energy_ratio, 4)   # 2/3, sqrt(1.2 * 1.5)
(0.6667, 1.3416)

A second track with all runs passing at ratio 2.0 gives the overall score
(mean(2/3, 1), geomean(1.3416, 2.0)):

>>> overall = score_overall([track, score_track([Outcome(True, 2.0)] * 3)])
>>> round(overall.pass_rate, 4), round(overall.energy_ratio, 4)
(0.8333, 1.6381)

Ranking, two tracks of 20 runs each: a router that passes 19/20 (95 %) on both at ratio 3.6 and
3.8, against one that always plays the largest model (20/20 at ratio 18.8 and 16.7), and one that
is cheaper still but passes only 18/20 (90 %) on the second track:

>>> def submission(*tracks):
...     runs = [[Outcome(True, r)] * passed + [Outcome(False, None)] * (20 - passed) for passed, r in tracks]
...     scored = [score_track(track_runs) for track_runs in runs]
...     return score_overall(scored), scored
>>> boards = {"near_static_mix": submission((19, 3.6), (19, 3.8)),
...           "largest_only": submission((20, 18.8), (20, 16.7)),
...           "cheap_but_misses": submission((20, 3.0), (18, 3.1))}
>>> sorted(boards, key=lambda name: rank_key(*boards[name]))
['near_static_mix', 'largest_only', 'cheap_but_misses']
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated

import numpy as np
from pydantic import Field

from messenv.leaderboard.schema import StrictModel

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]

MET_PASS_RATE = 0.95
"""A track counts as met at this pass rate: all but ~1 in 20 runs met the SLA."""


@dataclass(frozen=True)
class Outcome:
    """What scoring needs of a run: did it pass, and its energy ratio (``None`` if it did not finish)."""

    passed: bool
    energy_ratio: float | None


class TrackScore(StrictModel):
    """A track's score: pass rate and geometric-mean ratio over passing runs (``None``: no pass)."""

    runs: Annotated[int, Field(ge=1)]
    passed: Annotated[int, Field(ge=0)]
    pass_rate: Fraction
    energy_ratio: float | None


class OverallScore(StrictModel):
    """The ranking figures: mean pass rate over tracks and geometric mean of the track ratios."""

    pass_rate: Fraction
    energy_ratio: float | None


def geometric_mean(values: Iterable[float]) -> float | None:
    """The geometric mean of positive ``values``; ``None`` when there are none."""
    array = np.asarray(list(values), dtype=np.float64)
    if array.size == 0:
        return None
    return float(np.exp(np.log(array).mean()))


def worst_deficit(running_quality: np.ndarray, alpha: float, warmup: int) -> float:
    """``max(0, max_t α − running_quality_t)`` over the steps after the first ``warmup``.

    The first requests swing the running mean by whole units, so they are not judged; a stream no
    longer than the warm-up is judged on its last step only.
    """
    judged = np.asarray(running_quality, dtype=np.float64)[min(warmup, len(running_quality) - 1):]
    return float(max(0.0, (alpha - judged).max()))


def score_track(outcomes: Sequence[Outcome]) -> TrackScore:
    """Pass rate and geometric-mean ratio over the passing runs of one track."""
    passing = [o.energy_ratio for o in outcomes if o.passed and o.energy_ratio is not None]
    return TrackScore(
        runs=len(outcomes),
        passed=len(passing),
        pass_rate=len(passing) / len(outcomes),
        energy_ratio=geometric_mean(passing),
    )


def score_overall(tracks: Sequence[TrackScore]) -> OverallScore:
    """Mean pass rate over tracks and geometric mean of the ratios of tracks with a pass."""
    return OverallScore(
        pass_rate=float(np.mean([t.pass_rate for t in tracks])),
        energy_ratio=geometric_mean(t.energy_ratio for t in tracks if t.energy_ratio is not None),
    )


def tracks_met(tracks: Iterable[TrackScore]) -> list[TrackScore]:
    """The tracks whose pass rate reaches :data:`MET_PASS_RATE` (a rounding-safe comparison)."""
    return [t for t in tracks if round(t.pass_rate, 12) >= MET_PASS_RATE]


def rank_key(score: OverallScore, tracks: Iterable[TrackScore]) -> tuple[int, float, float, float]:
    """Sort key (lowest first): more tracks met; lower geometric-mean ratio over the met tracks;
    higher overall pass rate; lower overall ratio (a missing ratio sorts last)."""
    met = tracks_met(tracks)
    met_ratio = geometric_mean(t.energy_ratio for t in met if t.energy_ratio is not None)
    ratio = math.inf if score.energy_ratio is None else score.energy_ratio
    return (-len(met), math.inf if met_ratio is None else met_ratio, -round(score.pass_rate, 12), ratio)
