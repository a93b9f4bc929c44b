"""protocol.yaml: validation errors name the field; private recordings; the committed α rules."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from messenv.leaderboard.__main__ import main
from messenv.leaderboard.evaluate import open_tracks
from messenv.leaderboard.protocol import Protocol, load_protocol
from messenv.leaderboard.schema import LeaderboardError, parse
from messenv.recordings.catalogue import load
from tests.leaderboard.conftest import (
    DRIFT_PHASES, DRIFT_RUN, DRIFT_WINDOWED, TINY_ENV, protocol_dict, scenario_protocol, write_submission,
)

PRE_DRIFT_DIGEST = "93bee3da97e6e0fb93aa1b9d04023fd88d81d0a91a1499f56f151650f5898d46"
"""``protocol_dict()``'s digest as computed before drift tracks existed (commit 4f38020)."""


def test_committed_protocol_has_the_required_tracks(committed_protocol: Protocol) -> None:
    tracks = {track.name: track for track in committed_protocol.tracks}
    assert {"llama3-paper", "qwen2", "llama3-tight", "llama3-sparse"} <= set(tracks)
    assert tracks["llama3-paper"].recording == "messplus-llama3"
    assert tracks["qwen2"].recording == "messplus-qwen2"
    assert tracks["llama3-sparse"].feedback_rate < 1.0
    paper, tight = tracks["llama3-paper"].alphas, tracks["llama3-tight"].alphas
    assert set(paper) == set(tight) and all(tight[b] > paper[b] for b in paper)


def test_alphas_follow_the_documented_rules(committed_protocol: Protocol, with_real_recordings: Path) -> None:
    """qwen2: the third model's accuracy floored to 0.01; tight: paper + 0.05 capped at the largest's."""
    floor = lambda x: math.floor(x * 100 + 1e-9) / 100  # noqa: E731
    qwen = load("messplus-qwen2")
    for benchmark, alpha in committed_protocol.track("qwen2").alphas.items():
        accuracy = qwen.select(benchmarks=[benchmark]).quality.mean(axis=0)
        assert alpha == pytest.approx(floor(accuracy[2])), benchmark
    llama = load("messplus-llama3")
    paper = committed_protocol.track("llama3-paper").alphas
    for benchmark, alpha in committed_protocol.track("llama3-tight").alphas.items():
        largest = llama.select(benchmarks=[benchmark]).quality.mean(axis=0)[-1]
        assert alpha == pytest.approx(min(paper[benchmark] + 0.05, floor(largest))), benchmark


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"warmup_requests": "100"}, "warmup_requests: Input should be a valid integer"),
        ({"tracks": []}, "tracks: List should have at least 1 item"),
        ({"speed": 1}, "speed: Extra inputs are not permitted"),
    ],
)
def test_malformed_protocol_names_the_field(tmp_path: Path, change: dict, message: str) -> None:
    path = tmp_path / "protocol.yaml"
    path.write_text(yaml.safe_dump(protocol_dict(**change)), encoding="utf-8")
    with pytest.raises(LeaderboardError) as error:
        load_protocol(path)
    assert str(path) in str(error.value) and message in str(error.value)


def test_alpha_out_of_range_and_duplicate_tracks_are_rejected() -> None:
    data = protocol_dict()
    data["tracks"][0]["alphas"]["alpha_bench"] = 1.5
    with pytest.raises(LeaderboardError, match="tracks.0.alphas.alpha_bench: Input should be less than or equal to 1"):
        parse(Protocol, data, "p")
    data = protocol_dict()
    data["tracks"][1]["name"] = "full"
    with pytest.raises(LeaderboardError, match=r"track name\(s\) \['full'\] are used twice"):
        parse(Protocol, data, "p")


def test_missing_private_recording_is_a_clear_error(tiny_protocol: Protocol, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TINY_ENV)
    with pytest.raises(LeaderboardError, match=f"track 'full': its private recording is not supplied: set the environment variable {TINY_ENV}"):
        tiny_protocol.tracks[0].load_recording()
    monkeypatch.setenv(TINY_ENV, "/nonexistent/hidden.parquet")
    with pytest.raises(LeaderboardError, match="private recording /nonexistent/hidden.parquet .* does not exist"):
        tiny_protocol.tracks[0].load_recording()


