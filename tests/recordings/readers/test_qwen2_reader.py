"""The Qwen2 JSON reader: on small files made here, and on the published files when present."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from messenv.recordings import RecordingError
from messenv.recordings.readers import read_qwen2_json

MODELS = {"xsmall": 1.0, "small": 2.0, "medium": 4.0, "large": 8.0}  # label -> energy scale


def record(doc_id: float, benchmark: str, energy_shift: float = 0.0) -> dict:
    """One record as the published files hold it: floats everywhere, a stray empty index column."""
    fields: dict = {
        "Unnamed: 0": math.nan,
        "doc_id": float(doc_id),
        "input_text": f"q{doc_id}",
        "benchmark_name": benchmark,
    }
    for label, scale in MODELS.items():
        fields |= {
            f"label_{label}": 1.0,
            f"acc_{label}": 1.0,
            f"energy_consumption_{label}": 100 * scale + energy_shift,
            f"inference_time_{label}": scale,
        }
    return fields


def write_json(directory: Path, benchmark: str, records: list[dict] | str) -> Path:
    path = directory / f"{benchmark}_qwen.json"
    path.write_text(records if isinstance(records, str) else json.dumps(records))  # json writes NaN as NaN
    return path


def test_reads_a_directory_of_files(tmp_path: Path) -> None:
    write_json(tmp_path, "boolq", [record(0, "boolq"), record(1, "boolq")])
    write_json(tmp_path, "piqa", [record(0, "piqa")])
    (tmp_path / "notes.json").write_text("not a recording")  # not *_qwen.json: ignored
    recording = read_qwen2_json(tmp_path)
    assert recording.name == "messplus-qwen2"
    assert recording.models == ("xsmall", "small", "medium", "large")
    assert list(recording.doc_ids) == ["0", "1", "0"]  # 0.0 -> "0"
    assert recording.benchmark_names == ("boolq", "piqa")
    assert sorted(recording.metadata.extra["files"]) == ["boolq_qwen.json", "piqa_qwen.json"]
    # Not the published files, so not the Qwen2 zoo: no model ids, URL or Zeus measurement claimed.
    assert recording.metadata.extra["sha256_matches_source"] is False
    assert recording.metadata.model_ids == {} and recording.metadata.zoo == ""
    assert recording.metadata.energy_source == "" and recording.metadata.source_url == ""
    assert "repeats" not in recording.metadata.extra


def test_reads_a_single_file(tmp_path: Path) -> None:
    path = write_json(tmp_path, "boolq", [record(3, "boolq")])
    assert list(read_qwen2_json(path).doc_ids) == ["3"]


def test_repeated_prompts_keep_the_first_measurement(tmp_path: Path) -> None:
    write_json(
        tmp_path,
        "social_iqa",
        [
            record(0, "social_iqa"),
            record(0, "social_iqa", energy_shift=7.0),
            record(1, "social_iqa"),
            record(1, "social_iqa", energy_shift=7.0),
        ],
    )
    recording = read_qwen2_json(tmp_path)
    assert recording.n_requests == 2
    np.testing.assert_array_equal(recording.energy_j[:, 0], [100.0, 100.0])


def test_a_bad_record_names_the_file_row_and_column(tmp_path: Path) -> None:
    bad = record(1, "boolq")
    bad["inference_time_medium"] = None
    write_json(tmp_path, "boolq", [record(0, "boolq"), bad])
    with pytest.raises(RecordingError) as error:
        read_qwen2_json(tmp_path)
    # The file's path, as the CSV reader names its file, not the bare name of a file in some folder.
    assert str(error.value).startswith(f"{tmp_path / 'boolq_qwen.json'}, data row 2, column 'inference_time_medium'")


def test_a_missing_doc_id_is_named(tmp_path: Path) -> None:
    bad = record(1, "boolq")
    bad["doc_id"] = math.nan
    write_json(tmp_path, "boolq", [bad])
    with pytest.raises(RecordingError, match="boolq_qwen.json, data row 1, column 'doc_id': empty value"):
        read_qwen2_json(tmp_path)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("[", "not valid JSON"),
        ('{"doc_id": 1}', "expected a JSON array of records"),
        ("[1, 2]", "expected a JSON array"),
        ("[]", "empty file"),
    ],
)
def test_malformed_files(tmp_path: Path, content: str, problem: str) -> None:
    write_json(tmp_path, "boolq", content)
    with pytest.raises(RecordingError, match=f"boolq_qwen.json: {problem}"):
        read_qwen2_json(tmp_path)


def test_directory_without_files(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="no \\*_qwen.json files"):
        read_qwen2_json(tmp_path)


# ---------------------------------------------------------------------------- the published files
@pytest.fixture(scope="module")
def qwen2(shared_data: Path):
    return read_qwen2_json(shared_data / "messplus-qwen2")


def test_published_zoo_and_provenance(qwen2) -> None:
    assert qwen2.models == ("xsmall", "small", "medium", "large")  # by mean energy over all requests
    assert len(qwen2.benchmark_names) == 8
    assert qwen2.metadata.extra["sha256_matches_source"] is True
    assert qwen2.metadata.model_ids["large"] == "Qwen/Qwen2.5-32B-Instruct"
    assert qwen2.metadata.energy_source == "zeus (measured)" and qwen2.metadata.source_url.startswith("https://")


def test_published_zoo_notes_the_repeats_of_social_iqa_and_a_file_without_it_does_not(qwen2, shared_data) -> None:
    assert qwen2.metadata.extra["repeats"].startswith("social_iqa holds every prompt twice")
    piqa = read_qwen2_json(shared_data / "messplus-qwen2" / "piqa_qwen.json")
    assert piqa.metadata.extra["sha256_matches_source"] is True and "repeats" not in piqa.metadata.extra


def test_published_social_iqa_is_de_duplicated(qwen2) -> None:
    social = qwen2.select(benchmarks=["social_iqa"])
    # the file holds 3,908 records, every (benchmark_name, doc_id) twice
    assert social.n_requests == 3908 // 2
    assert len(set(social.doc_ids)) == social.n_requests


def test_published_doc_ids_are_integers_as_text(qwen2) -> None:
    assert all(d.isdigit() for d in qwen2.doc_ids)


def test_published_per_request_energy_is_not_ordered_by_size(qwen2) -> None:
    """The noise quirk SOURCES.md describes is really there: agents must not assume monotonic cost."""
    xsmall, medium = qwen2.models.index("xsmall"), qwen2.models.index("medium")
    assert (qwen2.energy_j[:, xsmall] > qwen2.energy_j[:, medium]).any()
