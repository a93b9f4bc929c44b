"""JSON Lines of one's own zoo: one record of the MESS+ CSV's columns per line."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from messenv.recordings import RecordingError, load
from messenv.recordings.local import import_file
from messenv.recordings.readers import read_mess_csv, read_mess_jsonl, write_mess_csv
from tests.recordings.catalogue_helpers import make_tiny_zoo


@pytest.fixture
def lines(tmp_path: Path) -> list[str]:
    """A user's zoo as JSON Lines: the records of its CSV, numbers as numbers."""
    write_mess_csv(make_tiny_zoo(), tmp_path / "zoo.csv")
    frame = pd.read_csv(tmp_path / "zoo.csv", dtype={"doc_id": str})
    return [json.dumps(record, ensure_ascii=False) for record in frame.to_dict("records")]


def write_lines(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "zoo.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_records_read_as_their_csv(tmp_path: Path, lines: list[str]) -> None:
    path = write_lines(tmp_path, [lines[0], "", *lines[1:]])  # a blank line is skipped
    recording = read_mess_jsonl(path)
    expected = read_mess_csv(tmp_path / "zoo.csv")
    assert recording.name == "zoo" and recording.models == expected.models
    assert list(recording.prompts) == list(expected.prompts) and list(recording.doc_ids) == list(expected.doc_ids)
    for measure in ("quality", "energy_j", "latency_s"):
        np.testing.assert_array_equal(getattr(recording, measure), getattr(expected, measure))
    assert recording.metadata.source_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_imports_under_a_local_name(tmp_path: Path, lines: list[str]) -> None:
    """``.jsonl`` was refused ("cannot tell how to read a '.jsonl' file")."""
    entry = import_file(write_lines(tmp_path, lines), "fromlines")
    assert entry.reader.endswith("read_mess_jsonl") and load("fromlines").n_requests == len(lines)


def test_a_bad_value_names_the_file_row_and_column(tmp_path: Path, lines: list[str]) -> None:
    record = json.loads(lines[2])
    record["energy_consumption_small"] = -1
    path = write_lines(tmp_path, [*lines[:2], json.dumps(record), *lines[3:]])
    with pytest.raises(RecordingError, match=rf"^{path}, data row 3, column 'energy_consumption_small': negative"):
        read_mess_jsonl(path)


@pytest.mark.parametrize(
    "bad, problem",
    [
        ('{"doc_id": "1", ', r"line 2 is not valid JSON \(Expecting"),
        ("[1, 2]", r"line 2 is a JSON list, not an object"),
    ],
)
def test_a_line_that_is_not_a_record_is_named(tmp_path: Path, lines: list[str], bad: str, problem: str) -> None:
    path = write_lines(tmp_path, [lines[0], bad, *lines[1:]])
    with pytest.raises(RecordingError, match=rf"^{path}: {problem}"):
        read_mess_jsonl(path)


def test_an_empty_or_latin1_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "zoo.jsonl"
    path.write_text("\n\n")
    with pytest.raises(RecordingError, match=rf"^{path}: no records"):
        read_mess_jsonl(path)
    path.write_bytes(b'{"input_text": "caf\xe9"}\n')
    with pytest.raises(RecordingError, match=rf"^{path}: line 1 is not UTF-8 text"):
        read_mess_jsonl(path)


def test_line_and_paragraph_separators_inside_a_prompt_stay_in_it(tmp_path: Path, lines: list[str]) -> None:
    """JSON holds U+2028, U+2029 and U+0085 unescaped in strings (``ensure_ascii=False``): only
    ``\\n`` ends a record, and a ``\\r\\n`` file reads the same (review)."""
    records = [json.loads(line) for line in lines]
    records[0]["input_text"] = "first part\u2028second\u2029third\x85end"
    path = tmp_path / "zoo.jsonl"
    path.write_bytes("\r\n".join(json.dumps(record, ensure_ascii=False) for record in records).encode("utf-8"))
    assert "first part\u2028second\u2029third\x85end" in list(read_mess_jsonl(path).prompts)
