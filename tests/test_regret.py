"""Regret curves and the ``python -m messenv.regret`` figure, on a tiny private-recording protocol."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from messenv.harness import EpisodeResult
from messenv.recordings.store import write_recording
from messenv.regret import main, regret_curves
from tests.factories import make_recording
from tests.leaderboard.conftest import TINY_ENV, protocol_dict
from tests.test_plots import assert_png


def episode(quality: list[float], energy_j: list[float]) -> EpisodeResult:
    n = len(quality)
    zeros = np.zeros(n)
    return EpisodeResult(
        agent="a", seed=0, summary={}, action=zeros.astype(int), answer_model=zeros.astype(int),
        explored=zeros.astype(bool), feedback=np.ones(n, bool), quality=np.array(quality),
        energy_j=np.array(energy_j), running_quality=zeros, sla_queue=zeros,
    )


def test_regret_curves_are_cumulative_energy_above_the_oracle_and_answers_short_of_alpha():
    result = episode([0.0, 1.0, 1.0, 0.0], [5.0, 5.0, 1.0, 1.0])
    energy, shortfall = regret_curves(result, np.array([1.0, 1.0, 1.0, 1.0]), 0.5)
    np.testing.assert_allclose(energy, [4.0, 8.0, 8.0, 8.0])
    np.testing.assert_allclose(shortfall, [0.5, 0.0, 0.0, 0.0])


@pytest.fixture
def tiny_protocol(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(TINY_ENV, str(write_recording(make_recording(n=60), tmp_path / "tiny.parquet")))
    path = tmp_path / "protocol.yaml"
    path.write_text(yaml.safe_dump(protocol_dict()))
    return path


def test_writes_the_figure_for_the_chosen_agents(tiny_protocol: Path, tmp_path: Path):
    out = main(["--protocol", str(tiny_protocol), "--track", "full", "--benchmark", "alpha_bench",
                "--agents", "safe_mix,largest_only", "--out", str(tmp_path / "figures" / "regret.png")])
    assert_png(out)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--track", "nope", "--benchmark", "alpha_bench"], "unknown track 'nope'"),
        (["--track", "full", "--benchmark", "nope"], "track 'full' has no benchmark 'nope'"),
        (["--track", "full", "--benchmark", "alpha_bench", "--agents", "safe_mix,nope"], "unknown agent(s) ['nope']"),
    ],
)
def test_bad_arguments_are_named(
    tiny_protocol: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    with pytest.raises(SystemExit):
        main(["--protocol", str(tiny_protocol), *args, "--out", str(tmp_path / "x.png")])
    assert message in capsys.readouterr().err
