"""results.json of a submission: what every run measured, and the audit ``verify`` and ``build`` rely on.

The file is written by ``evaluate`` (atomically) and only ever read back through :class:`Results`,
a strict schema: a missing, extra or mistyped field is rejected with its path. :func:`audit`
then checks everything that can be checked without the data: the provenance (harness version,
protocol digest), that the runs are exactly the protocol's in its order, that every derived figure (ratio,
SLA outcome, constraint outcome, track and overall scores) follows from the measured ones, and
that no passing run spent less energy than the hindsight oracle (impossible: the oracle is the LP
optimum over every policy that meets α and, on a scenario track, every other constraint of the
scenario, which a passing run also meets; :data:`ORACLE_TOLERANCE` allows for the LP solver's
float tolerance), and that no run's worst window beats its whole stream's mean quality
(impossible: that mean is a weighted mean of its windows' means).
``verify`` adds the checks that need the data (recording hashes, stream fingerprints, oracle
energies, re-runs).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, model_validator

from messenv.atomic import atomic_write_text
from messenv.leaderboard.protocol import Probability, Protocol, RunKey, Track
from messenv.leaderboard.schema import LeaderboardError, PrintableLine, StrictModel, describe, read_text
from messenv.leaderboard.scoring import Outcome, OverallScore, TrackScore, score_overall, score_track

RESULTS_FORMAT = "messenv-leaderboard-results/4"
REL_TOL = 1e-9
ORACLE_TOLERANCE = 1e-6
"""Relative slack below the oracle's energy before a passing run is called impossible. HiGHS solves
the oracle LP to a primal feasibility tolerance of 1e-7 (its default), so the optimum it reports
can sit that far above the true one; an honest run never comes closer than that."""
TIMINGS = ("wall_s", "evaluation_s")
REFERENCE_FIELDS = (
    "n_requests", "stream_sha256", "oracle_energy_j", "oracle_quality", "static_mix_energy_j", "static_mix_quality",
    "static_mix_feasible",
)
"""A run's figures that do not depend on the agent: the stream and its references."""


def _same_figure(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-12)
    return a == b


def differing_fields(a: object, b: object, names: tuple[str, ...]) -> list[str]:
    """The ``names`` whose figures ``a`` and ``b`` (runs, or a run and its re-solved references)
    disagree on: floats beyond :data:`REL_TOL` (solvers and machines differ in the last bits),
    anything else at all."""
    return [name for name in names if not _same_figure(getattr(a, name), getattr(b, name))]

NonNegative = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
RunStatus = Literal["ok", "error", "timeout"]
Sandbox = Literal["bwrap", "none"]


