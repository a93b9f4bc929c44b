"""Tests for the recording catalogue: entries, verified pull/import, the cache and load()."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from messenv.recordings import catalogue as cat
from messenv.recordings.catalogue import CatalogueEntry, CatalogueError, get_entry, import_local, load, pull
from messenv.recordings.errors import RecordingError
from messenv.recordings.recording import Recording
from messenv.recordings.store import read_recording, write_recording

from tests.recordings.catalogue_helpers import assert_same_measurements, make_tiny_zoo, sha256_of, write_entry

REAL = ("messplus-llama3", "messplus-qwen2")


def cache_listing(home: Path) -> list[str]:
    """Everything under the recordings cache, hidden staging files included."""
    directory = home / "recordings"
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


# ---------------------------------------------------------------------- the bundled catalogue


def test_bundled_entries(messenv_home: Path) -> None:
    entries = cat.catalogue()
    assert set(REAL) | {cat.DEFAULT_RECORDING} <= set(entries)
    assert entries[cat.DEFAULT_RECORDING].synthetic
    llama = entries["messplus-llama3"]
    assert list(llama.models) == ["small", "medium", "large"]
    assert [f.name for f in llama.files] == ["inference_outputs.tar.gz"]
    assert len(entries["messplus-qwen2"].files) == 8


def test_catalogue_sources_agree_with_sources_md(shared_data: Path) -> None:
    """Every URL and sha256 in the catalogue is the one SOURCES.md gives for that file (typo guard)."""
    sources = (shared_data / "SOURCES.md").read_text()
    for name in REAL:
        for source in get_entry(name).files:
            assert source.sha256 in sources, (name, source.name)
            benchmark = source.name.removesuffix("_qwen.json")
            if benchmark == source.name:
                assert source.url in sources, source.name
            else:  # qwen2: one URL template and "<benchmark> <sha>" table rows
                (template,) = re.findall(r"Source: (\S*<benchmark>\S*)", sources)
                assert source.url == template.replace("<benchmark>", benchmark)
                assert re.search(rf"\b{benchmark}\s+{source.sha256}", sources), source.name


# ---------------------------------------------------------------------- import from ../shared/data


@pytest.mark.parametrize(
    ("name", "relative"),
    [("messplus-llama3", "messplus-llama3/inference_outputs.tar.gz"), ("messplus-qwen2", "messplus-qwen2")],
)
def test_import_real_recording(shared_data: Path, messenv_home: Path, name: str, relative: str) -> None:
    path = import_local(shared_data / relative, name)
    assert path == messenv_home / "recordings" / f"{name}.parquet"
    assert cache_listing(messenv_home) == [f"{name}.parquet"]
    entry = get_entry(name)
    recording = load(name)
    assert recording.name == name
    assert recording.models == tuple(entry.models)  # the catalogue describes what is converted
    assert recording.benchmark_names == entry.benchmarks
    assert recording.metadata.extra["licence"] == entry.licence
    if len(entry.files) == 1:
        assert recording.metadata.source_sha256 == entry.files[0].sha256
    else:
        assert all(f.sha256 in recording.metadata.source_sha256 for f in entry.files)


def test_imported_llama3_matches_published_sanity_figures(shared_data: Path, messenv_home: Path) -> None:
    """SOURCES.md: arc_challenge mean accuracy 37.9/54.4/60.8 %, energy 80/394/2003 J."""
    import_local(shared_data / "messplus-llama3", "messplus-llama3")  # the directory holding the tarball
    arc = load("messplus-llama3", benchmarks="arc_challenge")
    np.testing.assert_allclose(arc.quality.mean(axis=0) * 100, [37.9, 54.4, 60.8], atol=0.05)
    np.testing.assert_allclose(arc.energy_j.mean(axis=0), [80, 394, 2003], atol=0.5)


def test_import_with_wrong_bytes_caches_nothing(tmp_path: Path, messenv_home: Path) -> None:
    impostor = tmp_path / "inference_outputs.tar.gz"
    impostor.write_bytes(b"not the published tarball")
    expected = get_entry("messplus-llama3").files[0].sha256
    with pytest.raises(CatalogueError) as raised:
        import_local(impostor, "messplus-llama3")
    message = str(raised.value)
    assert str(impostor) in message
    assert sha256_of(impostor) in message and expected in message
    assert "nothing was cached" in message
    assert cache_listing(messenv_home) == []


def test_bad_import_keeps_the_good_cached_file(shared_data: Path, tmp_path: Path, messenv_home: Path) -> None:
    good = import_local(shared_data / "messplus-llama3/inference_outputs.tar.gz", "messplus-llama3")
    before = good.read_bytes()
    impostor = tmp_path / "inference_outputs.tar.gz"
    impostor.write_bytes(b"\x1f\x8b truncated")
    with pytest.raises(CatalogueError, match="does not match.*give it a --name the catalogue does not use"):
        import_local(impostor, "messplus-llama3")
    assert good.read_bytes() == before
    assert cache_listing(messenv_home) == ["messplus-llama3.parquet"]


def test_import_multi_file_recording_needs_its_directory(tmp_path: Path, messenv_home: Path) -> None:
    lone = tmp_path / "boolq_qwen.json"
    lone.write_text("[]")
    with pytest.raises(CatalogueError, match=r"has 8 files .* pass the directory"):
        import_local(lone, "messplus-qwen2")
    with pytest.raises(CatalogueError, match=r"missing arc_challenge_qwen\.json, arc_easy_qwen\.json"):
        import_local(tmp_path, "messplus-qwen2")
    with pytest.raises(CatalogueError, match="no such file"):
        import_local(tmp_path / "absent", "messplus-qwen2")
    assert cache_listing(messenv_home) == []


def test_import_of_synthetic_entry_is_refused(tmp_path: Path, messenv_home: Path) -> None:
    with pytest.raises(CatalogueError, match="is a generated catalogue recording.*a --name the catalogue does not use"):
        import_local(tmp_path, cat.DEFAULT_RECORDING)


# ---------------------------------------------------------------------- pull (no external network)


def test_pull_from_file_url(published: Path, private_catalogue: Path, messenv_home: Path) -> None:
    source = published / "tiny.parquet"
    write_entry(private_catalogue, "tiny-file", [(source, source.as_uri())])
    path = pull("tiny-file")
    assert cache_listing(messenv_home) == ["tiny-file.parquet"]
    recording = read_recording(path)
    assert recording.name == "tiny-file"
    assert recording.metadata.source_url == source.as_uri()
    assert recording.metadata.source_sha256 == sha256_of(source)
    assert_same_measurements(recording, read_recording(source))


def test_pull_from_loopback_http(published: Path, http_site: str, private_catalogue: Path, messenv_home: Path) -> None:
    write_entry(private_catalogue, "tiny-http", [(published / "tiny.parquet", f"{http_site}/tiny.parquet")])
    assert_same_measurements(read_recording(pull("tiny-http")), read_recording(published / "tiny.parquet"))


def test_pull_with_mismatching_hash_caches_nothing(published: Path, http_site: str, private_catalogue: Path, messenv_home: Path) -> None:
    wrong = "0" * 64
    write_entry(private_catalogue, "tiny-bad", [(published / "tiny.parquet", f"{http_site}/tiny.parquet")], sha256=wrong)
    with pytest.raises(CatalogueError) as raised:
        pull("tiny-bad")
    message = str(raised.value)
    assert f"{http_site}/tiny.parquet" in message
    assert sha256_of(published / "tiny.parquet") in message and wrong in message
    assert cache_listing(messenv_home) == []


def test_pull_of_missing_url_fails_cleanly(published: Path, http_site: str, private_catalogue: Path, messenv_home: Path) -> None:
    write_entry(private_catalogue, "tiny-404", [(published / "tiny.parquet", f"{http_site}/gone.parquet")])
    with pytest.raises(CatalogueError, match=r"gone\.parquet: download failed \(HTTP 404 "):
        pull("tiny-404")
    assert cache_listing(messenv_home) == []


def test_pull_of_several_files_converts_their_directory(
    shared_data: Path, private_catalogue: Path, messenv_home: Path
) -> None:
    """A multi-file entry hands the converter the directory of verified files (qwen2 layout)."""
    files = sorted((shared_data / "messplus-qwen2").glob("*_qwen.json"))[:2]
    write_entry(private_catalogue, "qwen-pair", [(f, f.as_uri()) for f in files], converter=get_entry("messplus-qwen2").converter)
    recording = read_recording(pull("qwen-pair"))
    assert recording.benchmark_names == ("arc_challenge", "arc_easy")
    assert all(f.name in recording.metadata.source_sha256 for f in files)


def test_failing_converter_caches_nothing(tmp_path: Path, private_catalogue: Path, messenv_home: Path) -> None:
    not_a_recording = tmp_path / "x.parquet"
    not_a_recording.write_text("hello")
    write_entry(private_catalogue, "broken", [(not_a_recording, not_a_recording.as_uri())])
    with pytest.raises(RecordingError, match="not a parquet file") as error:
        pull("broken")
    assert cache_listing(messenv_home) == []
    # the staged copy is gone once the command ends: the error names where the file came from
    assert str(error.value).startswith(f"{not_a_recording.as_uri()}: not a parquet file")
    assert "staging" not in str(error.value)


def test_unimportable_converter_is_named(published: Path, private_catalogue: Path, messenv_home: Path) -> None:
    source = published / "tiny.parquet"
    entry = write_entry(private_catalogue, "orphan", [(source, source.as_uri())], converter="messenv.nowhere:read")
    with pytest.raises(CatalogueError, match=rf"{re.escape(str(entry))}: cannot import 'messenv.nowhere:read'"):
        pull("orphan")


# ---------------------------------------------------------------------- malformed catalogues


def test_missing_field_names_file_and_field(private_catalogue: Path) -> None:
    path = private_catalogue / "bad.yaml"
    path.write_text("format: messenv-catalogue/1\nname: bad\n")
    with pytest.raises(CatalogueError, match=rf"{re.escape(str(path))}: catalogue field 'models' is missing"):
        cat.catalogue()


def test_bad_sha_is_rejected(published: Path, private_catalogue: Path) -> None:
    source = published / "tiny.parquet"
    path = write_entry(private_catalogue, "short-sha", [(source, source.as_uri())], sha256="abc")
    with pytest.raises(CatalogueError, match=rf"{re.escape(path.name)} files\[0\]: sha256 'abc' is not 64 hex digits"):
        cat.catalogue()


def test_duplicate_name_is_rejected(published: Path, private_catalogue: Path) -> None:
    source = published / "tiny.parquet"
    write_entry(private_catalogue, "messplus-llama3", [(source, source.as_uri())])
    with pytest.raises(CatalogueError, match="'messplus-llama3' is defined twice"):
        cat.catalogue()


def test_other_yaml_files_are_not_entries(private_catalogue: Path) -> None:
    (private_catalogue / "notes.yaml").write_text("format: something-else/1\nname: x\n")
    assert "x" not in cat.catalogue()


def test_missing_catalogue_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESSENV_CATALOGUE", str(tmp_path / "nowhere"))
    with pytest.raises(CatalogueError, match="nowhere: catalogue directory"):
        cat.catalogue()


# ---------------------------------------------------------------------- load


def test_load_unknown_name_lists_known(messenv_home: Path) -> None:
    with pytest.raises(CatalogueError, match=r"no recording named 'llama' .*known: .*messplus-llama3"):
        load("llama")


@pytest.mark.parametrize("name", REAL)
def test_load_not_cached_gives_the_commands(messenv_home: Path, name: str) -> None:
    with pytest.raises(CatalogueError) as raised:
        load(name)
    message = str(raised.value)
    assert f"`python -m messenv.recordings pull {name}`" in message
    assert f"`python -m messenv.recordings import PATH --name {name}`" in message
    assert cache_listing(messenv_home) == []


def test_load_parquet_path_and_benchmarks(tmp_path: Path, tiny_zoo: Recording) -> None:
    path = write_recording(tiny_zoo, tmp_path / "tiny.parquet")
    assert_same_measurements(load(path), tiny_zoo)
    assert_same_measurements(load(str(path)), tiny_zoo)
    assert load(path, benchmarks="boolq").benchmark_names == ("boolq",)
    assert load(path, benchmarks=["boolq", "arc_easy"]).n_requests == tiny_zoo.n_requests
    with pytest.raises(RecordingError, match=r"has no benchmark \['mmlu'\]"):
        load(path, benchmarks=["mmlu"])
    with pytest.raises(RecordingError, match="no such recording file"):
        load(tmp_path / "absent.parquet")


def test_load_features_are_computed_before_selection(tmp_path: Path, messenv_home: Path) -> None:
    path = write_recording(make_tiny_zoo(n=30), tmp_path / "tiny.parquet")
    assert load(path).features is None
    full = load(path, features="hashed")
    part = load(path, benchmarks="boolq", features="hashed")
    assert full.features is not None and part.features is not None
    assert part.metadata.features_kind == full.metadata.features_kind
    rows = np.flatnonzero(full.benchmarks == "boolq")
    np.testing.assert_array_equal(part.features, full.features[rows])
    assert len(list((messenv_home / "features").iterdir())) == 1  # one cache entry serves both


# ---------------------------------------------------------------------- the synthetic default


def test_default_is_generated_offline_once(messenv_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    entry = get_entry(cat.DEFAULT_RECORDING)
    first = load()
    assert first.name == cat.DEFAULT_RECORDING and first.metadata.synthetic
    assert first.models == tuple(entry.models)
    assert first.benchmark_names == entry.benchmarks
    assert cache_listing(messenv_home) == [cat.cache_path(entry).name]

    def regenerate(entry: object) -> Path:
        raise AssertionError("the cached synthetic zoo should have been read, not regenerated")

    monkeypatch.setattr(cat, "_generate", regenerate)
    assert load(cat.DEFAULT_RECORDING).fingerprint() == first.fingerprint()


def synthetic_variant(private_catalogue: Path, name: str, line: str, replacement: str) -> CatalogueEntry:
    """A copy of the default synthetic entry named ``name``, its ``line`` replaced."""
    default = get_entry(cat.DEFAULT_RECORDING)
    assert default.spec is not None
    (private_catalogue / default.spec.name).write_bytes(default.spec.read_bytes())
    text = default.origin.read_text().replace(f"name: {default.name}", f"name: {name}")
    assert line in text
    (private_catalogue / f"{name}.yaml").write_text(text.replace(line, replacement))
    return get_entry(name)


def test_synthetic_cache_is_keyed_by_seed(messenv_home: Path, private_catalogue: Path) -> None:
    default = get_entry(cat.DEFAULT_RECORDING)
    other = synthetic_variant(private_catalogue, "synthetic-seed1", "seed: 0", "seed: 1")
    assert other.seed == 1
    key = cat.cache_path(default).name.removeprefix(f"{default.name}-")
    assert cat.cache_path(other).name != f"synthetic-seed1-{key}"
    assert not np.array_equal(load("synthetic-seed1").energy_j, load().energy_j)
    assert len(cache_listing(messenv_home)) == 2


def test_a_cached_synthetic_recording_loads_without_importing_its_generator(messenv_home: Path) -> None:
    """The cache key hashes the generator module's source file; loading the cached zoo needs no scipy."""
    load()  # generates and caches it in this MESSENV_HOME
    probe = "import sys; from messenv.recordings import load; load(); print('scipy' in sys.modules)"
    env = {**os.environ, "MESSENV_HOME": str(messenv_home)}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env)
    assert done.stdout.split() == ["False"]


