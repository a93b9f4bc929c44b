"""A numpy copy of a cached recording, so that loading one needs neither pyarrow nor pandas.

Reading the parquet store (:mod:`messenv.recordings.store`) imports pyarrow, and pyarrow's array
conversions import pandas: 81 MiB of resident modules and ~0.3 s of CPU before the first row,
more than a whole CartPole vector env process (issue 13 asks the vector env to stay within 2× of
CartPole's memory). The recording itself is a few arrays. So the first load of a cached recording
also writes those arrays with numpy's own ``.npz`` format (uncompressed, read with
``allow_pickle=False``: no code runs on load), and later loads read that instead.

The copy is named by the sha256 of the parquet file it was read from
(``$MESSENV_HOME/arrays/<sha256>.npz``), which the catalogue checks on every load anyway: a parquet
file that changes gets a new copy, and a stale copy is never read (copies of earlier versions stay
until :func:`remove_unused_copies` deletes them: ``python -m messenv.recordings`` calls it
whenever an ``import``, ``pull`` or ``remove`` replaces or removes a recording; deleting any copy
is safe, it is written again on the next load). The copy's own sha256 is recorded beside it
(``<sha256>.npz.sha256``) and checked on every read, as the parquet file's is, so an edited copy is
never served: it is read from parquet again and rewritten, as is a copy that cannot be read
(truncated, another format); one that cannot be written (a read-only home) only costs the parquet
read every time. Strings (prompts, doc ids) are stored as
one UTF-8 byte buffer with offsets, the layout of Arrow's string arrays, because numpy's fixed
width strings would pad every prompt to the longest.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from messenv.atomic import atomic_write_bytes, atomic_write_text
from messenv.home import messenv_home
from messenv.recordings.errors import RecordingError
from messenv.recordings.recording import Recording, RecordingMetadata
from messenv.recordings.store import file_sha256, read_recording

__all__ = [
    "ARRAYS_FORMAT", "arrays_path", "read_arrays", "read_cached_recording", "remove_unused_copies", "write_arrays",
]

ARRAYS_FORMAT = "messenv-arrays/1"
"""Written into every copy and required on read: bump it when the copy's layout, or how
:func:`~messenv.recordings.store.read_recording` reads a parquet file, changes, so that no copy
made the old way is read again."""
_MEASURES = ("quality", "energy_j", "latency_s")
_UNREADABLE = (
    OSError, ValueError, KeyError, TypeError, AttributeError, EOFError, zipfile.BadZipFile, RecordingError
)  # what a damaged or foreign copy raises in np.load, json or Recording's validation
_SHA256 = re.compile(r"[0-9a-f]{64}")
_COPY_NAME = re.compile(r"([0-9a-f]{64})\.npz(\.sha256)?")


def arrays_path(parquet_sha256: str) -> Path:
    """Where the numpy copy of the parquet file with this sha256 is kept.

    Raises:
        ValueError: ``parquet_sha256`` is not a sha256 in hex (the name must not reach another folder).
    """
    if not _SHA256.fullmatch(parquet_sha256):
        raise ValueError(f"not a sha256 in hex: {parquet_sha256!r}")
    return messenv_home() / "arrays" / f"{parquet_sha256}.npz"


def _checksum_path(copy: Path) -> Path:
    """Where the sha256 of the copy itself is recorded."""
    return copy.with_name(copy.name + ".sha256")


def _pack(strings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 bytes of every string, concatenated, and the ``N + 1`` offsets that delimit them."""
    encoded = [text.encode("utf-8") for text in strings.tolist()]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(item) for item in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


def _unpack(data: np.ndarray, offsets: np.ndarray) -> list[str]:
    """Inverse of :func:`_pack`."""
    raw = data.tobytes()
    bounds = offsets.tolist()
    return [raw[start:stop].decode("utf-8") for start, stop in zip(bounds[:-1], bounds[1:])]


