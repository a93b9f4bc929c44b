"""A numpy copy of a cached recording, so that loading one needs neither pyarrow nor pandas.

Reading the parquet store (:mod:`messenv.recordings.store`) imports pyarrow, and pyarrow's array
conversions import pandas: 81 MiB of resident modules and ~0.3 s of CPU before the first row,
more than a whole CartPole vector env process (issue 13 asks the vector env to stay within 2× of
CartPole's memory). The recording itself is a few arrays. So the first load of a cached recording
also writes those arrays with numpy's own ``.npz`` format (uncompressed, read with
``allow_pickle=False``: no code runs on load), and later loads read that instead.

The copy is named by the sha256 of the parquet file it was read from
(``$MESSENV_HOME/arrays/<sha256>.npz``), which the catalogue checks on every load anyway: a parquet
file that changes gets a new copy, and a stale copy is never read. A copy that cannot be read
(truncated, another format) is read from parquet again and rewritten; one that cannot be written
(a read-only home) only costs the parquet read every time. Strings (prompts, doc ids) are stored as
one UTF-8 byte buffer with offsets, the layout of Arrow's string arrays, because numpy's fixed
width strings would pad every prompt to the longest.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from messenv.atomic import atomic_path
from messenv.home import messenv_home
from messenv.recordings.errors import RecordingError
from messenv.recordings.recording import Recording, RecordingMetadata
from messenv.recordings.store import read_recording

__all__ = ["ARRAYS_FORMAT", "arrays_path", "read_arrays", "read_cached_recording", "write_arrays"]

ARRAYS_FORMAT = "messenv-arrays/1"
_MEASURES = ("quality", "energy_j", "latency_s")
_UNREADABLE = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, RecordingError)


def arrays_path(parquet_sha256: str) -> Path:
    """Where the numpy copy of the parquet file with this sha256 is kept."""
    return messenv_home() / "arrays" / f"{parquet_sha256}.npz"


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
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temp, temp.open("wb") as file:
        np.savez(
            file,
            header=np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8),
            prompts=prompts, prompt_offsets=prompt_offsets, doc_ids=doc_ids, doc_id_offsets=doc_id_offsets,
            benchmark_index=recording.benchmark_index,
            **{measure: getattr(recording, measure) for measure in _MEASURES},
        )


def read_arrays(path: Path) -> Recording:
    """The recording :func:`write_arrays` wrote to ``path``, validated like any other.

    Raises:
        RecordingError: the file is of another format (it names the file).
        OSError, ValueError, KeyError, zipfile.BadZipFile: the file is missing or damaged.
    """
    with np.load(path, allow_pickle=False) as stored:
        header = json.loads(stored["header"].tobytes().decode("utf-8"))
        if header.get("format") != ARRAYS_FORMAT:
            raise RecordingError(f"{path}: not a {ARRAYS_FORMAT} file (format {header.get('format')!r})")
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
    if copy.is_file():
        try:
            return read_arrays(copy)
        except _UNREADABLE:
            pass  # damaged or of another format: read the parquet file and write the copy again
    recording = read_recording(parquet)
    try:
        write_arrays(recording, copy)
    except OSError:
        pass  # a read-only home: every load reads the parquet file
    return recording
