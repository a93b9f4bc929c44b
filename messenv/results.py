"""results.json: what one run measured, with enough provenance to trust and compare it later.

One file per run directory. It holds the resolved config, the recording's identity (name,
content fingerprint, sha256 of the raw source), the package version, and one :class:`ResultRow`
per (agent, parameters, task, seed) that was played, plus rows for the hindsight oracle and the
best static mix on the same streams. ``python -m messenv.report`` and the leaderboard read the
rows back; everything is plain JSON (no numpy types) and written atomically, so a sweep that is
killed half-way never leaves a truncated file that a report would then trust.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import messenv
from messenv.atomic import atomic_write_text
from messenv.recordings import Recording

RESULTS_FILE = "results.json"
SCHEMA_VERSION = 1

# Kinds of row: the evaluated agent, a comparison agent, and the two reference points.
AGENT, BASELINE, ORACLE, STATIC_MIX = "agent", "baseline", "oracle", "static_mix"


@dataclass(frozen=True)
class ResultRow:
    """One played (or solved) episode: who, on what task, with which outcome.

    Attributes:
        label: agent name (``mess_plus``), or ``oracle`` / ``static_mix``.
        kind: one of ``agent``, ``baseline``, ``oracle``, ``static_mix``.
        params: the agent's constructor parameters (empty for the reference rows).
        recording: recording name.
        benchmarks: the benchmarks the stream was drawn from (``None`` = all).
        alpha: the SLA.
        seed: the episode seed.
        n_requests: stream length T.
        total_energy_j: energy spent over the episode (J), exploration included.
        mean_quality: mean true quality of the answers.
        sla_met: ``mean_quality >= alpha``.
        sla_violation: ``max(0, alpha - mean_quality)``.
        energy_ratio: ``total_energy_j`` / the oracle's energy on the same stream. Where α is
            infeasible there, the oracle row is the best-quality allocation (its ``sla_met`` is
            False) and ratios are to that allocation's energy.
        model_share: model label -> share of requests answered by that model alone.
        exploration_share: share of requests on which every model was queried.
        exploration_energy_j: energy spent on those requests.
        wall_s: seconds the episode took (agent + env), ``None`` for reference rows.
        feedback_rate: the share of steps whose quality was revealed to the agent.
        features: the kind of prompt features the agent observed (``minilm``, ``hashed-ngram``).
        scenario: the scenario's name (:mod:`messenv.env.scenario`), ``None`` for older results.
        constraints_met: every constraint of the scenario met (the SLA and, with a latency SLO,
            the latency bound); ``None`` where the scenario has the SLA only.
        latency_violation: ``max(0, mean latency cost − limit)`` under a latency SLO, else ``None``.
        worst_window_quality: the lowest mean quality over the windows of a windowed SLA, else ``None``.
    """

    label: str
    kind: str
    params: dict[str, Any]
    recording: str
    benchmarks: list[str] | None
    alpha: float
    seed: int
    n_requests: int
    total_energy_j: float
    mean_quality: float
    sla_met: bool
    sla_violation: float
    energy_ratio: float
    model_share: dict[str, float]
    exploration_share: float = 0.0
    exploration_energy_j: float = 0.0
    wall_s: float | None = None
    feedback_rate: float = 1.0
    features: str | None = None
    scenario: str | None = None
    constraints_met: bool | None = None
    latency_violation: float | None = None
    worst_window_quality: float | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResultRow:
        """Inverse of ``asdict``; keys this version does not know are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class RunResults:
    """The content of one results.json.

    ``config`` is the resolved config the run used; ``overrides`` the command-line overrides it
    was given (``agent=ucb1 seed=3``), which is how a person reproduces it.
    """

    config: dict[str, Any]
    recording: dict[str, Any]
    rows: list[ResultRow] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    messenv_version: str = messenv.__version__
    python: str = platform.python_version()
    schema: int = SCHEMA_VERSION

    def to_json(self) -> str:
        """Pretty JSON; NaN is written as ``NaN`` (Python's json reads it back)."""
        data = asdict(self)
        return json.dumps(data, indent=2, sort_keys=False) + "\n"


def recording_identity(recording: Recording) -> dict[str, Any]:
    """Name, fingerprint and provenance of a recording, as stored in results.json.

    ``fingerprint`` is the sha256 of the content that was replayed (see
    :meth:`Recording.fingerprint`); ``source_sha256`` identifies the raw files it came from.
    """
    meta = recording.metadata
    return {
        "name": recording.name,
        "fingerprint": recording.fingerprint(),
        "source_sha256": meta.source_sha256,
        "source_url": meta.source_url,
        "synthetic": meta.synthetic,
        "features_kind": meta.features_kind,
        "energy_source": meta.energy_source,
        "models": list(recording.models),
        "benchmarks": list(recording.benchmark_names),
        "n_requests": recording.n_requests,
    }


def write_results(directory: str | Path, results: RunResults) -> Path:
    """Write ``directory/results.json`` atomically and return its path."""
    path = Path(directory) / RESULTS_FILE
    atomic_write_text(path, results.to_json())
    return path


def read_rows(path: str | Path) -> list[ResultRow]:
    """The rows of one results.json.

    Raises:
        ValueError: the file is not JSON or has no ``rows`` list (the path is named).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [ResultRow.from_dict(row) for row in data["rows"]]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a messenv results file ({exc.__class__.__name__}: {exc})") from exc


def find_results(directory: str | Path) -> list[Path]:
    """Every results.json under ``directory`` (a run dir or a sweep dir), sorted."""
    return sorted(Path(directory).rglob(RESULTS_FILE))


def collect_rows(paths: Iterable[Path]) -> list[ResultRow]:
    """The rows of several results.json files, in order."""
    return [row for path in paths for row in read_rows(path)]
