"""The recorder: resumable after a crash, failures recorded (never a silent 0), outputs readable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from messenv.live.energy import EstimateMeter
from messenv.live.recorder import RecordSettings, record
from messenv.live.runner import ModelFailure, RunSettings
from messenv.live.taskfile import TaskItem
from messenv.live.zoo import ZooSpec, zoo_from_config
from messenv.recordings import RecordingError
from messenv.recordings.readers import read_mess_csv
from messenv.recordings.store import read_recording
from tests.live.conftest import SAMPLE_MC, shipped_zoo_config
from tests.live.fakes import Crash, fake_factory


@pytest.fixture
def zoo() -> ZooSpec:
    """The tiny zoo's config (fake engines stand in for its models in these tests)."""
    return zoo_from_config(shipped_zoo_config("tiny-random", root="/unused"))


def settings(out_dir: Path, **changes: object) -> RecordSettings:
    return RecordSettings(**{"name": "fake", "out_dir": out_dir, "batch_size": 3, "progress": False, **changes})


def test_crash_and_resume_skips_done_pairs_and_matches_an_uninterrupted_run(
    tmp_path: Path, zoo: ZooSpec, sample_tasks: list[TaskItem]
) -> None:
    meter = EstimateMeter(watts=10.0)
    reference = record(zoo, sample_tasks, SAMPLE_MC, meter, settings(tmp_path / "ref"), fake_factory())

    with pytest.raises(Crash):
        record(zoo, sample_tasks, SAMPLE_MC, meter, settings(tmp_path / "run"), fake_factory(crash_after=20))
    parts = sorted((tmp_path / "run" / "parts").glob("part-*.parquet"))
    done = sum(pq.read_metadata(p).num_rows for p in parts)
    assert 0 < done < 20  # only whole (batch, model) parts survive; the batch in flight is lost
    assert not list((tmp_path / "run" / "parts").glob(".*tmp*"))  # no half-written file left

    calls: list = []
    resumed = record(zoo, sample_tasks, SAMPLE_MC, meter, settings(tmp_path / "run"), fake_factory(calls=calls))
    prompts = {item.prompt for item in sample_tasks}
    measured = [call for call in calls if call[1] in prompts]  # the rest are the engines' warm-ups
    assert len(measured) == len(sample_tasks) * len(zoo.models) - done  # nothing done twice
    assert len(set(measured)) == len(measured)
    order = [reference.recording.models.index(m) for m in resumed.recording.models]
    np.testing.assert_array_equal(resumed.recording.quality, reference.recording.quality[:, order])
    np.testing.assert_array_equal(resumed.recording.doc_ids, reference.recording.doc_ids)


def test_resume_after_batch_size_change_never_overwrites_finished_parts(
    tmp_path: Path, zoo: ZooSpec, sample_tasks: list[TaskItem]
) -> None:
    meter = EstimateMeter(watts=10.0)
    with pytest.raises(Crash):
        record(zoo, sample_tasks, SAMPLE_MC, meter, settings(tmp_path), fake_factory(crash_after=10))
    calls: list = []
    result = record(zoo, sample_tasks, SAMPLE_MC, meter, settings(tmp_path, batch_size=5), fake_factory(calls=calls))
    rows = pq.read_table(result.rows).to_pandas()
    assert len(rows) == len(sample_tasks) * len(zoo.models)
    assert not rows.duplicated(["request", "model"]).any()


def test_failure_is_recorded_with_its_error_and_the_request_left_out(
    tmp_path: Path, zoo: ZooSpec, sample_tasks: list[TaskItem]
) -> None:
    failing = sample_tasks[4].prompt
    result = record(
        zoo, sample_tasks, SAMPLE_MC, EstimateMeter(10.0), settings(tmp_path), fake_factory(fail_on=[failing])
    )
    rows = pq.read_table(result.rows).to_pandas()
    failed = rows[rows["error"].notna()]
    assert len(failed) == len(zoo.models) == result.failures  # every fake model fails on it
    assert failed["error"].str.contains("RuntimeError: CUDA out of memory").all()
    assert failed["quality"].isna().all()  # not a silent 0
    recording = result.recording
    assert recording.n_requests == len(sample_tasks) - 1
    assert sample_tasks[4].id not in set(recording.doc_ids)
    extra = recording.metadata.extra
    assert extra["requests_excluded_for_failures"] == 1
    assert {f["doc_id"] for f in extra["failures"]} == {sample_tasks[4].id}