def test_evaluate_cli_stops_before_any_run_when_a_private_recording_is_missing(
    tmp_path: Path, tiny_protocol: Protocol, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    submission = write_submission(tmp_path, "cheap", "messenv_agents.fixed.CheapestFirstAgent")
    monkeypatch.delenv(TINY_ENV)
    status = main(["--protocol", str(tmp_path / "protocol.yaml"), "evaluate", str(submission.directory), "--no-progress"])
    assert status == 2
    assert f"set the environment variable {TINY_ENV}" in capsys.readouterr().err
    assert not submission.results_path.exists()


def test_the_cli_outside_the_repository_says_where_to_run_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["build"]) == 2
    assert "leaderboard/protocol.yaml: no such file (run from the repository's root" in capsys.readouterr().err
    assert main(["--protocol", "elsewhere.yaml", "build"]) == 2  # a named file: just "no such file"
    assert capsys.readouterr().err.strip().endswith("elsewhere.yaml: no such file")


def test_track_benchmark_missing_from_recording(tmp_path: Path, tiny_parquet: Path) -> None:
    data = protocol_dict()
    data["tracks"][0]["alphas"]["gamma_bench"] = 0.5
    protocol = parse(Protocol, data, "p")
    with pytest.raises(LeaderboardError, match=r"track 'full': benchmark\(s\) \['gamma_bench'\] not in recording"):
        protocol.tracks[0].load_recording()


def test_digest_ignores_comments_but_not_values(tmp_path: Path) -> None:
    path = tmp_path / "protocol.yaml"
    path.write_text(yaml.safe_dump(protocol_dict()), encoding="utf-8")
    first = load_protocol(path).digest()
    path.write_text("# a comment\n" + yaml.safe_dump(protocol_dict()), encoding="utf-8")
    assert load_protocol(path).digest() == first
    path.write_text(yaml.safe_dump(protocol_dict(warmup_requests=6)), encoding="utf-8")
    assert load_protocol(path).digest() != first


def test_the_digest_changes_with_the_scenario() -> None:
    stationary = parse(Protocol, protocol_dict(), "protocol")
    digests = {stationary.digest()}
    for scenario in ({"latency": {"mean_s": 0.5}}, {"latency": {"mean_s": 0.6}}, {"delay": {"steps": 10}}):
        data = protocol_dict()
        data["tracks"][0]["scenario"] = scenario
        digests.add(parse(Protocol, data, "protocol").digest())
    assert len(digests) == 4


def test_the_drift_form_changed_no_existing_digest() -> None:
    """The drift fields are left out of a track's canonical JSON when unset."""
    assert parse(Protocol, protocol_dict(), "protocol").digest() == PRE_DRIFT_DIGEST


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        ({"latency": {"mean_s": -1}}, "scenario.latency.mean_s must be a number > 0"),
        ({"speed": 2}, "unknown key(s) ['speed']"),
        ({"window": 0}, "scenario.window must be a positive integer or None, got 0"),
        ({"drift": {"start": ["alpha_bench"]}}, "scenario.drift.end must name at least one benchmark, got None"),
    ],
)
def test_a_bad_scenario_names_the_track(scenario: dict, message: str) -> None:
    data = protocol_dict()
    data["tracks"][1]["scenario"] = scenario
    with pytest.raises(LeaderboardError) as error:
        parse(Protocol, data, "protocol.yaml")
    assert "tracks.1.scenario" in str(error.value) and message in str(error.value)


def test_a_zoo_change_naming_a_model_the_recording_lacks_is_refused(tiny_parquet: Path) -> None:
    data = protocol_dict()
    data["tracks"][0]["scenario"] = {"zoo": {"joins": {"gpt-9": 5}}}
    with pytest.raises(LeaderboardError, match=r"track 'full': scenario.zoo: model\(s\) \['gpt-9'\] not in the zoo"):
        parse(Protocol, data, "protocol.yaml").tracks[0].load_recording()


