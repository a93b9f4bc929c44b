"""Your own zoo without a catalogue entry: the local registry and recordings read straight from a file.

``python -m messenv.recordings import my.csv --name myzoo`` (:func:`import_file`) reads the file
with the reader its form calls for (:func:`reader_for`), converts it and keeps it under a local
name, so that ``load("myzoo")``, ``gym.make(..., recording="myzoo")`` and
``python -m messenv.run env.recording=myzoo`` find it. The catalogue (:mod:`.catalogue`) is for
published recordings, with a URL and a sha256 fixed in advance; a local recording has neither, so
the sha256 is taken from the file at import time and shown by ``list`` and ``info``.

A path works too, without importing: ``load("my.csv")`` or ``env.recording=path/to/my.csv``
converts the file once and caches it by the sha256 of its content (:func:`read_path`), so an edited
file is converted again and an unchanged one is read from the cache.

Forms read (:data:`READERS`):

- ``*.csv``: the MESS+ simulator CSV (:func:`~messenv.recordings.readers.read_mess_csv`);
- ``*.tar.gz`` / ``*.tgz``: the Llama-3 style tarball of CSVs (:func:`~messenv.recordings.readers.read_llama3_tarball`);
- ``*.json``, or a folder of ``*_qwen.json`` files: the Qwen2 style JSON
  (:func:`~messenv.recordings.readers.read_qwen2_json`);
- ``*.jsonl``: JSON Lines, one record of the CSV's columns per line
  (:func:`~messenv.recordings.readers.read_mess_jsonl`);
- ``*.parquet``: a messenv recording, e.g. one written by ``python -m messenv.record``, or a table
  of the MESS+ CSV's columns (``DataFrame.to_parquet``; :mod:`~messenv.recordings.readers.mess_parquet`).

Layout under ``$MESSENV_HOME`` (:func:`messenv.home.messenv_home`)::

    local/<name>.parquet         the converted recording of a local name
    local/<name>.json            its registry entry (format messenv-local/1): source path, sha256, reader
    recordings/by-content/<sha256>.parquet   recordings read from a path, keyed by content

The reader is run on the user's own file (never a staged copy), so a bad cell is reported with
that file's path, data row and column. Both files are written atomically, the entry last, so an
entry always points at a complete recording.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from messenv.atomic import atomic_write_text
from messenv.home import messenv_home
from messenv.recordings.errors import RecordingError
from messenv.recordings.recording import Recording
from messenv.recordings.store import read_recording, write_recording

__all__ = [
    "LOCAL_FORMAT",
    "READERS",
    "LocalEntry",
    "import_file",
    "local_entries",
    "local_entry",
    "local_files",
    "looks_like_path",
    "read_path",
    "reader_for",
]

LOCAL_FORMAT = "messenv-local/1"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_QWEN2_PATTERN = "*_qwen.json"
_CHUNK = 1 << 20

Reader = Callable[[Path], Recording]
READERS: dict[str, str] = {
    ".csv": "messenv.recordings.readers:read_mess_csv",
    ".tar.gz": "messenv.recordings.readers:read_llama3_tarball",
    ".tgz": "messenv.recordings.readers:read_llama3_tarball",
    ".json": "messenv.recordings.readers:read_qwen2_json",
    ".jsonl": "messenv.recordings.readers:read_mess_jsonl",
    ".parquet": "messenv.recordings.readers.mess_parquet:read_parquet_zoo",
}
"""File suffix -> its reader as ``module:function``, imported when a file of that form is read
(:func:`reader_for`): :mod:`messenv.recordings.readers` needs pandas, which loading a cached
recording does not. A folder is read as Qwen2 style JSON files (:data:`FOLDER_READER`)."""
FOLDER_READER = "messenv.recordings.readers:read_qwen2_json"


def _import_reader(reference: str) -> Reader:
    """The function a :data:`READERS` value names."""
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class LocalEntry:
    """A recording imported under a local name: where it came from and what it holds."""

    name: str
    source: str
    sha256: str
    reader: str
    imported: str
    models: tuple[str, ...]
    benchmarks: tuple[str, ...]
    n_requests: int

    @property
    def path(self) -> Path:
        """The converted recording (parquet)."""
        return _local_dir() / f"{self.name}.parquet"


def _local_dir() -> Path:
    return messenv_home() / "local"


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return next((suffix for suffix in READERS if name.endswith(suffix)), path.suffix.lower())


def looks_like_path(reference: str | os.PathLike[str]) -> bool:
    """Whether a recording reference is a file path rather than a name (a separator or a known suffix)."""
    if isinstance(reference, os.PathLike):
        return True
    return os.sep in reference or "/" in reference or _suffix(Path(reference)) in READERS


def reader_for(path: Path) -> Reader:
    """The reader for ``path`` by its form (see :data:`READERS`).

    Raises:
        RecordingError: the path does not exist, or is of no form messenv reads (named, with the
            forms it reads).
    """
    if path.is_dir():
        if not any(path.glob(_QWEN2_PATTERN)):
            raise RecordingError(
                f"{path}: a folder is read as Qwen2 style {_QWEN2_PATTERN} files and it holds none; "
                "pass a MESS+ .csv, .jsonl, .parquet or .json file, or a .tar.gz of CSVs, instead"
            )
        return _import_reader(FOLDER_READER)
    if not path.is_file():
        raise RecordingError(f"{path}: no such file or directory")
    reader = READERS.get(_suffix(path))
    if reader is None:
        raise RecordingError(
            f"{path}: cannot tell how to read a {path.suffix or 'suffix-less'!r} file; "
            f"messenv reads {', '.join(READERS)} files and folders of {_QWEN2_PATTERN} files"
        )
    return _import_reader(reader)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def content_sha256(path: Path) -> str:
    """sha256 of a file; for a folder, of the JSON object {file name: sha256} of the files read."""
    if path.is_dir():
        hashes = {file.name: _file_sha256(file) for file in sorted(path.glob(_QWEN2_PATTERN))}
        return hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()
    return _file_sha256(path)


def _convert(path: Path, name: str) -> tuple[Recording, str, str]:
    """Read ``path`` with its reader and name the result ``name``; returns (recording, sha256, reader).

    The sha256 is taken before and after reading: a file that changed meanwhile is an error, so the
    hash recorded is the hash of what was converted.
    """
    reader = reader_for(path)
    sha256 = content_sha256(path)
    recording = reader(path)
    if content_sha256(path) != sha256:
        raise RecordingError(f"{path}: the file changed while it was being read; nothing was cached")
    metadata = replace(
        recording.metadata,
        source_url=path.resolve().as_uri(),
        source_sha256=sha256,
        extra={**recording.metadata.extra, "local": True, "reader": f"{reader.__module__}:{reader.__name__}"},
    )
    return replace(recording, name=name, metadata=metadata), sha256, metadata.extra["reader"]


def import_file(path: str | os.PathLike[str], name: str) -> LocalEntry:
    """Convert ``path`` and keep it under the local name ``name`` (replacing an earlier import).

    Raises:
        RecordingError: a name that is not lower-case letters, digits, ``.``, ``_``, ``-``; a name
            the catalogue already uses; a name ending like a file (``myzoo.csv``), which every
            reference would read as a path; or any reader error, naming ``path``, row and column.
    """
    from messenv.recordings.catalogue import catalogue  # the catalogue reads this module: import late

    if not _NAME.match(name):
        raise RecordingError(
            f"--name {name!r}: a recording name may only hold lower-case letters, digits, '.', '_' and '-'"
        )
    if name in catalogue():
        raise RecordingError(f"--name {name!r} is a catalogue recording; choose another name for your own zoo")
    if looks_like_path(name):  # load("myzoo.csv") and env.recording=myzoo.csv would look for that file
        raise RecordingError(
            f"--name {name!r} ends like a file ({_suffix(Path(name))}), so env.recording={name} would be read as "
            f"a path; choose a name without it, e.g. {name[: -len(_suffix(Path(name)))] or 'myzoo'!r}"
        )
    source = Path(path).expanduser()
    recording, sha256, reader = _convert(source, name)
    entry = LocalEntry(
        name=name,
        source=str(source.resolve()),
        sha256=sha256,
        reader=reader,
        imported=datetime.now(UTC).isoformat(timespec="seconds"),
        models=recording.models,
        benchmarks=recording.benchmark_names,
        n_requests=recording.n_requests,
    )
    write_recording(recording, entry.path)
    atomic_write_text(_local_dir() / f"{name}.json", json.dumps({"format": LOCAL_FORMAT, **asdict(entry)}, indent=2))
    return entry


def _read_entry(path: Path) -> LocalEntry:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.pop("format", None) != LOCAL_FORMAT:
            raise ValueError(f"format is not {LOCAL_FORMAT!r}")
        entry = LocalEntry(**data)
        if entry.name != path.stem:  # the name picks the parquet file: never let it point elsewhere
            raise ValueError(f"it names {entry.name!r}, not {path.stem!r}")
        return replace(entry, models=tuple(entry.models), benchmarks=tuple(entry.benchmarks))
    except (ValueError, TypeError, AttributeError) as error:
        raise RecordingError(f"{path}: not a messenv local registry entry ({error}); import the file again") from error


def local_entries() -> dict[str, LocalEntry]:
    """Every recording imported under a local name, by name."""
    directory = _local_dir()
    if not directory.is_dir():
        return {}
    return {path.stem: _read_entry(path) for path in sorted(directory.glob("*.json"))}


def local_files(name: str) -> tuple[Path, Path]:
    """The registry entry and the converted recording of the local name ``name``, whether or not
    they exist or can be read (``remove`` deletes an entry that cannot)."""
    return _local_dir() / f"{name}.json", _local_dir() / f"{name}.parquet"


def local_entry(name: str) -> LocalEntry | None:
    """The local registry entry called ``name``, or ``None``."""
    path = _local_dir() / f"{name}.json"
    return _read_entry(path) if _NAME.match(name) and path.is_file() else None


def read_path(path: str | os.PathLike[str]) -> Recording:
    """A recording from a path: a messenv recording (``.parquet``) is read as is; any other form is
    converted once and cached by the sha256 of its content, named after the file first converted
    with that content."""
    from messenv.recordings.readers.mess_parquet import is_messenv_recording

    source = Path(path).expanduser()
    if _suffix(source) == ".parquet" and (not source.is_file() or is_messenv_recording(source)):
        return read_recording(source)  # (which names a missing file)
    reader_for(source)  # an unreadable form fails here, before any hashing
    cached = messenv_home() / "recordings" / "by-content" / f"{content_sha256(source)}.parquet"
    if cached.is_file():
        return read_recording(cached)
    stem = source.name[: -len(_suffix(source))] if source.is_file() else source.name
    recording, _, _ = _convert(source, stem or "local")
    write_recording(recording, cached)
    return recording
