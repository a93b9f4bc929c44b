"""End-to-end tests of ``python -m messenv.recordings`` in a subprocess (no external network)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from messenv.recordings.catalogue import DEFAULT_RECORDING, get_entry
from messenv.recordings.readers import write_mess_csv
from tests.recordings.catalogue_helpers import make_tiny_zoo, sha256_of, write_entry

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, home: Path, catalogue: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MESSENV_HOME": str(home), "COLUMNS": "200"}
    env.pop("MESSENV_CATALOGUE", None)
    if catalogue is not None:
        env["MESSENV_CATALOGUE"] = str(catalogue)
    return subprocess.run(
        [sys.executable, "-m", "messenv.recordings", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=300,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_list(tmp_path: Path) -> None:
    result = run_cli("list", home=tmp_path)
    assert result.returncode == 0, result.stderr
    for name in ("messplus-llama3", "messplus-qwen2", DEFAULT_RECORDING):
        assert name in result.stdout
    assert "not cached" in result.stdout


def test_info_of_uncached_entry_shows_source_and_hash(tmp_path: Path) -> None:
    result = run_cli("info", "messplus-llama3", home=tmp_path)
    assert result.returncode == 0, result.stderr
    source = get_entry("messplus-llama3").files[0]
    assert source.sha256 in result.stdout and source.url in result.stdout
    assert "python -m messenv.recordings pull messplus-llama3" in result.stdout


def test_unknown_name_is_one_line_error(tmp_path: Path) -> None:
    assert_one_line_error(run_cli("info", "llama", home=tmp_path), "no recording named 'llama'")
    assert_one_line_error(run_cli("pull", "llama", home=tmp_path), "no recording named 'llama'")


def test_bad_arguments_exit_non_zero(tmp_path: Path) -> None:
    result = run_cli("import", "somewhere", home=tmp_path)  # --name missing
    assert result.returncode == 2 and "--name" in result.stderr


def test_import_then_info_of_real_recording(shared_data: Path, tmp_path: Path) -> None:
    tarball = shared_data / "messplus-llama3" / "inference_outputs.tar.gz"
    result = run_cli("import", str(tarball), "--name", "messplus-llama3", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "cached 'messplus-llama3'" in result.stdout and "3 models (small, medium, large)" in result.stdout
    assert (tmp_path / "recordings" / "messplus-llama3.parquet").is_file()

    info = run_cli("info", "messplus-llama3", home=tmp_path)
    assert info.returncode == 0, info.stderr
    assert "mean energy (J)" in info.stdout
    assert "arc_challenge" in info.stdout and "1,172" in info.stdout  # SOURCES.md: the arc_challenge test split
    assert "meta-llama/Llama-3.3-70B-Instruct" in info.stdout

    parquet = run_cli("info", str(tmp_path / "recordings" / "messplus-llama3.parquet"), home=tmp_path)
    assert parquet.returncode == 0 and "mean quality" in parquet.stdout


def test_import_of_wrong_file_is_one_line_error(tmp_path: Path) -> None:
    impostor = tmp_path / "inference_outputs.tar.gz"
    impostor.write_bytes(b"something else")
    result = run_cli("import", str(impostor), "--name", "messplus-llama3", home=tmp_path / "home")
    assert_one_line_error(result, sha256_of(impostor), get_entry("messplus-llama3").files[0].sha256, "nothing was cached")
    assert not (tmp_path / "home" / "recordings").exists() or not any((tmp_path / "home" / "recordings").iterdir())


def test_pull_from_loopback_http(published: Path, http_site: str, tmp_path: Path) -> None:
    catalogue = tmp_path / "private"
    write_entry(catalogue, "tiny-http", [(published / "tiny.parquet", f"{http_site}/tiny.parquet")])
    result = run_cli("pull", "tiny-http", home=tmp_path / "home", catalogue=catalogue)
    assert result.returncode == 0, result.stderr
    assert "cached 'tiny-http'" in result.stdout and "12 requests" in result.stdout
    listing = run_cli("list", home=tmp_path / "home", catalogue=catalogue)
    (row,) = [line for line in listing.stdout.splitlines() if "tiny-http" in line]
    assert "cached" in row and "not cached" not in row


@pytest.mark.parametrize("command", [("info", DEFAULT_RECORDING), ("pull", DEFAULT_RECORDING)])
def test_synthetic_default_needs_no_download(tmp_path: Path, command: tuple[str, str]) -> None:
    pytest.importorskip("messenv.recordings.synthetic", reason="the synthetic generator has not landed yet")
    result = run_cli(*command, home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "small" in result.stdout and "large" in result.stdout


def test_import_own_zoo_then_list_and_info_show_it_local(tmp_path: Path) -> None:
    own = tmp_path / "my.csv"
    write_mess_csv(make_tiny_zoo(), own)
    result = run_cli("import", str(own), "--name", "myzoo", home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    assert f"imported {own} as local recording 'myzoo': 12 requests" in result.stdout
    assert "python -m messenv.run env.recording=myzoo" in result.stdout
    listing = run_cli("list", home=tmp_path / "home")
    (row,) = [line for line in listing.stdout.splitlines() if "myzoo" in line]
    assert f"local, sha256 {sha256_of(own)[:12]}" in row
    info = run_cli("info", "myzoo", home=tmp_path / "home")
    assert info.returncode == 0, info.stderr
    assert f"sha256 {sha256_of(own)}" in info.stdout and "mean energy (J)" in info.stdout


def test_import_own_zoo_error_names_the_users_file_row_and_column(tmp_path: Path) -> None:
    own = tmp_path / "my.csv"
    own.write_text(
        "doc_id,input_text,benchmark_name,label_s,acc_s,energy_consumption_s,inference_time_s,"
        "label_l,acc_l,energy_consumption_l,inference_time_l\n"
        "1,a,q,0,0,1.0,0.1,0,1,5.0,0.5\n"
        "2,b,q,0,1,1.2,0.1,0,1,5.2,0.5\n"
        "3,c,q,0,0,1.1,0.1,0,maybe,4.9,0.5\n",
        encoding="utf-8",
    )
    result = run_cli("import", str(own), "--name", "myzoo", home=tmp_path / "home")
    assert_one_line_error(result, f"{own}, data row 3, column 'acc_l'")
    assert "staging" not in result.stderr


def test_reimport_and_remove_delete_the_numpy_copies_no_recording_uses(tmp_path: Path) -> None:
    """A recording's numpy copy ($MESSENV_HOME/arrays) goes when the recording is replaced or removed."""
    home = tmp_path / "home"
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    write_mess_csv(make_tiny_zoo(), first)
    write_mess_csv(make_tiny_zoo(n=20, seed=3), second)

    def copies() -> list[str]:
        return sorted(path.name for path in (home / "arrays").glob("*.npz"))

    assert run_cli("import", str(first), "--name", "myzoo", home=home).returncode == 0
    assert run_cli("info", "myzoo", home=home).returncode == 0  # loading writes the copy
    (old,) = copies()
    result = run_cli("import", str(second), "--name", "myzoo", home=home)
    assert result.returncode == 0, result.stderr
    assert "deleted 1 numpy copy no recording uses any more" in result.stdout and copies() == []
    assert run_cli("info", "myzoo", home=home).returncode == 0
    (new,) = copies()
    assert new != old
    result = run_cli("remove", "myzoo", home=home)
    assert result.returncode == 0, result.stderr
    assert "removed local recording 'myzoo'" in result.stdout and "deleted 1 numpy copy" in result.stdout
    assert copies() == [] and not any((home / "local").iterdir())
    assert_one_line_error(run_cli("info", "myzoo", home=home), "no recording named 'myzoo'")
    assert_one_line_error(run_cli("remove", "nozoo", home=home), "no recording named 'nozoo'")


def test_an_unreadable_registry_entry_keeps_every_copy_and_remove_deletes_it(tmp_path: Path) -> None:
    """The cleanup after an import cannot tell which copies a broken entry's recording uses: it keeps
    them all, and the import still succeeds; ``remove`` deletes the broken entry (review)."""
    home = tmp_path / "home"
    write_mess_csv(make_tiny_zoo(), tmp_path / "zoo.csv")
    assert run_cli("import", str(tmp_path / "zoo.csv"), "--name", "first", home=home).returncode == 0
    assert run_cli("info", "first", home=home).returncode == 0  # loading writes its numpy copy
    (home / "local" / "broken.json").write_text("{not json", encoding="utf-8")
    result = run_cli("import", str(tmp_path / "zoo.csv"), "--name", "second", home=home)
    assert result.returncode == 0, result.stderr
    assert "kept every numpy copy" in result.stdout and len(list((home / "arrays").glob("*.npz"))) == 1
    result = run_cli("remove", "broken", home=home)
    assert result.returncode == 0, result.stderr
    assert "removed unreadable local recording 'broken'" in result.stdout
    assert not (home / "local" / "broken.json").exists()
