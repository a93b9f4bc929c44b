"""The local registry: a user's own zoo imported without a catalogue entry, and recordings read from a path."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import gymnasium as gym
import pandas as pd
import pytest

import messenv  # noqa: F401 - registers messenv/MessEnv-v0
from messenv.recordings import RecordingError, load
from messenv.recordings.local import import_file, local_entries, local_entry, read_path, reader_for
from messenv.recordings.readers import read_mess_csv, write_mess_csv
from messenv.recordings.recording import Recording
from messenv.recordings.store import write_recording
from tests.recordings.catalogue_helpers import make_tiny_zoo


def assert_same_measurements(a: Recording, b: Recording) -> None:
    assert a.models == b.models and a.n_requests == b.n_requests
    assert (a.quality == b.quality).all() and (a.energy_j == b.energy_j).all() and (a.latency_s == b.latency_s).all()


@pytest.fixture
def user_csv(tmp_path: Path) -> Path:
    """A MESS+ simulator CSV of a user's own zoo, in a folder of their own."""
    path = tmp_path / "work" / "my.csv"
    path.parent.mkdir()
    write_mess_csv(make_tiny_zoo(), path)
    return path


def test_import_then_load_by_name(user_csv: Path, messenv_home: Path) -> None:
    entry = import_file(user_csv, "myzoo")
    assert entry.sha256 == hashlib.sha256(user_csv.read_bytes()).hexdigest()
    assert entry.source == str(user_csv.resolve()) and entry.path.parent == messenv_home / "local"
    recording = load("myzoo")
    assert recording.name == "myzoo"
    assert recording.metadata.source_sha256 == entry.sha256 and recording.metadata.source_url == user_csv.as_uri()
    assert_same_measurements(recording, read_mess_csv(user_csv))
    assert local_entries() == {"myzoo": entry} and local_entry("myzoo") == entry
    assert load("myzoo", benchmarks="boolq").benchmark_names == ("boolq",)


def test_gym_make_finds_an_imported_zoo(user_csv: Path) -> None:
    import_file(user_csv, "myzoo")
    env = gym.make("messenv/MessEnv-v0", recording="myzoo", alpha=0.5)
    assert env.unwrapped.recording.name == "myzoo"
    env.reset(seed=0)
    env.step(0)


def test_reimport_replaces_the_entry(user_csv: Path) -> None:
    first = import_file(user_csv, "myzoo")
    write_mess_csv(make_tiny_zoo(n=9, seed=1), user_csv)
    second = import_file(user_csv, "myzoo")
    assert second.sha256 != first.sha256 and load("myzoo").n_requests == 9


