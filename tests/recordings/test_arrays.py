"""The numpy copy of a cached recording: same recording, no pyarrow or pandas, never stale or trusted blindly."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from messenv.recordings import RecordingError, load
from messenv.recordings.arrays import arrays_path, read_arrays, remove_unused_copies, write_arrays
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


def plant(copy: Path, data: bytes) -> None:
    """Put ``data`` where the copy is, with a checksum that matches it (as if written by write_arrays)."""
    copy.write_bytes(data)
    copy.with_name(copy.name + ".sha256").write_text(f"{hashlib.sha256(data).hexdigest()}  {copy.name}\n")


def npz_bytes(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def test_an_edited_copy_is_never_served(imported: Path) -> None:
    """The copy's checksum is checked as the parquet file's is: energies divided by 10 in the copy
    are not what load() returns, and the copy is written again."""
    expected = load("myzoo")
    copy = arrays_path(file_sha256(imported))
    forged = Recording(**{**expected.__dict__, "energy_j": expected.energy_j / 10})
    checksum = copy.with_name(copy.name + ".sha256").read_text()
    write_arrays(forged, copy)
    copy.with_name(copy.name + ".sha256").write_text(checksum)  # the forger leaves the checksum alone
    assert_same_measurements(load("myzoo"), expected)
    assert_same_measurements(read_arrays(copy), expected)


@pytest.mark.parametrize("damage", ["truncated", "other format", "invalid values", "one array", "list header"])
def test_a_damaged_copy_is_read_from_parquet_again_and_rewritten(imported: Path, damage: str) -> None:
    """Each damage comes with a matching checksum, so that the copy is decoded and refused."""
    expected = load("myzoo")
    copy = arrays_path(file_sha256(imported))
    header = {"format": "other/9"} if damage == "other format" else ["a", "list"]
    if damage == "truncated":
        plant(copy, copy.read_bytes()[:200])
    elif damage == "invalid values":
        negative = Recording(**expected.__dict__)
        object.__setattr__(negative, "energy_j", -expected.energy_j)  # past Recording's own validation
        write_arrays(negative, copy)
    elif damage == "one array":
        buffer = io.BytesIO()
        np.save(buffer, expected.energy_j)
        plant(copy, buffer.getvalue())
    else:
        plant(copy, npz_bytes(header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)))
    assert_same_measurements(load("myzoo"), expected)
    assert_same_measurements(read_arrays(copy), expected)


def test_a_local_recording_whose_parquet_file_is_gone_is_one_line(imported: Path) -> None:
    imported.unlink()
    with pytest.raises(RecordingError, match=r"myzoo\.parquet: no such recording file .*import it again"):
        load("myzoo")


def test_a_changed_parquet_file_never_reads_the_old_copy(tmp_path: Path, imported: Path) -> None:
    load("myzoo")
    other = make_tiny_zoo(name="myzoo", n=40, seed=7)
    write_recording(other, imported)  # the copy is named by the file's sha256, so the old one is not it
    assert_same_measurements(load("myzoo"), other)


def test_a_home_where_the_copy_cannot_be_written_still_loads(imported: Path, messenv_home: Path) -> None:
    (messenv_home / "arrays").write_text("a file where the folder of copies would be")  # mkdir fails, even as root
    assert_same_measurements(load("myzoo"), read_recording(imported))
    assert_same_measurements(load("myzoo"), read_recording(imported))


def test_a_copy_name_is_a_sha256() -> None:
    with pytest.raises(ValueError, match="not a sha256"):
        arrays_path("../recordings/x")


def test_a_replaced_recordings_copy_is_removed_and_the_new_one_kept(tmp_path: Path, imported: Path) -> None:
    load("myzoo")
    old = arrays_path(file_sha256(imported))
    other = tmp_path / "other.csv"
    write_mess_csv(make_tiny_zoo(n=40, seed=7), other)
    import_file(other, "myzoo")  # the same name, other content: the old copy is no recording's any more
    load("myzoo")
    new = arrays_path(file_sha256(imported))
    stray = old.with_name(f".{old.name}.3fa2c1d0.tmp.npz")  # an atomic write's temporary file: not a copy
    stray.write_bytes(b"")
    removed = remove_unused_copies([imported])
    assert sorted(removed) == sorted([old, old.with_name(old.name + ".sha256")])
    assert not old.exists() and not old.with_name(old.name + ".sha256").exists() and stray.exists()
    assert new.is_file() and new.with_name(new.name + ".sha256").is_file()
    assert remove_unused_copies([imported]) == []


def test_a_copy_another_recording_still_uses_is_kept(tmp_path: Path, imported: Path) -> None:
    """Two recordings with the same parquet content share one copy: removing one keeps it."""
    load("myzoo")
    twin = tmp_path / "twin.parquet"
    twin.write_bytes(imported.read_bytes())
    copy = arrays_path(file_sha256(imported))
    imported.unlink()
    assert remove_unused_copies([imported, twin]) == [] and copy.is_file()
    assert copy in remove_unused_copies([twin.with_name("gone.parquet")]) and not copy.exists()


@pytest.mark.parametrize("left", ["copy", "checksum"])
def test_half_a_copy_is_removed_too(imported: Path, left: str) -> None:
    """A copy whose checksum is gone (what an interrupted removal leaves: the checksum goes first)
    or a checksum whose copy is gone (deleted by hand) is removed by the next cleanup."""
    load("myzoo")
    copy = arrays_path(file_sha256(imported))
    checksum = copy.with_name(copy.name + ".sha256")
    (checksum if left == "copy" else copy).unlink()
    assert remove_unused_copies([]) == [copy if left == "copy" else checksum]
    assert not any(copy.parent.iterdir())
