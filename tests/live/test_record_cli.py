"""``python -m messenv.record``: the Hydra config composes from any directory and runs end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from messenv.record import record_from_config, summarise
from messenv.recordings.store import read_recording


def composed(*overrides: str):
    with initialize_config_module(config_module="messenv_conf", version_base="1.3"):
        return compose(config_name="record", overrides=list(overrides))


def test_defaults_compose_to_the_llama3_zoo_and_sample_task() -> None:
    cfg = composed()
    assert cfg.zoo.name == "llama3-messplus" and cfg.task.name == "sample_mc"
    assert cfg.name == "llama3-messplus-sample_mc" and cfg.out_dir == "recordings-out/llama3-messplus-sample_mc"
    assert cfg.energy.meter == "zeus" and cfg.on_error == "record"


def test_misspelt_key_fails_at_composition() -> None:
    with pytest.raises(ConfigCompositionException, match="metre"):
        composed("energy.metre=estimate")


def test_record_from_config_with_tiny_zoo(tmp_path: Path, tiny_model_root: Path) -> None:
    cfg = composed(
        "zoo=tiny-random",
        f"zoo.root={tiny_model_root}",
        "task=sample_gen",
        "task.limit=3",
        "energy.meter=estimate",
        "energy.estimate_watts=30",
        f"out_dir={tmp_path}",
        "progress=false",
        "scoring.max_new_tokens=4",
    )
    result = record_from_config(cfg)
    assert result.parquet == tmp_path / "tiny-random-sample_gen.parquet"
    recording = read_recording(result.parquet)
    assert recording.n_requests == 3 and recording.metadata.extra["scoring"]["max_new_tokens"] == 4
    assert OmegaConf.to_container(cfg.zoo, resolve=True)["models"]["tiny-a"]["model"] == f"{tiny_model_root}/tiny-a"
    text = summarise(result)
    assert "estimate: wall time x 30 W" in text and "failed (request, model) pairs: 0" in text


def test_cli_resolves_its_configs_from_another_directory(tmp_path: Path) -> None:
    """The pkg:// config path works outside the repository (prints the job config, runs nothing)."""
    command = [sys.executable, "-m", "messenv.record", "zoo=qwen2-messplus", "--cfg", "job", "--resolve"]
    done = subprocess.run(
        command,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "HYDRA_FULL_ERROR": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert "name: qwen2-messplus-sample_mc" in done.stdout and "unsloth/Qwen2.5-32B-Instruct-bnb-4bit" in done.stdout


def test_help_describes_the_command_and_lists_only_its_groups() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "messenv.record", "--help"], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("messenv-record (python -m messenv.record): run every model of a zoo")
    assert "powered by Hydra" not in result.stdout
    assert "zoo: llama3-messplus, qwen2-messplus, tiny-random" in result.stdout
    assert "task: jsonl, sample_gen, sample_mc" in result.stdout
    assert "\nagent:" not in result.stdout and "\nenv:" not in result.stdout
