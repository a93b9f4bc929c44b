"""Read a parquet file of one's own zoo: a messenv recording, or a table of the MESS+ CSV's columns.

``python -m messenv.recordings import my.parquet`` takes two kinds of parquet file. A messenv
recording (written by :func:`~messenv.recordings.store.write_recording` or ``python -m
messenv.record``) says so in its schema metadata (``messenv.format``) and is read as it is. Any other
parquet file is read as a table of the MESS+ simulator schema, the columns of the CSV
(``doc_id, input_text, benchmark_name``, then ``label_X``, ``acc_norm_X`` or ``acc_X``,
``energy_consumption_X``, ``inference_time_X`` per model X): what ``DataFrame.to_parquet`` writes
for a frame that :func:`~messenv.recordings.readers.read_mess_csv` would read from CSV. It goes
through the same validation, so a bad cell is named by the file, its data row and column. Before,
such a file was refused as "not a messenv recording", although the README lists parquet among the
forms of one's own zoo.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from messenv.recordings.errors import RecordingError
from messenv.recordings.readers.mess_frame import read_mess_frame
from messenv.recordings.readers.repeats import Remeasured
from messenv.recordings.recording import Recording, RecordingMetadata
from messenv.recordings.store import FORMAT, read_recording

__all__ = ["is_messenv_recording", "read_mess_parquet", "read_parquet_zoo"]

_FORMAT_KEY = b"messenv.format"
"""The schema metadata key of a messenv recording (:mod:`messenv.recordings.store`'s layout)."""


def is_messenv_recording(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a parquet file whose schema metadata marks a messenv recording.

    Raises:
        RecordingError: the file is missing or is not parquet.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as error:
        raise RecordingError(f"{path}: not a parquet file ({error})") from None
    return (schema.metadata or {}).get(_FORMAT_KEY) == FORMAT.encode()


def read_mess_parquet(
    path: str | os.PathLike[str], name: str | None = None, *, remeasured: Remeasured = "error"
) -> Recording:
    """Read a parquet table of the MESS+ simulator schema into a :class:`Recording` named ``name``
    (default: the file stem), validated as :func:`~messenv.recordings.readers.read_mess_csv` validates
    a CSV; ``metadata.source_sha256`` is the sha256 of the file read.

    Raises:
        RecordingError: naming the file, and the data row (1-based) and column of a bad cell.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    data = path.read_bytes()
    try:
        frame = pq.read_table(pa.BufferReader(data)).to_pandas()
    except (pa.ArrowException, OSError) as error:
        raise RecordingError(f"{path}: not a readable parquet file ({error})") from None
    metadata = RecordingMetadata(source_sha256=hashlib.sha256(data).hexdigest())
    return read_mess_frame(frame, str(path), name or path.stem, metadata=metadata, remeasured=remeasured)


def read_parquet_zoo(path: str | os.PathLike[str]) -> Recording:
    """A messenv recording as it is (:func:`~messenv.recordings.store.read_recording`), any other
    parquet file as a MESS+ table (:func:`read_mess_parquet`)."""
    return read_recording(path) if is_messenv_recording(path) else read_mess_parquet(path)