def test_committed_scenario_tracks_are_playable_at_the_papers_alpha(
    committed_protocol: Protocol, with_real_recordings: Path
) -> None:
    """One track per scenario kind on the Llama-3 recording, at llama3-paper's α (a drift track: the
    phases' request-weighted mean of it; a windowed one: the lower of its two benchmarks', every
    window being judged alone); every run's references solve."""
    paper = committed_protocol.track("llama3-paper").alphas
    scenario_tracks = [track for track in committed_protocol.tracks if track.scenario is not None]
    kinds = {track.name: track.play_scenario for track in scenario_tracks}
    assert kinds["llama3-latency"].latency is not None and kinds["llama3-delayed"].delay is not None
    assert kinds["llama3-zoo"].zoo is not None
    drift, windowed = kinds["llama3-drift"], kinds["llama3-windowed"]
    assert drift.drift.phases and drift.window is None and windowed.drift is not None and windowed.window is not None
    phases = drift.drift.phases
    expected = {
        "llama3-drift": sum(paper[p.benchmarks[0]] * p.n_requests for p in phases) / drift.drift.length,
        "llama3-windowed": min(paper[windowed.drift.start[0]], paper[windowed.drift.end[0]]),
    }
    for context in open_tracks(Protocol.model_validate({**committed_protocol.model_dump(), "tracks": scenario_tracks})):
        track = context.track
        assert track.recording == "messplus-llama3"
        if track.drifts:
            assert track.alpha == pytest.approx(expected[track.name])
        else:
            assert all(paper[b] == a for b, a in track.run_alphas.items())
        for key in (k for k in committed_protocol.runs() if k.track == track.name):
            references = context.references(key)
            assert (references.static_mix_energy_j is None) == (track.name == "llama3-zoo")


def test_a_drift_track_has_one_stream_whose_name_keys_its_runs() -> None:
    protocol = scenario_protocol(DRIFT_WINDOWED, "windowed", **DRIFT_RUN)
    (track,) = protocol.tracks
    assert track.drifts and track.run_alphas == {"alpha-to-beta": 0.7} and track.play_scenario.window == 8
    assert [str(key) for key in protocol.runs()] == ["windowed/alpha-to-beta/seed 0", "windowed/alpha-to-beta/seed 1"]
    assert '"stream":"alpha-to-beta","alpha":0.7' in protocol.model_dump_json()


def test_a_windowed_sla_without_drift_keeps_one_run_per_benchmark() -> None:
    (track,) = scenario_protocol({"name": "windowed", "window": 10}).tracks
    assert not track.drifts and track.run_alphas == {"alpha_bench": 0.55, "beta_bench": 0.6}


@pytest.mark.parametrize(
    ("scenario", "change", "message"),
    [
        (DRIFT_PHASES, {}, "a drift track (scenario.drift) has one stream: give 'stream' (its name) and 'alpha', not"),
        (DRIFT_PHASES, {"alphas": None, "stream": "s"}, "a drift track (scenario.drift) has one stream"),
        (DRIFT_PHASES, {"alphas": None, **DRIFT_RUN, "n_requests": 40},
         "a drift sets the stream's length: leave 'n_requests' unset on a drift track"),
        (None, {"stream": "s"}, "a track without scenario.drift gives 'alphas' (benchmark: α); 'stream' and 'alpha'"),
        (None, {"alphas": None}, "a track without scenario.drift gives 'alphas'"),
    ],
)
def test_a_bad_combination_of_drift_and_runs_is_one_line_naming_the_track(
    tmp_path: Path, scenario: dict | None, change: dict, message: str
) -> None:
    data = protocol_dict()
    track = {**data["tracks"][1], "scenario": scenario, **change}
    data["tracks"][1] = {key: value for key, value in track.items() if value is not None}
    path = tmp_path / "protocol.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(LeaderboardError) as error:
        load_protocol(path)
    assert str(error.value).startswith(f"{path}: tracks.1: ") and message in str(error.value)
    assert "\n" not in str(error.value)


def test_a_drift_the_recording_cannot_play_is_refused_when_it_loads(tiny_parquet: Path) -> None:
    phases = [{"benchmarks": ["alpha_bench"], "n_requests": 30}, {"benchmarks": ["gamma_bench"], "n_requests": 5}]
    for drift, message in (
        ({"phases": phases[:1]}, "track 'drift': n_requests=30 exceeds the 26 requests"),
        ({"phases": phases[1:]}, r"track 'drift': benchmark\(s\) \['gamma_bench'\] not in recording"),
    ):
        track = scenario_protocol({"drift": drift}, "drift", **DRIFT_RUN).tracks[0]
        with pytest.raises(LeaderboardError, match=message):
            track.load_recording()