def test_a_generator_named_through_another_module_is_refused(messenv_home: Path, private_catalogue: Path) -> None:
    """The key hashes the named module's source, so the generator must be defined there."""
    generator = f"generator: {get_entry(cat.DEFAULT_RECORDING).generator}"
    reexported = "generator: messenv.recordings.catalogue:replace"  # dataclasses.replace, imported there
    entry = synthetic_variant(private_catalogue, "reexported", generator, reexported)
    with pytest.raises(CatalogueError, match=r"'messenv.recordings.catalogue:replace' is defined in 'dataclasses'"):
        load(entry.name)
    missing = synthetic_variant(private_catalogue, "missing", generator, "generator: messenv.nowhere:make")
    with pytest.raises(CatalogueError, match=r"cannot import 'messenv.nowhere:make'"):
        load(missing.name)


def test_pull_of_synthetic_generates(messenv_home: Path) -> None:
    path = pull(cat.DEFAULT_RECORDING)
    assert path == cat.cache_path(get_entry(cat.DEFAULT_RECORDING))
    assert read_recording(path).metadata.synthetic


def test_mistyped_field_and_broken_yaml_name_the_file(private_catalogue: Path) -> None:
    path = private_catalogue / "typed.yaml"
    path.write_text("format: messenv-catalogue/1\nname: typed\nmodels: [small, large]\n")
    with pytest.raises(CatalogueError, match=rf"{re.escape(str(path))}: catalogue field 'models' should be a Mapping"):
        cat.catalogue()
    path.write_text("format: messenv-catalogue/1\nname: [unclosed\n")
    with pytest.raises(CatalogueError, match=rf"{re.escape(str(path))}: not valid YAML"):
        cat.catalogue()


