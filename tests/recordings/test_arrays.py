"""The numpy copy of a cached recording: same recording, no pyarrow or pandas, never stale or trusted blindly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from messenv.recordings import arrays, load
from messenv.recordings.arrays import arrays_path, read_arrays, write_arrays
from messenv.recordings.local import import_file
from messenv.recordings.readers import write_mess_csv
from messenv.recordings.recording import Recording
from messenv.recordings.store import file_sha256, read_recording, write_recording
from tests.recordings.catalogue_helpers import assert_same_measurements, make_tiny_zoo


@pytest.fixture
def imported(tmp_path: Path) -> Path:
    """The parquet file of a user's zoo imported as ``myzoo`` (its CSV has non-ASCII prompts)."""
    source = tmp_path / "my.csv"
    write_mess_csv(make_tiny_zoo(n=40), source)
    return import_file(source, "myzoo").path


def test_the_copy_holds_the_same_recording(tmp_path: Path) -> None:
    zoo = make_tiny_zoo(n=30)
    zoo = Recording(**{**zoo.__dict__, "prompts": np.array(["", "ü€😀", *zoo.prompts[2:]], dtype=object)})
    write_arrays(zoo, tmp_path / "zoo.npz")
    again = read_arrays(tmp_path / "zoo.npz")
    assert_same_measurements(again, zoo)
    assert again.name == zoo.name and again.metadata == zoo.metadata
    assert again.prompts[:2].tolist() == ["", "ü€😀"] and again.fingerprint() == zoo.fingerprint()


def test_the_first_load_writes_the_copy_and_later_loads_read_it(imported: Path) -> None:
    copy = arrays_path(file_sha256(imported))
    assert not copy.exists()
    first = load("myzoo")
    assert copy.is_file()
    assert_same_measurements(load("myzoo"), first)
    assert load("myzoo").fingerprint() == read_recording(imported).fingerprint()


def test_loading_from_the_copy_imports_neither_pyarrow_nor_pandas(imported: Path) -> None:
    load("myzoo")
    probe = (
        "import sys; from messenv.recordings import load; load('myzoo'); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'pyarrow', 'pandas'}))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=os.environ, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("damage", ["truncated", "other format", "invalid values"])
def test_a_damaged_copy_is_read_from_parquet_again_and_rewritten(imported: Path, damage: str) -> None:
    expected = load("myzoo")
    copy = arrays_path(file_sha256(imported))
    if damage == "truncated":
        copy.write_bytes(copy.read_bytes()[:200])
    else:
        zoo = make_tiny_zoo(name="myzoo", n=40)
        energy = -zoo.energy_j if damage == "invalid values" else zoo.energy_j
        with copy.open("wb") as file:  # what write_arrays writes, with one thing changed
            np.savez(file, header=np.frombuffer(b'{"format": "other/9"}', dtype=np.uint8), energy_j=energy)
    assert_same_measurements(load("myzoo"), expected)
    assert_same_measurements(read_arrays(copy), expected)


def test_a_changed_parquet_file_never_reads_the_old_copy(tmp_path: Path, imported: Path) -> None:
    load("myzoo")
    other = make_tiny_zoo(name="myzoo", n=40, seed=7)
    write_recording(other, imported)  # the copy is named by the file's sha256, so the old one is not it
    assert_same_measurements(load("myzoo"), other)


def test_a_home_where_the_copy_cannot_be_written_still_loads(imported: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def read_only(recording: Recording, path: Path) -> None:
        raise PermissionError(f"{path}: read-only file system")

    monkeypatch.setattr(arrays, "write_arrays", read_only)
    assert_same_measurements(load("myzoo"), read_recording(imported))
    assert not arrays_path(file_sha256(imported)).exists()
