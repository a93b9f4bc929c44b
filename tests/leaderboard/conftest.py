"""Fixtures for the leaderboard tests: a tiny private-recording protocol, submissions written on the
fly, and (for the committed board) a MESSENV_HOME with the real recordings imported once."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml

from messenv.home import messenv_home
from messenv.leaderboard.protocol import Protocol, load_protocol
from messenv.leaderboard.records import RunRecord
from messenv.leaderboard.schema import parse
from messenv.leaderboard.submission import LoadedSubmission, load_submission
from messenv.recordings.catalogue import import_local
from messenv.recordings.store import write_recording
from tests.conftest import REPO_ROOT
from tests.factories import make_recording

LEADERBOARD = REPO_ROOT / "leaderboard"
TINY_ENV = "MESSENV_TEST_TINY_RECORDING"


@pytest.fixture
def tiny_parquet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A 60-request recording written as parquet and named by ``$MESSENV_TEST_TINY_RECORDING``."""
    path = write_recording(make_recording(n=60), tmp_path / "tiny.parquet")
    monkeypatch.setenv(TINY_ENV, str(path))
    return path


def protocol_dict(**overrides: object) -> dict:
    """A two-track protocol over the tiny recording (private, via the env var): 8 runs in all."""
    data = {
        "format": "messenv-leaderboard-protocol/1",
        "warmup_requests": 5,
        "time_limit_s": 30.0,
        "verify_runs": 2,
        "tracks": [
            {"name": "full", "description": "tiny, full feedback", "recording": {"env": TINY_ENV},
             "alphas": {"alpha_bench": 0.55, "beta_bench": 0.6}, "seeds": [0, 1]},
            {"name": "sparse", "description": "tiny, sparse feedback", "recording": {"env": TINY_ENV},
             "alphas": {"alpha_bench": 0.55, "beta_bench": 0.6}, "seeds": [0, 1], "feedback_rate": 0.3},
        ],
    }
    data.update(overrides)
    return data


PARSER_BOMB = "class Agent:\n    pass\n" + "-" * 200_000 + "1\n"
"""An agent module on which ``ast.parse`` raises MemoryError (attack2-pocs/bomb)."""


LATENCY_SLO = {"name": "latency_slo", "latency": {"mean_s": 0.45}}
"""On the tiny recording the largest model meets both α and misses this SLO (mean latency 0.60 s
and 0.51 s on the two benchmarks), and the SLO raises the oracle's energy (76.6 → 107.2 J on alpha_bench)."""
ZOO_CHANGE = {"name": "zoo_change", "zoo": {"joins": {"m2": 10}, "leaves": {"m0": 20}}}
DRIFT_PHASES = {"name": "drift_phases", "drift": {"phases": [
    {"benchmarks": ["alpha_bench"], "n_requests": 20}, {"benchmarks": ["beta_bench"], "n_requests": 20}]}}
"""The tiny recording has 26 alpha_bench and 34 beta_bench requests."""
DRIFT_WINDOWED = {
    "name": "drift_windowed", "drift": {"start": ["alpha_bench"], "end": ["beta_bench"], "n_requests": 24}, "window": 8,
}
DRIFT_RUN = {"stream": "alpha-to-beta", "alpha": 0.7}
"""A drift track's one stream. At this α, on the tiny recording, the largest model meets every window of
:data:`DRIFT_WINDOWED`'s seed-0 stream (0.875 each), and the whole-stream SLA of its seed-1 stream (0.833)
but not that stream's last window (0.5); the windowed oracle is feasible on both."""


def scenario_protocol(scenario: dict, name: str = "scenario", **runs: object) -> Protocol:
    """A one-track protocol over the tiny recording whose track plays ``scenario``: 4 runs, or with
    ``runs`` (a drift track's ``stream`` and ``alpha``, e.g. :data:`DRIFT_RUN`) in place of its alphas, 2."""
    track = {**protocol_dict()["tracks"][0], "name": name, "scenario": scenario}
    if runs:
        del track["alphas"]
        track.update(runs)
    return parse(Protocol, protocol_dict(tracks=[track]), "scenario protocol")


@pytest.fixture
def tiny_protocol(tmp_path: Path, tiny_parquet: Path) -> Protocol:
    """:func:`protocol_dict` written to ``tmp_path/protocol.yaml`` and loaded."""
    path = tmp_path / "protocol.yaml"
    path.write_text(yaml.safe_dump(protocol_dict()), encoding="utf-8")
    return load_protocol(path)


def write_submission(
    root: Path, name: str, target: str, params: dict | None = None, code: str | None = None, **fields: object
) -> LoadedSubmission:
    """``root/submissions/<name>/submission.yaml`` (and ``<module>.py`` beside it when ``code`` is given).

    A ``messenv_agents`` target declares ``package: messenv``; ``fields`` add or override keys of the YAML.
    """
    directory = root / "submissions" / name
    directory.mkdir(parents=True)
    if code is not None:
        (directory / f"{target.rpartition('.')[0]}.py").write_text(textwrap.dedent(code), encoding="utf-8")
    spec = {
        "format": "messenv-submission/1", "name": name, "title": f"test agent {name}", "authors": ["tests"],
        "description": "written by the leaderboard tests", "agent": {"target": target, "params": params or {}},
        **({"package": "messenv"} if target.startswith("messenv_agents.") else {}), **fields,
    }
    (directory / "submission.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    return load_submission(directory)


@pytest.fixture(scope="session")
def real_home(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A MESSENV_HOME with messplus-llama3 and messplus-qwen2 imported from ../shared/data."""
    home = tmp_path_factory.mktemp("leaderboard_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MESSENV_HOME", str(home))
        import_local(shared_data / "messplus-llama3" / "inference_outputs.tar.gz", "messplus-llama3")
        import_local(shared_data / "messplus-qwen2", "messplus-qwen2")
    return home


@pytest.fixture
def with_real_recordings(real_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point this test's MESSENV_HOME at :func:`real_home`."""
    monkeypatch.setenv("MESSENV_HOME", str(real_home))
    return real_home


@pytest.fixture(scope="session")
def committed_protocol() -> Protocol:
    """The committed leaderboard/protocol.yaml."""
    return load_protocol(LEADERBOARD / "protocol.yaml")


def logged_reason(run: RunRecord) -> str:
    """The whole reason of a run that failed on a private track (its results.json keeps only the
    exception's type): the last entry for that run in the evaluator's own log."""
    log = (messenv_home() / "leaderboard" / "withheld.jsonl").read_text(encoding="utf-8").splitlines()
    reasons = [entry["reason"] for entry in map(json.loads, log) if entry["run"] == str(run.key)]
    assert reasons and (run.error or "").endswith(": details withheld (the protocol has a private track)"), run.error
    return reasons[-1]