class RunRecord(StrictModel):
    """One run. The agent's figures are ``None`` when it crashed or ran over time (``error`` says why);
    the oracle's figures are always there, the static mix's wherever it is defined (not under a
    changing zoo). ``benchmark`` is the run's benchmark, or a drift track's ``stream`` name.

    A scenario's added constraints: on a track with a latency SLO, ``latency_cost`` is the run's mean
    latency cost (mean latency in s, or the share of late requests); on a track with a windowed SLA,
    ``window`` is its window W (set on every run of the track, like ``alpha``) and
    ``worst_window_quality`` the lowest mean quality over the run's windows of W requests (the
    last one may be shorter), the SLA being judged per window; on either, ``constraints_met`` says
    whether the run met α AND every added constraint. Each is ``None`` where the track lacks the
    constraint."""

    track: str
    benchmark: str
    seed: int
    alpha: Probability
    n_requests: Annotated[int, Field(gt=0)]
    feedback_rate: Annotated[float, Field(gt=0.0, le=1.0)]
    window: Annotated[int, Field(ge=1)] | None
    status: RunStatus
    error: str | None
    total_energy_j: NonNegative | None
    mean_quality: Probability | None
    sla_met: bool | None
    worst_deficit: NonNegative | None
    exploration_share: Probability | None
    energy_ratio: NonNegative | None
    latency_cost: NonNegative | None
    worst_window_quality: Probability | None
    constraints_met: bool | None
    stream_sha256: Sha256
    oracle_energy_j: Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
    oracle_quality: Probability
    static_mix_energy_j: NonNegative | None
    static_mix_quality: Probability | None
    static_mix_feasible: bool | None
    wall_s: NonNegative

    @model_validator(mode="after")
    def _status_matches_figures(self) -> RunRecord:
        figures = (self.total_energy_j, self.mean_quality, self.sla_met, self.worst_deficit,
                   self.exploration_share, self.energy_ratio)
        if self.status == "ok" and (self.error is not None or any(f is None for f in figures)):
            raise ValueError("a run with status 'ok' needs every agent figure and no error")
        if self.status != "ok" and (not self.error or any(f is not None for f in figures)):
            raise ValueError(f"a run with status {self.status!r} needs an error and no agent figures")
        constraint_figures = (self.latency_cost, self.worst_window_quality, self.constraints_met)
        if self.status != "ok" and any(f is not None for f in constraint_figures):
            raise ValueError(
                f"a run with status {self.status!r} has no latency_cost, worst_window_quality nor constraints_met"
            )
        mix = (self.static_mix_energy_j, self.static_mix_quality, self.static_mix_feasible)
        if any(f is None for f in mix) and any(f is not None for f in mix):
            raise ValueError("the static mix's figures are all given or all null")
        return self

    @property
    def key(self) -> RunKey:
        """Which run this is."""
        return RunKey(self.track, self.benchmark, self.seed)

    @property
    def outcome(self) -> Outcome:
        """What scoring needs: passed (finished, met α and every other constraint) and the ratio."""
        passed = self.status == "ok" and bool(self.sla_met) and self.constraints_met is not False
        return Outcome(passed, self.energy_ratio)


class RecordingId(StrictModel):
    """The recording a track was evaluated on: its content sha256 (``fingerprint``) identifies it, even
    a private one; ``file_sha256`` is the converted parquet file's own hash, ``source_sha256`` the
    published source's."""

    name: PrintableLine  # a cell of the board's Tracks table
    fingerprint: Sha256
    source_sha256: str | None
    file_sha256: Sha256
    private: bool

    def content(self) -> tuple[str, str, str | None, bool]:
        """What must agree between submissions (the file's bytes depend on the pyarrow version)."""
        return self.name, self.fingerprint, self.source_sha256, self.private


class SubmissionRef(StrictModel):
    """Which submission.yaml (by content) the results belong to."""

    name: str
    sha256: Sha256


class Results(StrictModel):
    """The content of a submission's results.json."""

    format: Literal["messenv-leaderboard-results/4"]
    submission: SubmissionRef
    harness_version: str
    protocol_sha256: Sha256
    sandbox: Sandbox
    # fail_fast: a collection's first invalid entry ends its validation (a hostile 16 MiB file of a
    # million invalid runs took 20 s to validate, 0.1 s with it)
    recordings: Annotated[dict[str, RecordingId], Field(fail_fast=True)]
    runs: Annotated[list[RunRecord], Field(fail_fast=True)]
    tracks: Annotated[dict[str, TrackScore], Field(fail_fast=True)]
    overall: OverallScore
    evaluation_s: NonNegative

    def to_json(self) -> str:
        """Indented JSON (no NaN: absent figures are ``null``)."""
        return self.model_dump_json(indent=2) + "\n"


def scores(runs: list[RunRecord], protocol: Protocol) -> tuple[dict[str, TrackScore], OverallScore]:
    """Track and overall scores of ``runs``, tracks in protocol order."""
    tracks = {
        track.name: score_track([run.outcome for run in runs if run.track == track.name]) for track in protocol.tracks
    }
    return tracks, score_overall(list(tracks.values()))


def same_figures(a: Results, b: Results) -> bool:
    """Whether ``a`` and ``b`` agree on everything but the timings (:data:`TIMINGS`)."""

    def figures(results: Results) -> dict:
        data = results.model_dump(exclude={"evaluation_s"})
        data["runs"] = [{k: v for k, v in run.items() if k not in TIMINGS} for run in data["runs"]]
        return data

    return figures(a) == figures(b)


