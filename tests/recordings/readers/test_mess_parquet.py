"""A parquet file of one's own zoo: a table of the MESS+ CSV's columns, or a messenv recording."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from messenv.recordings import RecordingError
from messenv.recordings.readers import read_mess_csv, write_mess_csv
from messenv.recordings.readers.mess_parquet import is_messenv_recording, read_mess_parquet, read_parquet_zoo
from messenv.recordings.store import write_recording
from tests.recordings.catalogue_helpers import make_tiny_zoo


@pytest.fixture
def frame(tmp_path: Path) -> pd.DataFrame:
    """A user's zoo as the frame they would save: the columns of the MESS+ CSV."""
    write_mess_csv(make_tiny_zoo(), tmp_path / "zoo.csv")
    return pd.read_csv(tmp_path / "zoo.csv")


def test_a_table_of_the_csv_columns_reads_as_its_csv(tmp_path: Path, frame: pd.DataFrame) -> None:
    path = tmp_path / "zoo.parquet"
    frame.to_parquet(path)
    recording = read_parquet_zoo(path)
    expected = read_mess_csv(tmp_path / "zoo.csv")
    assert not is_messenv_recording(path) and recording.name == "zoo"
    assert recording.models == expected.models and list(recording.doc_ids) == list(expected.doc_ids)
    for measure in ("quality", "energy_j", "latency_s"):
        np.testing.assert_array_equal(getattr(recording, measure), getattr(expected, measure))
    assert recording.metadata.source_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_messenv_recording_is_read_as_it_is(tmp_path: Path) -> None:
    path = write_recording(make_tiny_zoo(), tmp_path / "recorded.parquet")
    assert is_messenv_recording(path)
    assert read_parquet_zoo(path).fingerprint() == make_tiny_zoo().fingerprint()


def test_a_bad_cell_names_the_file_row_and_column(tmp_path: Path, frame: pd.DataFrame) -> None:
    frame.loc[3, "energy_consumption_medium"] = np.nan
    path = tmp_path / "zoo.parquet"
    frame.to_parquet(path)
    with pytest.raises(RecordingError, match=rf"^{path}, data row 4, column 'energy_consumption_medium': empty value"):
        read_mess_parquet(path)


@pytest.mark.parametrize(
    "write, problem",
    [
        (lambda frame, path: frame.drop(columns="benchmark_name").to_parquet(path), "missing column 'benchmark_name'"),
        (lambda frame, path: path.write_text("doc_id,input_text\n"), "not a parquet file"),
    ],
    ids=["missing-column", "not-parquet"],
)
def test_a_bad_file_is_named(tmp_path: Path, frame: pd.DataFrame, write, problem: str) -> None:
    path = tmp_path / "zoo.parquet"
    write(frame, path)
    with pytest.raises(RecordingError, match=rf"^{path}: {problem}"):
        read_parquet_zoo(path)