def test_on_error_raise_names_model_and_request(tmp_path: Path, zoo: ZooSpec, sample_tasks: list[TaskItem]) -> None:
    run = RunSettings(on_error="raise")
    with pytest.raises(
        ModelFailure, match=r"model 'tiny-a' failed on request sample-science/s2: RuntimeError: CUDA out of memory"
    ):
        record(
            zoo,
            sample_tasks,
            SAMPLE_MC,
            EstimateMeter(10.0),
            settings(tmp_path, run=run),
            fake_factory(fail_on=[sample_tasks[1].prompt]),
        )


def test_every_request_failing_is_an_error(tmp_path: Path, zoo: ZooSpec, sample_tasks: list[TaskItem]) -> None:
    tasks = sample_tasks[:2]
    with pytest.raises(RecordingError, match="every request had a failed model"):
        record(
            zoo,
            tasks,
            SAMPLE_MC,
            EstimateMeter(10.0),
            settings(tmp_path),
            fake_factory(fail_on=[t.prompt for t in tasks]),
        )


def test_a_run_directory_is_not_mixed_with_another_run(
    tmp_path: Path, zoo: ZooSpec, sample_tasks: list[TaskItem]
) -> None:
    meter = EstimateMeter(10.0)
    record(zoo, sample_tasks[:4], SAMPLE_MC, meter, settings(tmp_path), fake_factory())
    with pytest.raises(RecordingError, match=r"holds a run with different \['task'\]"):
        record(zoo, sample_tasks[:5], SAMPLE_MC, meter, settings(tmp_path), fake_factory())
    with pytest.raises(RecordingError, match=r"holds a run with different \['scoring'\]"):
        record(
            zoo,
            sample_tasks[:4],
            SAMPLE_MC,
            meter,
            settings(tmp_path, run=RunSettings(quality_metric="acc_norm")),
            fake_factory(),
        )
    with pytest.raises(RecordingError, match="pass resume=true"):
        record(zoo, sample_tasks[:4], SAMPLE_MC, meter, settings(tmp_path, resume=False), fake_factory())


def test_end_to_end_with_tiny_models_writes_loadable_outputs(
    tmp_path: Path, tiny_zoo: ZooSpec, sample_tasks: list[TaskItem]
) -> None:
    """The done-when of issue 5: tiny random LMs, transformers engine, estimated energy, env loads it."""
    import gymnasium as gym

    import messenv  # noqa: F401 - registers the env

    result = record(tiny_zoo, sample_tasks, SAMPLE_MC, EstimateMeter(25.0), settings(tmp_path, batch_size=8))
    recording = result.recording
    assert set(recording.models) == set(tiny_zoo.labels) and recording.n_requests == len(sample_tasks)
    assert set(np.unique(recording.quality)) <= {0.0, 1.0}
    assert (recording.energy_j > 0).all()
    np.testing.assert_allclose(recording.energy_j, recording.latency_s * 25.0)
    meta = recording.metadata
    assert meta.energy_source.startswith("estimate:") and meta.extra["energy"]["estimated"] is True
    assert "estimate" in meta.units["energy"] and not meta.synthetic
    assert meta.extra["zoo_config"]["name"] == "tiny-random"
    assert meta.extra["machine"]["versions"]["torch"]
    json.dumps(meta.extra)  # plain data only

    stored = read_recording(result.parquet)
    assert stored.fingerprint() == recording.fingerprint()
    assert stored.metadata.energy_source == meta.energy_source
    from_csv = read_mess_csv(result.csv)
    for m, model in enumerate(recording.models):
        np.testing.assert_array_equal(from_csv.quality[:, from_csv.models.index(model)], recording.quality[:, m])

    env = gym.make("messenv/MessEnv-v0", recording=str(result.parquet), alpha=0.3, explore_action=True)
    env.reset(seed=0)
    terminated = False
    while not terminated:
        _, reward, terminated, _, info = env.step(env.action_space.n - 1)
        assert reward < 0
    assert info["episode_summary"]["n_requests"] == len(sample_tasks)