def write_results(path: Path, results: Results) -> Path:
    """Write results.json atomically (a killed evaluation never leaves a half file)."""
    atomic_write_text(path, results.to_json())
    return path


def _check_top_level_fields(text: str, path: Path) -> None:
    """Refuse a JSON object whose top-level fields are not :class:`Results`'s before pydantic sees it:
    pydantic converts the whole input to Python objects for each missing field's error, which took
    2 s per missing field on a hostile 16 MiB file. Anything else is left to pydantic to describe."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return
    if isinstance(data, dict):
        missing = [name for name in Results.model_fields if name not in data]
        extra = [name for name in data if name not in Results.model_fields]
        if missing or extra:
            raise LeaderboardError(f"{path}: (top level): missing fields {missing}, unexpected fields {extra[:5]}"
                                   f"{f' and {len(extra) - 5} more' if len(extra) > 5 else ''}")


def read_results(path: Path) -> Results:
    """Parse and schema-check a results.json.

    Raises:
        LeaderboardError: missing file, not JSON, or a schema violation (field paths named).
    """
    text = read_text(path, f"no results (run `python -m messenv.leaderboard evaluate {path.parent}`)")
    _check_top_level_fields(text, path)
    try:
        return Results.model_validate_json(text)
    except ValidationError as error:
        raise LeaderboardError(describe(error, str(path))) from error


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-12)


def _derived_problems(run: RunRecord, protocol: Protocol) -> list[str]:
    """What is wrong with one run's settings and derived figures."""
    track = protocol.track(run.track)
    problems = []
    expected = {
        "alpha": track.run_alphas[run.benchmark], "feedback_rate": track.feedback_rate,
        "window": track.play_scenario.window,
    }
    if (run.static_mix_energy_j is None) != (track.play_scenario.zoo is not None):
        problems.append(f"{run.key}: the static mix is defined exactly on tracks whose zoo does not change")
    for name, value in expected.items():
        if getattr(run, name) != value:
            problems.append(f"{run.key}: {name} {getattr(run, name)} is not the protocol's {value}")
    if track.n_requests is not None and run.n_requests != track.n_requests:
        problems.append(f"{run.key}: n_requests {run.n_requests} is not the protocol's {track.n_requests}")
    if run.status == "ok":
        ratio = run.total_energy_j / run.oracle_energy_j
        if not _close(run.energy_ratio, ratio):
            problems.append(f"{run.key}: energy_ratio {run.energy_ratio} != total_energy_j / oracle_energy_j = {ratio}")
        if run.sla_met != (run.mean_quality >= run.alpha):
            problems.append(f"{run.key}: sla_met {run.sla_met} contradicts mean_quality {run.mean_quality} vs alpha {run.alpha}")
        problems += _constraint_problems(run, track)
        if run.outcome.passed and run.total_energy_j < run.oracle_energy_j * (1.0 - ORACLE_TOLERANCE):
            problems.append(
                f"{run.key}: a passing run spent {run.total_energy_j} J, below the hindsight oracle's "
                f"{run.oracle_energy_j} J on the same stream, which is impossible"
            )
    return problems


