"""Tests for the parquet store: exact round trips, atomic writes, and errors that name the file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messenv.recordings.errors import RecordingError
from messenv.recordings.recording import Recording
from messenv.recordings.store import measure_column, read_recording, recording_to_table, write_recording
from tests.recordings.catalogue_helpers import assert_same_measurements


def assert_same_recording(a: Recording, b: Recording) -> None:
    assert a.name == b.name
    assert_same_measurements(a, b)
    assert a.fingerprint() == b.fingerprint()


def test_round_trip_is_exact(tmp_path: Path, tiny_zoo: Recording) -> None:
    path = write_recording(tiny_zoo, tmp_path / "tiny.parquet")
    back = read_recording(path)
    assert_same_recording(back, tiny_zoo)
    assert back.metadata == tiny_zoo.metadata
    assert back.models == ("small", "medium", "large")


def test_model_order_is_kept_even_when_not_cheapest_first(tmp_path: Path, tiny_zoo: Recording) -> None:
    # A subset of a zoo keeps the zoo's order although its own means may differ; the store must
    # not re-sort. Build one whose order contradicts its means.
    flipped = Recording(
        name="flipped",
        models=tiny_zoo.models[::-1],
        doc_ids=tiny_zoo.doc_ids,
        prompts=tiny_zoo.prompts,
        benchmark_names=tiny_zoo.benchmark_names,
        benchmark_index=tiny_zoo.benchmark_index,
        quality=tiny_zoo.quality[:, ::-1],
        energy_j=tiny_zoo.energy_j[:, ::-1],
        latency_s=tiny_zoo.latency_s[:, ::-1],
    )
    back = read_recording(write_recording(flipped, tmp_path / "f.parquet"))
    assert_same_recording(back, flipped)


def test_selected_benchmarks_round_trip(tmp_path: Path, tiny_zoo: Recording) -> None:
    subset = tiny_zoo.select(benchmarks=["boolq"])
    back = read_recording(write_recording(subset, tmp_path / "s.parquet"))
    assert back.benchmark_names == ("boolq",)
    assert_same_recording(back, subset)


def test_features_are_not_stored(tmp_path: Path, tiny_zoo: Recording) -> None:
    featured = tiny_zoo.with_features(np.ones((tiny_zoo.n_requests, 4)), kind="hashed")
    path = write_recording(featured, tmp_path / "x.parquet")
    assert not any("feature" in name for name in pq.read_schema(path).names)
    back = read_recording(path)
    assert back.features is None
    assert back.metadata.features_kind is None


def test_layout_is_the_documented_one(tmp_path: Path, tiny_zoo: Recording) -> None:
    schema = pq.read_schema(write_recording(tiny_zoo, tmp_path / "x.parquet"))
    assert schema.names[:3] == ["doc_id", "prompt", "benchmark"]
    assert schema.names[3:6] == ["quality/small", "energy_j/small", "latency_s/small"]
    assert len(schema.names) == 3 + 3 * 3
    meta = {k.decode(): v.decode() for k, v in schema.metadata.items()}
    assert meta["messenv.format"] == "messenv-recording"
    assert meta["messenv.format_version"] == "1"
    assert json.loads(meta["messenv.models"]) == ["small", "medium", "large"]


def test_failed_write_keeps_old_file(tmp_path: Path, tiny_zoo: Recording, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_recording(tiny_zoo, tmp_path / "x.parquet")
    before = path.read_bytes()

    def write_half_then_fail(table: pa.Table, where: Path, **kwargs: object) -> None:
        Path(where).write_bytes(before[: len(before) // 2])
        raise OSError("no space left on device")

    monkeypatch.setattr(pq, "write_table", write_half_then_fail)
    with pytest.raises(OSError, match="no space"):
        write_recording(tiny_zoo.select(benchmarks=["boolq"]), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.parquet"]


# ---------------------------------------------------------------------- errors


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match=r"nope\.parquet: no such recording file"):
        read_recording(tmp_path / "nope.parquet")


def test_not_parquet(tmp_path: Path) -> None:
    path = tmp_path / "text.parquet"
    path.write_text("doc_id,prompt\n1,hello\n")
    with pytest.raises(RecordingError, match=r"text\.parquet: not a parquet file"):
        read_recording(path)


def test_parquet_without_messenv_metadata(tmp_path: Path) -> None:
    path = tmp_path / "plain.parquet"
    pd.DataFrame({"doc_id": ["1"], "prompt": ["p"]}).to_parquet(path)
    with pytest.raises(RecordingError, match=r"plain\.parquet: not a messenv recording"):
        read_recording(path)


def _rewrite(path: Path, table: pa.Table) -> Path:
    pq.write_table(table, path)
    return path


def test_wrong_format_version(tmp_path: Path, tiny_zoo: Recording) -> None:
    table = recording_to_table(tiny_zoo)
    meta = dict(table.schema.metadata)
    meta[b"messenv.format_version"] = b"2"
    path = _rewrite(tmp_path / "v2.parquet", table.replace_schema_metadata(meta))
    with pytest.raises(RecordingError, match=r"v2\.parquet: messenv recording format version '2'; this messenv reads version 1"):
        read_recording(path)


def test_missing_column_is_named(tmp_path: Path, tiny_zoo: Recording) -> None:
    table = recording_to_table(tiny_zoo)
    table = table.drop_columns([measure_column("energy_j", "medium")])
    path = _rewrite(tmp_path / "cut.parquet", table)
    with pytest.raises(RecordingError, match=r"cut\.parquet: column 'energy_j/medium' is missing"):
        read_recording(path)


@pytest.mark.parametrize(
    ("column", "row", "value", "error"),
    [
        ("quality/large", 5, None, r"column 'quality/large' is empty \(null\) at row 5"),
        ("benchmark", 3, "mmlu", r"column 'benchmark' row 3 holds 'mmlu'"),
        ("energy_j/small", 2, -1.0, r".*energy_j is negative .* request 2, model 'small'"),
    ],
)
def test_bad_cell_is_located(tmp_path: Path, tiny_zoo: Recording, column: str, row: int, value: object, error: str) -> None:
    table = recording_to_table(tiny_zoo)
    values = table.column(column).to_pylist()
    values[row] = value
    index = table.schema.get_field_index(column)
    table = table.set_column(index, column, pa.array(values, type=table.schema.field(column).type))
    path = _rewrite(tmp_path / "bad.parquet", table)
    with pytest.raises(RecordingError, match=rf"bad\.parquet: {error}"):
        read_recording(path)


def test_wrong_column_type(tmp_path: Path, tiny_zoo: Recording) -> None:
    table = recording_to_table(tiny_zoo)
    name = measure_column("latency_s", "small")
    table = table.set_column(table.schema.get_field_index(name), name, pa.array(["fast"] * table.num_rows))
    path = _rewrite(tmp_path / "typed.parquet", table)
    with pytest.raises(RecordingError, match=r"typed\.parquet: column 'latency_s/small' has type string"):
        read_recording(path)


# ---------------------------------------------------------------------- property


@st.composite
def recordings(draw: st.DrawFn) -> Recording:
    n = draw(st.integers(1, 20))
    m = draw(st.integers(2, 4))
    labels = draw(st.lists(st.text(min_size=1, max_size=8), min_size=m, max_size=m, unique=True))
    floats = st.floats(0.0, 1e6, allow_nan=False)
    unit = st.floats(0.0, 1.0, allow_nan=False)

    def matrix(elements: st.SearchStrategy[float]) -> np.ndarray:
        return np.array(draw(st.lists(st.lists(elements, min_size=m, max_size=m), min_size=n, max_size=n)))

    return Recording.build(
        name=draw(st.text(min_size=1, max_size=10)),
        models=labels,
        doc_ids=draw(st.lists(st.text(max_size=6), min_size=n, max_size=n)),
        prompts=draw(st.lists(st.text(max_size=40), min_size=n, max_size=n)),
        benchmarks=draw(st.lists(st.sampled_from(["a", "b", "c/d"]), min_size=n, max_size=n)),
        quality=matrix(unit),
        energy_j=matrix(floats),
        latency_s=matrix(floats),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(recording=recordings())
def test_any_valid_recording_round_trips(tmp_path: Path, recording: Recording) -> None:
    assert_same_recording(read_recording(write_recording(recording, tmp_path / "r.parquet")), recording)
