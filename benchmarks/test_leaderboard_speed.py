"""Costs of the leaderboard's defences, each against the undefended peer timed in the same run.

Goals (issue 9):

* loading a 13k-request cached recording with its sha256 check costs at most 2× loading it
  without the check;
* one track played by MESS+ in the sandbox (a worker process per run, every step through a pipe)
  takes at most 2× the same track played in-process;
* the audit of a hostile results.json of duplicated runs is linear in the runs (attack2 audit:
  10× the runs cost at most 30× the time).

Both run on the bundled synthetic default (13,252 requests, the Llama-3 zoo's benchmarks), so
they need no download. Run with::

    pytest benchmarks/test_leaderboard_speed.py --benchmark-enable
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from benchmarks.conftest import enforce_goal
from messenv.harness import run_episode
from messenv.leaderboard.evaluate import HARNESS_VERSION, open_tracks, play_run
from messenv.leaderboard.host import WorkerHost, sharing_one_cpu
from messenv.leaderboard.protocol import load_protocol
from messenv.leaderboard.records import audit, read_results
from messenv.leaderboard.sandbox import bwrap_path
from messenv.leaderboard.submission import load_submission, worker_spec
from messenv.recordings import load
from messenv.recordings import catalogue
from messenv.recordings.catalogue import DEFAULT_RECORDING
from messenv_agents.mess_plus import MessPlusAgent

SUBMISSION = Path(__file__).resolve().parents[1] / "leaderboard" / "submissions" / "mess-plus"
GOAL = 2.0
ROUNDS = 3


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A MESSENV_HOME holding the generated synthetic default (and its recorded sha256)."""
    directory = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MESSENV_HOME", str(directory))
        load(DEFAULT_RECORDING)
    return directory


def interleaved(first, second, rounds: int = ROUNDS) -> tuple[float, float]:
    """Best wall time of each of two callables, run alternately so that both see the same machine load."""
    best = [float("inf"), float("inf")]
    for _ in range(rounds):
        for index, function in enumerate((first, second)):
            started = time.perf_counter()
            function()
            best[index] = min(best[index], time.perf_counter() - started)
    return best[0], best[1]


def test_load_with_checksum_vs_without(benchmark, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESSENV_HOME", str(home))
    benchmark(load, DEFAULT_RECORDING)
    if benchmark.disabled:
        return

    sha256 = catalogue.check_cached(catalogue.get_entry(DEFAULT_RECORDING))

    def unchecked() -> None:  # the parquet file's sha256 known, not computed (the numpy copy checks its own)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(catalogue, "check_cached", lambda entry, path=None: sha256)
            load(DEFAULT_RECORDING)

    checked, plain = interleaved(lambda: load(DEFAULT_RECORDING), unchecked, rounds=7)
    enforce_goal(benchmark, checked / plain, GOAL, "load with sha256 check / read without")


@pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap (bwrap) is not installed: nothing is sandboxed")
def test_sandboxed_track_vs_in_process(benchmark, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESSENV_HOME", str(home))
    protocol_path = tmp_path / "protocol.yaml"
    alphas = {"arc_challenge": 0.5, "arc_easy": 0.75, "boolq": 0.8, "logiqa": 0.4, "piqa": 0.78, "sciq": 0.96,
              "social_iqa": 0.44, "winogrande": 0.7}
    protocol_path.write_text(yaml.safe_dump({
        "format": "messenv-leaderboard-protocol/1", "warmup_requests": 100, "time_limit_s": 300, "verify_runs": 1,
        "tracks": [{"name": "paper", "description": "synthetic", "recording": DEFAULT_RECORDING, "seeds": [0],
                    "alphas": alphas}],
    }))
    protocol = load_protocol(protocol_path)
    submission = load_submission(SUBMISSION)
    spec = worker_spec(submission, protocol)
    context = open_tracks(protocol)[0]
    keys = protocol.runs()
    for key in keys:
        context.references(key)

    def sandboxed() -> None:
        with sharing_one_cpu() as cpu, WorkerHost(spec.directory, cpu, spec.memory_mb) as host:
            runs = [play_run(context, key, spec, host, protocol) for key in keys]
        assert all(run.status == "ok" for run in runs), [run.error for run in runs]

    def in_process() -> None:
        for key in keys:
            run_episode(context.env(key.benchmark), MessPlusAgent(**submission.spec.agent.params), key.seed)

    benchmark.pedantic(sandboxed, rounds=1, iterations=1)
    if benchmark.disabled:
        return
    remote, local = interleaved(sandboxed, in_process)
    enforce_goal(benchmark, remote / local, GOAL, "MESS+ track sandboxed / in-process")


def test_audit_of_duplicated_runs_is_linear(benchmark) -> None:
    """A hostile results.json of one run repeated: the audit's cost grows linearly in the runs (10×
    the runs, at most 30× the time; the former ``keys.count`` per key grew 100×: 20 s for 10,000)."""
    protocol = load_protocol(SUBMISSION.parent.parent / "protocol.yaml")
    results = read_results(SUBMISSION / "results.json")

    def flooded(n: int):
        forged = results.model_copy(update={"runs": [results.runs[0]] * n})
        return lambda: audit(forged, protocol, HARNESS_VERSION)

    large, small = flooded(20_000), flooded(2_000)
    assert "duplicated" in benchmark(large)[0]
    if benchmark.disabled:
        return
    large_s, small_s = interleaved(large, small, rounds=5)
    enforce_goal(benchmark, large_s / small_s, 30.0, "audit of 20,000 / 2,000 duplicated runs")
