"""The Llama-3 tarball reader: on small tarballs made here, and on the published file when present."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from messenv.recordings import RecordingError
from messenv.recordings.readers import read_llama3_tarball

HEADER = "doc_id,input_text,benchmark_name," + ",".join(
    f"label_{m},acc_{m},energy_consumption_{m},inference_time_{m}" for m in ("small", "medium", "large")
)


def rows(benchmark: str, doc_ids: range, energy_small: float = 10.0) -> str:
    return "".join(f"{d},question {d},{benchmark},1,1,{energy_small},0.1,0,0,50,0.5,1,1,250,2.5\n" for d in doc_ids)


def make_tarball(path: Path, members: dict[str, str]) -> Path:
    """A .tar.gz with the given member name -> CSV text, in the given order."""
    with tarfile.open(path, "w:gz") as archive:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def member(benchmark: str, stamp: str, batch: int = 1) -> str:
    return f"inference_outputs/{benchmark}/inference_data_batch_{batch}_{stamp}.csv"


def test_reads_members_and_keeps_the_earliest_measurement(tmp_path: Path) -> None:
    later, earlier = member("arc", "20250503_100000"), member("arc", "20250502_230000")
    path = make_tarball(
        tmp_path / "inference_outputs.tar.gz",
        {  # stored out of recording order on purpose
            later: HEADER + "\n" + rows("arc", range(0, 3), energy_small=99.0),
            earlier: HEADER + "\n" + rows("arc", range(0, 2), energy_small=10.0),
            member("boolq", "20250502_230000"): HEADER + "\n" + rows("boolq", range(0, 2)),
        },
    )
    recording = read_llama3_tarball(path)
    assert recording.name == "messplus-llama3"
    assert recording.models == ("small", "medium", "large")
    assert recording.n_requests == 5  # arc 0, 1, 2 and boolq 0, 1
    arc = recording.select(benchmarks=["arc"])
    assert dict(zip(arc.doc_ids, arc.energy_j[:, 0], strict=True)) == {"0": 10.0, "1": 10.0, "2": 99.0}
    assert recording.metadata.extra["sha256_matches_source"] is False
    # Not the published file, so not the Llama-3 zoo: no model ids, URL or Zeus measurement claimed.
    assert recording.metadata.model_ids == {} and recording.metadata.zoo == ""
    assert recording.metadata.energy_source == "" and recording.metadata.source_url == ""


def test_a_bad_cell_names_the_member_row_and_column(tmp_path: Path) -> None:
    bad = member("arc", "20250502_230000", batch=2)
    path = make_tarball(
        tmp_path / "t.tar.gz",
        {
            member("arc", "20250502_220000"): HEADER + "\n" + rows("arc", range(0, 2)),
            bad: HEADER + "\n" + rows("arc", range(2, 4)).replace("250,2.5\n", "-250,2.5\n", 1),
        },
    )
    with pytest.raises(RecordingError) as info:
        read_llama3_tarball(path)
    assert f"t.tar.gz:{bad}, data row 1, column 'energy_consumption_large': negative value -250.0" in str(info.value)


def test_a_contradicting_repeat_names_both_members(tmp_path: Path) -> None:
    first, second = member("arc", "20250502_220000"), member("arc", "20250502_230000")
    path = make_tarball(
        tmp_path / "t.tar.gz",
        {
            first: HEADER + "\n" + rows("arc", range(0, 2)),
            second: HEADER + "\n" + rows("arc", range(1, 2)).replace("question", "other"),
        },
    )
    with pytest.raises(RecordingError) as info:
        read_llama3_tarball(path)
    assert f"t.tar.gz:{second}, data row 1" in str(info.value)
    assert f"repeats t.tar.gz:{first}, data row 2, but column 'input_text'" in str(info.value)


def test_members_with_different_label_sets(tmp_path: Path) -> None:
    other = member("boolq", "20250502_230000")
    two_models = (
        "doc_id,input_text,benchmark_name,label_a,acc_a,energy_consumption_a,inference_time_a,"
        "label_b,acc_b,energy_consumption_b,inference_time_b\n0,q,boolq,1,1,1,1,1,1,2,2\n"
    )
    path = make_tarball(
        tmp_path / "t.tar.gz",
        {member("arc", "20250502_220000"): HEADER + "\n" + rows("arc", range(1)), other: two_models},
    )
    with pytest.raises(RecordingError, match=f"label set mismatch: t.tar.gz:{other} has models"):
        read_llama3_tarball(path)


def test_unexpected_member_name(tmp_path: Path) -> None:
    path = make_tarball(
        tmp_path / "t.tar.gz", {"inference_outputs/arc/results.csv": HEADER + "\n" + rows("arc", range(1))}
    )
    with pytest.raises(RecordingError, match="t.tar.gz:inference_outputs/arc/results.csv: unexpected member"):
        read_llama3_tarball(path)


def test_no_csv_members(tmp_path: Path) -> None:
    path = make_tarball(tmp_path / "t.tar.gz", {"inference_outputs/.gitkeep": ""})
    with pytest.raises(RecordingError, match="no CSV members"):
        read_llama3_tarball(path)


@pytest.mark.parametrize("content", [b"", b"not a gzip file", b"\x1f\x8b\x08\x00truncated"])
def test_not_a_tarball(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "t.tar.gz"
    path.write_bytes(content)
    with pytest.raises(RecordingError, match=f"{path}: not a readable .tar.gz archive"):
        read_llama3_tarball(path)


# ---------------------------------------------------------------------------- the published file
@pytest.fixture(scope="module")
def llama3(shared_data: Path):
    return read_llama3_tarball(shared_data / "messplus-llama3" / "inference_outputs.tar.gz")


def test_published_zoo_and_provenance(llama3) -> None:
    assert llama3.models == ("small", "medium", "large")
    assert llama3.benchmark_names == (
        "arc_challenge",
        "arc_easy",
        "boolq",
        "logiqa",
        "mmlu_abstract_algebra",
        "piqa",
        "sciq",
        "social_iqa",
        "winogrande",
    )
    assert llama3.metadata.extra["sha256_matches_source"] is True
    assert llama3.metadata.extra["members"] == 154
    assert llama3.metadata.energy_source == "zeus (measured)"


def test_published_unique_prompts(llama3) -> None:
    # 13,252 = unique (benchmark_name, doc_id) over all 154 members, counted with pandas drop_duplicates
    assert llama3.n_requests == 13252
    keys = set(zip(llama3.benchmarks, llama3.doc_ids, strict=True))
    assert len(keys) == llama3.n_requests


@pytest.mark.parametrize(
    ("benchmark_name", "published_percent"), [("arc_challenge", [37.9, 54.4, 60.8]), ("winogrande", [59.7, 73.6, 79.1])]
)
def test_published_mean_accuracy(llama3, benchmark_name: str, published_percent: list[float]) -> None:
    """Per-model mean accuracy matches the figures published with the data (SOURCES.md), to 0.1 pp."""
    accuracy = llama3.select(benchmarks=[benchmark_name]).quality.mean(axis=0) * 100
    np.testing.assert_array_equal(np.round(accuracy, 1), published_percent)


def test_published_mean_energy(llama3) -> None:
    energy = llama3.select(benchmarks=["arc_challenge"]).energy_j.mean(axis=0)
    np.testing.assert_allclose(energy, [80, 394, 2003], atol=0.5)  # published rounded to the joule


def test_published_repeats_keep_the_earliest_member(llama3, shared_data: Path) -> None:
    """logiqa batch 1 was recorded three times; the reader keeps the 23:37:32 run."""
    name = "inference_outputs/logiqa/inference_data_batch_1_20250502_233732.csv"
    with tarfile.open(shared_data / "messplus-llama3" / "inference_outputs.tar.gz") as archive:
        earliest = pd.read_csv(archive.extractfile(name), dtype={"doc_id": str})
    logiqa = llama3.select(benchmarks=["logiqa"])
    energy = dict(zip(logiqa.doc_ids, logiqa.energy_j[:, logiqa.models.index("large")], strict=True))
    assert [energy[d] for d in earliest["doc_id"]] == earliest["energy_consumption_large"].tolist()