def test_bad_cell_names_the_users_file_row_and_column(user_csv: Path, messenv_home: Path) -> None:
    with user_csv.open(newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    rows[1]["energy_consumption_small"] = "lots"
    with user_csv.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(RecordingError) as error:
        import_file(user_csv, "myzoo")
    assert str(error.value).startswith(f"{user_csv}, data row 2, column 'energy_consumption_small'")
    assert local_entries() == {} and not (messenv_home / "local" / "myzoo.parquet").exists()


@pytest.mark.parametrize(
    "name, fragment",
    [
        ("My Zoo", "may only hold lower-case"),
        ("messplus-llama3", "is a catalogue recording"),
        ("../x", "may only"),
        # Read as a path by load(), gym.make and env.recording=: such a name was imported, then never found.
        ("myzoo.csv", r"ends like a file \(\.csv\), so env\.recording=myzoo\.csv would be read as a path; .* 'myzoo'"),
        ("zoo.tar.gz", r"ends like a file \(\.tar\.gz\)"),
    ],
)
def test_bad_names_are_refused(user_csv: Path, name: str, fragment: str, messenv_home: Path) -> None:
    with pytest.raises(RecordingError, match=fragment):
        import_file(user_csv, name)
    assert local_entries() == {}


def test_catalogue_names_win_over_local_files(messenv_home: Path, user_csv: Path) -> None:
    """A stray registry file under a catalogue name never shadows the catalogue."""
    import_file(user_csv, "myzoo")
    registry = messenv_home / "local"
    entry = json.loads((registry / "myzoo.json").read_text())
    (registry / "synthetic-llama3.json").write_text(json.dumps({**entry, "name": "synthetic-llama3"}))
    assert load("synthetic-llama3").metadata.synthetic


def test_damaged_registry_entry_is_named(messenv_home: Path) -> None:
    (messenv_home / "local").mkdir()
    (messenv_home / "local" / "broken.json").write_text("{}")
    with pytest.raises(RecordingError, match=r"broken\.json: not a messenv local registry entry"):
        load("broken")


def test_a_registry_entry_cannot_point_outside_the_registry(user_csv: Path, messenv_home: Path) -> None:
    """An edited entry whose name is a path (``../recordings/x``) would read another parquet: refused."""
    import_file(user_csv, "myzoo")
    registry = messenv_home / "local" / "myzoo.json"
    registry.write_text(json.dumps({**json.loads(registry.read_text()), "name": "../recordings/elsewhere"}))
    with pytest.raises(RecordingError, match=r"myzoo\.json: not a messenv local registry entry \(it names"):
        load("myzoo")


def test_a_csv_path_is_converted_once_and_cached_by_content(user_csv: Path, messenv_home: Path) -> None:
    first = load(str(user_csv))
    assert first.name == "my" and first.metadata.source_sha256 == hashlib.sha256(user_csv.read_bytes()).hexdigest()
    cache = messenv_home / "recordings" / "by-content"
    assert [p.name for p in cache.iterdir()] == [f"{first.metadata.source_sha256}.parquet"]
    assert read_path(user_csv).fingerprint() == first.fingerprint()  # read back from the cache
    assert len(list(cache.iterdir())) == 1
    write_mess_csv(make_tiny_zoo(n=6, seed=2), user_csv)  # an edited file is converted again
    assert load(user_csv).n_requests == 6 and len(list(cache.iterdir())) == 2


def test_a_relative_csv_path_works_in_gym_make(user_csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(user_csv.parent)
    env = gym.make("messenv/MessEnv-v0", recording="my.csv")
    assert env.unwrapped.recording.n_requests == make_tiny_zoo().n_requests


def test_a_parquet_imports_under_a_local_name(tmp_path: Path) -> None:
    path = write_recording(make_tiny_zoo(), tmp_path / "recorded.parquet")
    import_file(path, "recorded")
    assert_same_measurements(load("recorded"), make_tiny_zoo())


def test_a_table_of_the_csv_columns_in_parquet_imports_and_loads_by_path(
    user_csv: Path, messenv_home: Path
) -> None:
    """A pandas frame of the MESS+ CSV's columns saved as parquet (refused before as "not a messenv
    recording") imports under a name, and as a path is converted once and cached by content."""
    table = user_csv.with_suffix(".parquet")
    pd.read_csv(user_csv).to_parquet(table)
    entry = import_file(table, "fromtable")
    assert entry.reader.endswith("mess_parquet:read_parquet_zoo")
    assert_same_measurements(load("fromtable"), read_mess_csv(user_csv))
    assert_same_measurements(load(str(table)), read_mess_csv(user_csv))
    assert [p.name for p in (messenv_home / "recordings" / "by-content").iterdir()] == [f"{entry.sha256}.parquet"]


def test_unknown_forms_are_named(tmp_path: Path) -> None:
    sheet = tmp_path / "zoo.xlsx"
    sheet.write_bytes(b"PK")
    with pytest.raises(RecordingError, match=r"zoo\.xlsx: cannot tell how to read a '\.xlsx' file; messenv reads"):
        reader_for(sheet)
    with pytest.raises(RecordingError, match=r"holds none; pass a MESS\+ \.csv"):
        reader_for(tmp_path)
    with pytest.raises(RecordingError, match=r"absent\.csv: no such file or directory"):
        load(str(tmp_path / "absent.csv"))


def test_published_forms_import_under_a_local_name(shared_data: Path) -> None:
    """The Llama-3 style tarball and a folder of Qwen2 style JSON files import without a catalogue entry."""
    llama = import_file(shared_data / "messplus-llama3" / "inference_outputs.tar.gz", "my-llama")
    assert llama.reader.endswith("read_llama3_tarball") and len(llama.models) == 3
    qwen = import_file(shared_data / "messplus-qwen2", "my-qwen")
    assert qwen.reader.endswith("read_qwen2_json") and len(qwen.models) == 4
    assert load("my-qwen").n_requests == qwen.n_requests