def write_arrays(recording: Recording, path: Path) -> None:
    """Write ``recording`` (without features) to ``path`` as an uncompressed ``.npz``, atomically."""
    header = {
        "format": ARRAYS_FORMAT,
        "name": recording.name,
        "models": list(recording.models),
        "benchmark_names": list(recording.benchmark_names),
        "metadata": recording.metadata.to_json(),
    }
    prompts, prompt_offsets = _pack(recording.prompts)
    doc_ids, doc_id_offsets = _pack(recording.doc_ids)
    buffer = io.BytesIO()
    np.savez(
        buffer,
        header=np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8),
        prompts=prompts, prompt_offsets=prompt_offsets, doc_ids=doc_ids, doc_id_offsets=doc_id_offsets,
        benchmark_index=recording.benchmark_index,
        **{measure: getattr(recording, measure) for measure in _MEASURES},
    )
    data = buffer.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data)  # then its checksum: a copy without a matching one is never read
    atomic_write_text(_checksum_path(path), f"{hashlib.sha256(data).hexdigest()}  {path.name}\n")


def read_arrays(path: Path) -> Recording:
    """The recording :func:`write_arrays` wrote to ``path``, validated like any other (its
    checksum is not checked here: :func:`read_cached_recording` does).

    Raises:
        RecordingError: the file is of another format (it names the file).
        OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile: the file is missing or damaged.
    """
    return _decode(path.read_bytes(), path)


def _decode(data: bytes, path: Path) -> Recording:
    """The recording in the ``.npz`` bytes ``data`` read from ``path`` (named in errors)."""
    stored = np.load(io.BytesIO(data), allow_pickle=False)
    if not isinstance(stored, np.lib.npyio.NpzFile):
        raise RecordingError(f"{path}: not a {ARRAYS_FORMAT} file (one array, not an archive)")
    with stored:
        header = json.loads(stored["header"].tobytes().decode("utf-8"))
        if not isinstance(header, dict) or header.get("format") != ARRAYS_FORMAT:
            found = header.get("format") if isinstance(header, dict) else type(header).__name__
            raise RecordingError(f"{path}: not a {ARRAYS_FORMAT} file (format {found!r})")
        return Recording(
            name=header["name"],
            models=tuple(header["models"]),
            doc_ids=np.array(_unpack(stored["doc_ids"], stored["doc_id_offsets"]), dtype=object),
            prompts=np.array(_unpack(stored["prompts"], stored["prompt_offsets"]), dtype=object),
            benchmark_names=tuple(header["benchmark_names"]),
            benchmark_index=stored["benchmark_index"],
            metadata=RecordingMetadata.from_json(header["metadata"]),
            **{measure: stored[measure] for measure in _MEASURES},
        )


def read_cached_recording(parquet: Path, parquet_sha256: str) -> Recording:
    """The recording in the checked parquet file ``parquet``, from its numpy copy where there is
    a readable one; otherwise from parquet, writing the copy for the next load where it can."""
    copy = arrays_path(parquet_sha256)
    try:
        recorded = _checksum_path(copy).read_text(encoding="utf-8").partition(" ")[0]
        data = copy.read_bytes()
        if hashlib.sha256(data).hexdigest() == recorded:
            return _decode(data, copy)
    except _UNREADABLE:
        pass  # absent, damaged or of another format: read the parquet file and write the copy again
    recording = read_recording(parquet)
    try:
        write_arrays(recording, copy)
    except OSError:
        pass  # a read-only home: every load reads the parquet file
    return recording


def remove_unused_copies(recording_files: Iterable[Path]) -> list[Path]:
    """Delete every numpy copy (and its checksum) made from a parquet file that is none of
    ``recording_files`` (the parquet files of every recording a name still loads); returns what was deleted.

    A copy is kept while any of those files has its sha256, so two recordings with the same
    parquet content share one copy and removing either keeps it. The copies are listed *before*
    the files are hashed, so a copy that a concurrent load writes meanwhile, for a file imported
    meanwhile, is never among those deleted. Each file goes in one ``unlink`` (atomic), the checksum
    first: a copy without its checksum is never read. Files that are not copies (an atomic write's
    temporary file) are left alone, as are files of ``recording_files`` that do not exist.
    """
    folder = messenv_home() / "arrays"
    listed = [(path, match[1]) for path in sorted(folder.glob("*.npz*")) if (match := _COPY_NAME.fullmatch(path.name))]
    in_use = {file_sha256(path) for path in recording_files if path.is_file()}
    unused = [path for path, sha256 in listed if sha256 not in in_use]
    for path in sorted(unused, key=lambda path: path.suffix != ".sha256"):
        path.unlink(missing_ok=True)
    return unused
