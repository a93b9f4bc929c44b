"""The MESS+ CSV reader on small hand-written files: what it accepts and every kind of bad file."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from messenv.recordings import RecordingError
from messenv.recordings.readers import read_mess_csv, read_mess_frame, write_mess_csv

HEADER = (
    "doc_id,input_text,benchmark_name,"
    "label_a,acc_a,energy_consumption_a,inference_time_a,"
    "label_b,acc_norm_b,acc_b,energy_consumption_b,inference_time_b"
)
ROW_1 = "0,What is 1+1?,arc,1,1,10.5,0.1,1,1,,50,0.5"
ROW_2 = "1,NA,boolq,0,0,11,0.2,1,,0.25,52,0.6"


def write_csv(tmp_path: Path, *lines: str, name: str = "zoo.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
    return path


def raises_naming(path: Path, *fragments: str, **kwargs: object) -> str:
    """Read ``path``, expect a RecordingError whose message names the file and every fragment."""
    with pytest.raises(RecordingError) as info:
        read_mess_csv(path, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    for fragment in (str(path), *fragments):
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def with_cell(row: str, column: str, value: str) -> str:
    cells = row.split(",")
    cells[HEADER.split(",").index(column)] = value
    return ",".join(cells)


# ---------------------------------------------------------------------------- accepted files
def test_reads_a_valid_file(tmp_path: Path) -> None:
    recording = read_mess_csv(write_csv(tmp_path, HEADER, ROW_1, ROW_2))
    assert recording.name == "zoo"
    assert recording.models == ("a", "b")  # a is cheaper on average
    assert list(recording.doc_ids) == ["0", "1"]
    assert list(recording.prompts) == ["What is 1+1?", "NA"]  # "NA" is a prompt, not a missing value
    assert list(recording.benchmarks) == ["arc", "boolq"]
    np.testing.assert_array_equal(recording.energy_j, [[10.5, 50.0], [11.0, 52.0]])
    np.testing.assert_array_equal(recording.latency_s, [[0.1, 0.5], [0.2, 0.6]])


def test_quality_is_acc_norm_where_present_else_acc(tmp_path: Path) -> None:
    recording = read_mess_csv(write_csv(tmp_path, HEADER, ROW_1, ROW_2))
    # b: row 1 has acc_norm 1 (acc empty), row 2 has acc_norm empty -> acc 0.25
    np.testing.assert_array_equal(recording.quality, [[1.0, 1.0], [0.0, 0.25]])


def test_acc_norm_wins_over_acc_when_both_are_filled(tmp_path: Path) -> None:
    row = with_cell(with_cell(ROW_1, "acc_norm_b", "0.75"), "acc_b", "0.5")
    assert read_mess_csv(write_csv(tmp_path, HEADER, row)).quality[0, 1] == 0.75


def test_models_are_ordered_by_mean_energy(tmp_path: Path) -> None:
    row = with_cell(with_cell(ROW_1, "energy_consumption_a", "900"), "energy_consumption_b", "3")
    assert read_mess_csv(write_csv(tmp_path, HEADER, row)).models == ("b", "a")


def test_stray_columns_are_ignored(tmp_path: Path) -> None:
    recording = read_mess_csv(write_csv(tmp_path, "Unnamed: 0," + HEADER, "," + ROW_1))
    assert recording.models == ("a", "b") and recording.n_requests == 1


def test_identical_duplicates_are_dropped(tmp_path: Path) -> None:
    recording = read_mess_csv(write_csv(tmp_path, HEADER, ROW_1, ROW_2, ROW_1))
    assert recording.n_requests == 2


def test_name_defaults_to_the_file_stem_and_can_be_given(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER, ROW_1, name="my-zoo.csv")
    assert read_mess_csv(path).name == "my-zoo"
    assert read_mess_csv(path, name="other").name == "other"


def test_metadata_records_the_sha256_of_the_file(tmp_path: Path) -> None:
    import hashlib

    path = write_csv(tmp_path, HEADER, ROW_1)
    assert read_mess_csv(path).metadata.source_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_read_mess_frame_reads_a_dataframe_with_numbers() -> None:
    frame = pd.DataFrame(
        {
            "doc_id": ["7"],
            "input_text": ["q"],
            "benchmark_name": ["arc"],
            **{
                f"{p}_{m}": [v]
                for m, e in (("x", 3.0), ("y", 1.0))
                for p, v in (("label", 1.0), ("acc", 1.0), ("energy_consumption", e), ("inference_time", 0.1))
            },
        }
    )
    recording = read_mess_frame(frame, "in-memory", "frame")
    assert recording.models == ("y", "x") and recording.name == "frame"


# ---------------------------------------------------------------------------- bad files
def test_empty_file(tmp_path: Path) -> None:
    raises_naming(write_csv(tmp_path), "empty file")


def test_header_only(tmp_path: Path) -> None:
    raises_naming(write_csv(tmp_path, HEADER), "no data rows")


def test_malformed_csv_one_row_too_long(tmp_path: Path) -> None:
    message = raises_naming(write_csv(tmp_path, HEADER, ROW_1, ROW_2 + ",1"), "line 3 (data row 2) has 13 fields, the header 12")
    assert "\n" not in message and "C error" not in message


def test_a_file_separated_by_semicolons_is_named_as_such(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER.replace(",", ";"), ROW_1.replace(",", ";"))
    raises_naming(path, "missing column 'doc_id'", "fields separated by ';'? messenv reads comma-separated files")


def test_a_header_repeated_as_a_data_row_is_named_as_such(tmp_path: Path) -> None:
    raises_naming(
        write_csv(tmp_path, HEADER, ROW_1, HEADER), "data row 2", "value 'acc_a' is not a number (the header repeated"
    )


def test_a_column_named_twice_is_refused(tmp_path: Path) -> None:
    """pandas would read the second copy as a column of its own ("acc_b.1"), and a model of it."""
    twice = HEADER + ",acc_b"
    raises_naming(write_csv(tmp_path, twice, ROW_1 + ",1"), "line 1", "['acc_b'] appear more than once")


def test_malformed_csv_every_row_too_long(tmp_path: Path) -> None:
    raises_naming(write_csv(tmp_path, HEADER, ROW_1 + ",1"), "not a readable CSV", "more fields than the header")


def test_a_short_row_reports_the_first_missing_cell(tmp_path: Path) -> None:
    raises_naming(write_csv(tmp_path, HEADER, ROW_1, "1,q,boolq"), "data row 2", "column 'acc_a'", "empty value")


def test_nul_byte(tmp_path: Path) -> None:
    raises_naming(write_csv(tmp_path, HEADER, ROW_1.replace("What", "Wh\x00at")), "NUL byte on line 2")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "zoo.csv"
    path.write_bytes((HEADER + "\n" + ROW_1 + "\n").encode("utf-8").replace(b"What", b"Wh\xe4t"))
    # The line, not pandas' "position 17" (an offset into its decoding chunk, nowhere in the file).
    offset = len(HEADER) + 1 + ROW_1.index("What") + 2
    raises_naming(path, "not a readable CSV", f"not UTF-8 text: byte 0xe4 on line 2 (offset {offset})", "as UTF-8")


def test_missing_base_column(tmp_path: Path) -> None:
    header = HEADER.replace("benchmark_name,", "")
    row = ROW_1.replace(",arc,", ",")
    raises_naming(write_csv(tmp_path, header, row), "missing column 'benchmark_name'")


def test_model_with_energy_but_no_acc_column(tmp_path: Path) -> None:
    header = HEADER.replace("label_a,acc_a,", "label_a,")
    row = ROW_1.replace("0,What is 1+1?,arc,1,1,", "0,What is 1+1?,arc,1,")
    raises_naming(write_csv(tmp_path, header, row), "model 'a'", "'acc_norm_a or acc_a'")


@pytest.mark.parametrize("dropped", ["label_b", "energy_consumption_b", "inference_time_b"])
def test_label_set_mismatch_a_model_lacks_one_of_its_columns(tmp_path: Path, dropped: str) -> None:
    frame = pd.read_csv(write_csv(tmp_path, HEADER, ROW_1), dtype=str, na_filter=False).drop(columns=dropped)
    frame.to_csv(tmp_path / "zoo.csv", index=False)
    raises_naming(tmp_path / "zoo.csv", "model 'b' is missing column(s)", repr(dropped))


def test_label_set_mismatch_a_model_with_only_an_energy_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER + ",energy_consumption_c", ROW_1 + ",5")
    raises_naming(path, "model 'c' is missing column(s)", "label_c", "inference_time_c")


def test_fewer_than_two_models(tmp_path: Path) -> None:
    header = "doc_id,input_text,benchmark_name,label_a,acc_a,energy_consumption_a,inference_time_a"
    raises_naming(write_csv(tmp_path, header, "0,q,arc,1,1,10,0.1"), "at least 2 models", "found 1 ['a']")


def test_model_with_no_rows(tmp_path: Path) -> None:
    blank = ROW_1.rsplit(",", 5)[0] + ",,,,,"
    raises_naming(write_csv(tmp_path, HEADER, blank), "model 'b' has no rows")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "empty value"),
        ("NaN", "not a finite number"),
        ("inf", "not a finite number"),
        ("12 J", "'12 J' is not a number"),
    ],
)
def test_bad_numeric_cell(tmp_path: Path, value: str, problem: str) -> None:
    path = write_csv(tmp_path, HEADER, ROW_1, with_cell(ROW_2, "energy_consumption_a", value))
    raises_naming(path, "data row 2", "column 'energy_consumption_a'", problem)


def test_no_quality_when_acc_norm_and_acc_are_both_empty(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER, with_cell(ROW_1, "acc_norm_b", ""))
    raises_naming(path, "data row 1", "'acc_norm_b / acc_b'", "no quality")


def test_non_numeric_acc_norm_is_an_error_even_with_acc_present(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER, with_cell(ROW_1, "acc_norm_b", "yes"))
    raises_naming(path, "data row 1", "column 'acc_norm_b'", "not a number")


@pytest.mark.parametrize("column", ["energy_consumption_b", "inference_time_a"])
def test_negative_energy_or_latency(tmp_path: Path, column: str) -> None:
    path = write_csv(tmp_path, HEADER, ROW_1, with_cell(ROW_2, column, "-0.5"))
    raises_naming(path, "data row 2", f"column {column!r}", "negative value -0.5")


@pytest.mark.parametrize("value", ["1.5", "-0.1"])
def test_quality_outside_unit_interval(tmp_path: Path, value: str) -> None:
    path = write_csv(tmp_path, HEADER, with_cell(ROW_1, "acc_a", value))
    raises_naming(path, "data row 1", "column 'acc_a'", f"quality {float(value)!r} is outside [0, 1]")


@pytest.mark.parametrize("column", ["doc_id", "input_text", "benchmark_name"])
def test_empty_text_cell(tmp_path: Path, column: str) -> None:
    path = write_csv(tmp_path, HEADER, ROW_1, with_cell(ROW_2, column, ""))
    raises_naming(path, "data row 2", f"column {column!r}", "empty value")


def test_duplicate_key_with_other_quality(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER, ROW_1, ROW_2, with_cell(ROW_1, "acc_a", "0"))
    message = raises_naming(path, "data row 3", "repeats", "data row 1", "column 'acc_a'", "must agree")
    assert "('arc', '0')" in message


def test_duplicate_key_with_other_prompt(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER, ROW_1, with_cell(ROW_1, "input_text", "Another question"))
    raises_naming(path, "data row 2", "data row 1", "column 'input_text'", "must agree")


def test_re_measured_duplicate_is_an_error_by_default(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER, ROW_1, with_cell(ROW_1, "inference_time_b", "0.7"))
    raises_naming(path, "data row 2", "data row 1", "column 'inference_time_b'", "re-measurement")


def test_re_measured_duplicate_keeps_the_first_when_asked(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER, ROW_1, ROW_2, with_cell(ROW_1, "energy_consumption_a", "99"))
    recording = read_mess_csv(path, remeasured="first")
    assert recording.n_requests == 2 and recording.energy_j[0, 0] == 10.5


def test_contradicting_duplicate_is_an_error_even_when_keeping_the_first(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER, ROW_1, with_cell(ROW_1, "acc_norm_b", "0"))
    raises_naming(path, "data row 2", "column 'acc_norm_b'", "must agree", remeasured="first")


# ---------------------------------------------------------------------------- writing
def test_write_then_read_gives_the_same_recording(tmp_path: Path) -> None:
    original = read_mess_csv(write_csv(tmp_path, HEADER, ROW_1, ROW_2))
    write_mess_csv(original, tmp_path / "out.csv")
    again = read_mess_csv(tmp_path / "out.csv", name=original.name)
    assert again.models == original.models
    for field in ("doc_ids", "prompts", "benchmarks", "quality", "energy_j", "latency_s"):
        np.testing.assert_array_equal(getattr(again, field), getattr(original, field))


def test_write_refuses_text_that_would_not_read_back_and_leaves_the_old_file(tmp_path: Path) -> None:
    original = read_mess_csv(write_csv(tmp_path, HEADER, ROW_1))
    target = tmp_path / "out.csv"
    target.write_text("old content")
    from dataclasses import replace

    for bad, fragment in (
        (replace(original, models=("norm_a", "b")), "'norm_a' cannot be written"),
        (replace(original, models=("a\x00", "b")), "'a\\x00' cannot be written"),
        (replace(original, prompts=np.array(["Wh\x00at"], dtype=object)), "request 0, input_text 'Wh\\x00at'"),
        (replace(original, doc_ids=np.array([""], dtype=object)), "request 0, doc_id ''"),
    ):
        with pytest.raises(RecordingError, match=re.escape(fragment)):
            write_mess_csv(bad, target)
    assert target.read_text() == "old content"
    assert sorted(os.listdir(tmp_path)) == ["out.csv", "zoo.csv"]  # no temporary file left behind