# ---------------------------------------------------------------------- tamper-evident cache


def test_a_modified_cache_is_refused(published: Path, private_catalogue: Path, messenv_home: Path) -> None:
    """pull records the converted file's sha256 apart from it; load refuses the file once it changes."""
    source = published / "tiny.parquet"
    write_entry(private_catalogue, "tiny-file", [(source, source.as_uri())])
    path = pull("tiny-file")
    checksum = messenv_home / "checksums" / "tiny-file.parquet.sha256"
    assert checksum.read_text() == f"{sha256_of(path)}  tiny-file.parquet\n"
    assert cat.recording_file_sha256("tiny-file") == sha256_of(path)
    genuine = load("tiny-file")
    write_recording(dataclasses.replace(genuine, energy_j=genuine.energy_j / 2), path)
    modified = re.escape(f"{path}: the cached recording was modified after it was cached")
    with pytest.raises(CatalogueError, match=modified) as error:
        load("tiny-file")
    assert "python -m messenv.recordings pull tiny-file" in str(error.value)
    checksum.unlink()
    with pytest.raises(CatalogueError, match="no recorded sha256") as error:
        load("tiny-file")
    assert "python -m messenv.recordings import PATH --name tiny-file" in str(error.value)
    pull("tiny-file")
    assert load("tiny-file").fingerprint() == genuine.fingerprint()