def _constraint_problems(run: RunRecord, track: Track) -> list[str]:
    """What is wrong with one finished run's figures of the scenario's added constraints (a latency
    SLO, a windowed SLA): each is given exactly where the track has the constraint,
    ``constraints_met`` follows from them, and the worst window does not beat the stream's mean."""
    scenario = track.play_scenario
    present = {
        "latency_cost": (run.latency_cost, scenario.latency is not None, "a latency SLO"),
        "worst_window_quality": (run.worst_window_quality, scenario.window is not None, "a windowed SLA"),
        "constraints_met": (run.constraints_met, scenario.constrained, "a latency SLO or a windowed SLA"),
    }
    problems = [
        f"{run.key}: {name} is {'needed' if needed else 'null'} on a track {'with' if needed else 'without'} {what}"
        for name, (value, needed, what) in present.items()
        if (value is not None) != needed
    ]
    if problems or not scenario.constrained:
        return problems
    met, reasons = bool(run.sla_met), [f"sla_met {run.sla_met}"]
    if scenario.latency is not None:
        met = met and run.latency_cost <= scenario.latency.limit
        reasons.append(f"latency_cost {run.latency_cost} vs the SLO's limit {scenario.latency.limit}")
    if scenario.window is not None:
        met = met and run.worst_window_quality >= run.alpha
        reasons.append(f"worst_window_quality {run.worst_window_quality} vs alpha {run.alpha}")
        if run.worst_window_quality > run.mean_quality * (1.0 + REL_TOL):
            problems.append(
                f"{run.key}: worst_window_quality {run.worst_window_quality} is above the stream's mean quality "
                f"{run.mean_quality}, which is impossible (the mean is a weighted mean of the windows' means)"
            )
    if run.constraints_met != met:
        problems.append(f"{run.key}: constraints_met {run.constraints_met} contradicts {' and '.join(reasons)}")
    return problems


def _run_order_problems(keys: list[RunKey], expected: list[RunKey]) -> list[str]:
    """Why ``keys`` are not exactly ``expected`` in the same order (nothing if they are).

    The order is fixed because ``verify`` draws its sample by position: with a free order a
    forger could put honest runs where a known seed's sample lands and forge the rest. Counting
    with a :class:`~collections.Counter` keeps this linear in the runs (a hostile file may hold
    hundreds of thousands)."""
    if keys == expected:
        return []
    counts, wanted = Counter(keys), set(expected)
    missing = [k for k in expected if k not in counts]
    extra = [k for k in counts if k not in wanted]
    duplicated = [k for k, n in counts.items() if n > 1]
    if missing or extra or duplicated:
        return [
            f"the runs are not the protocol's: missing {[str(k) for k in missing[:5]]}, "
            f"unexpected {[str(k) for k in extra[:5]]}, duplicated {[str(k) for k in duplicated[:5]]}"
        ]
    first = next(i for i, (key, want) in enumerate(zip(keys, expected)) if key != want)
    return [f"the runs are not in the protocol's order: run {first} is {keys[first]}, the protocol's is "
            f"{expected[first]} (re-evaluate: evaluate writes them in order)"]


def audit(results: Results, protocol: Protocol, harness_version: str) -> list[str]:
    """Every inconsistency of ``results`` that needs no data; empty when it is consistent."""
    problems = []
    if results.harness_version != harness_version:
        problems.append(f"harness version {results.harness_version!r} is not the current {harness_version!r}: re-evaluate")
    if results.protocol_sha256 != protocol.digest():
        problems.append("protocol_sha256 does not match the current protocol.yaml: re-evaluate")
        return problems  # the runs cannot be compared with a different protocol's
    order = _run_order_problems([run.key for run in results.runs], protocol.runs())
    if order:
        return problems + order
    if set(results.recordings) != {track.name for track in protocol.tracks}:
        problems.append(f"recordings are listed for tracks {sorted(results.recordings)}, not the protocol's tracks")
    for run in results.runs:
        problems += _derived_problems(run, protocol)
    tracks, overall = scores(results.runs, protocol)
    if set(results.tracks) != set(tracks):
        problems.append(f"scores are listed for tracks {sorted(results.tracks)}, not the protocol's {sorted(tracks)}")
    for name, score in tracks.items():
        stored = results.tracks.get(name)
        if stored is None or stored.runs != score.runs or stored.passed != score.passed or not (
            _close(stored.pass_rate, score.pass_rate) and _close(stored.energy_ratio, score.energy_ratio)
        ):
            problems.append(f"track {name!r}: stored score {stored} does not follow from its runs ({score})")
    if not (_close(results.overall.pass_rate, overall.pass_rate) and _close(results.overall.energy_ratio, overall.energy_ratio)):
        problems.append(f"overall score {results.overall} does not follow from the runs ({overall})")
    return problems
