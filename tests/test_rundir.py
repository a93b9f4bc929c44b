"""Run folders: unique per process, claimed before Hydra writes, never shared by two runs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from messenv.config import ConfigError
from messenv.rundir import LOCK_NAME, claim, release

QUICK_RUN = ["baselines=[]", "plots=false", "env.n_requests=40"]


def start_run(args: list[str], cwd: Path, home: Path) -> subprocess.Popen:
    env = {**os.environ, "MESSENV_HOME": str(home)}
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.Popen(
        [sys.executable, "-m", "messenv.run", *args, *QUICK_RUN],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=600)
    return process.returncode, out, err


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One MESSENV_HOME with the synthetic zoo already generated, so the runs race on folders only."""
    home = tmp_path_factory.mktemp("home")
    assert finish(start_run(["hydra.run.dir=warm-up"], tmp_path_factory.mktemp("warm"), home))[0] == 0
    return home


def test_claim_refuses_a_folder_in_use_then_one_with_results(tmp_path: Path) -> None:
    claim(tmp_path, "results.json", overwrite=False, setting="hydra.run.dir")
    with pytest.raises(ConfigError, match=rf"another run \(host and pid: {socket.gethostname()} {os.getpid()}\)"):
        claim(tmp_path, "results.json", overwrite=False, setting="hydra.run.dir")
    (tmp_path / "results.json").write_text("{}")
    release(tmp_path)
    assert not (tmp_path / LOCK_NAME).exists()
    with pytest.raises(ConfigError, match=r"holds an earlier run's results.json; .* overwrite=true"):
        claim(tmp_path, "results.json", overwrite=False, setting="hydra.run.dir")
    assert not (tmp_path / LOCK_NAME).exists()  # a refused claim leaves no lock behind
    claim(tmp_path, "results.json", overwrite=True, setting="hydra.run.dir")
    release(tmp_path)


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / LOCK_NAME).write_text(f"{socket.gethostname()} {dead.pid}\n")
    claim(tmp_path, "results.json", overwrite=False, setting="hydra.run.dir")
    assert (tmp_path / LOCK_NAME).read_text().split()[1] == str(os.getpid())
    release(tmp_path)


def test_a_lock_of_another_host_is_respected(tmp_path: Path) -> None:
    (tmp_path / LOCK_NAME).write_text("some-other-host 1\n")
    with pytest.raises(ConfigError, match=rf"some-other-host 1\).*delete .*{LOCK_NAME}"):
        claim(tmp_path, "results.json", overwrite=False, setting="hydra.run.dir")


def test_three_runs_started_together_write_three_folders(tmp_path: Path, home: Path) -> None:
    runs = [start_run([f"seed={seed}"], tmp_path, home) for seed in range(3)]
    for rc, _, err in map(finish, runs):
        assert rc == 0, err
    results = sorted((tmp_path / "outputs").rglob("results.json"))
    assert len(results) == 3
    seeds = sorted(json.loads(path.read_text())["config"]["seed"] for path in results)
    assert seeds == [0, 1, 2]
    for path in results:  # each folder's config and results come from one run
        config = yaml.safe_load((path.parent / ".hydra" / "config.yaml").read_text())
        assert config["seed"] == json.loads(path.read_text())["config"]["seed"]
        assert path.parent.name.endswith(f"_mess_plus_seed{config['seed']}")
        assert not (path.parent / LOCK_NAME).exists()


def test_two_runs_given_one_folder_never_mix(tmp_path: Path, home: Path) -> None:
    runs = [start_run([f"seed={seed}", "hydra.run.dir=shared"], tmp_path, home) for seed in (0, 1)]
    outcomes = [finish(run) for run in runs]
    assert sorted(rc for rc, _, _ in outcomes) == [0, 2], outcomes
    (refused,) = [err for rc, _, err in outcomes if rc == 2]
    lines = refused.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("messenv-run: error: shared"), refused
    assert "another run" in lines[0] or "holds an earlier run's results.json" in lines[0]
    folder = tmp_path / "shared"
    winner = json.loads((folder / "results.json").read_text())["config"]["seed"]
    assert yaml.safe_load((folder / ".hydra" / "config.yaml").read_text())["seed"] == winner

    again = finish(start_run(["seed=5", "hydra.run.dir=shared"], tmp_path, home))
    assert again[0] == 2 and "overwrite=true" in again[2]
    replaced = finish(start_run(["seed=5", "hydra.run.dir=shared", "overwrite=true"], tmp_path, home))
    assert replaced[0] == 0, replaced[2]
    assert json.loads((folder / "results.json").read_text())["config"]["seed"] == 5
    assert yaml.safe_load((folder / ".hydra" / "config.yaml").read_text())["seed"] == 5


def test_a_sweep_folder_is_not_reused(tmp_path: Path, home: Path) -> None:
    sweep = ["-m", "seed=0,1", "hydra.sweep.dir=sweep"]
    assert finish(start_run(sweep, tmp_path, home))[0] == 0
    rc, _, err = finish(start_run(sweep, tmp_path, home))
    assert rc == 2 and "sweep holds an earlier run's multirun.yaml" in err


def test_a_run_folder_that_is_a_file_is_one_line(tmp_path: Path, home: Path) -> None:
    (tmp_path / "taken").write_text("not a folder")
    rc, _, err = finish(start_run(["hydra.run.dir=taken"], tmp_path, home))
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and lines[0].startswith("messenv-run: error: "), err
    assert "taken" in lines[0]
