"""Read and write MESS+ simulator CSV files (one row per prompt, four columns per model).

Cells are read as text (``dtype=object``, no NA guessing) so that a prompt such as ``NA`` stays a
prompt and an empty cell can be told apart from a malformed one; :mod:`.cells` converts numbers
exactly, so :func:`write_mess_csv` followed by :func:`read_mess_csv` gives back the same values.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from messenv.atomic import atomic_path
from messenv.recordings.errors import RecordingError
from messenv.recordings.readers.columns import written_columns
from messenv.recordings.readers.mess_frame import read_mess_frame
from messenv.recordings.readers.repeats import Remeasured
from messenv.recordings.recording import Recording, RecordingMetadata

__all__ = ["read_csv_frame", "read_mess_csv", "write_mess_csv"]


def _one_line(message: str) -> str:
    """pandas' tokenizer error in one line of messenv's words, e.g. ``line 4 (data row 3) has 17
    fields, the header 15`` for ``Error tokenizing data. C error: Expected 15 fields in line 4, saw
    17\n`` (pandas counts the file's lines; the other reader errors count data rows)."""
    fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if fields:
        expected, line, saw = fields.groups()
        return f"line {line} (data row {int(line) - 1}) has {saw} fields, the header {expected}"
    return " ".join(message.split())


def _not_utf8(data: bytes) -> str:
    """Where ``data`` stops being UTF-8, as a line of the file: pandas' own message gives an offset
    into the chunk it was decoding (``position 17``), which points nowhere in the file."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        return (
            f"not UTF-8 text: byte 0x{data[error.start]:02x} on line {line} (offset {error.start}) "
            "cannot be decoded; save the file as UTF-8"
        )
    return "not UTF-8 text"


def read_csv_frame(data: bytes, source: str) -> pd.DataFrame:
    """Parse CSV bytes into a frame of strings (empty cells are ``""``), without validating it.

    Raises:
        RecordingError: naming ``source`` for an empty file, malformed CSV (pandas' message gives
            the line), text that is not UTF-8, a NUL byte (pandas would silently cut the cell), or
            a column named twice in the header (pandas would rename the copy).
    """
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise RecordingError(f"{source}: not a readable CSV file: NUL byte on line {line} (offset {nul})")
    try:
        frame = pd.read_csv(io.BytesIO(data), dtype=object, na_filter=False, encoding="utf-8")
    except pd.errors.EmptyDataError:
        raise RecordingError(f"{source}: empty file (no header line)") from None
    except UnicodeDecodeError:
        raise RecordingError(f"{source}: not a readable CSV file: {_not_utf8(data)}") from None
    except pd.errors.ParserError as error:
        raise RecordingError(f"{source}: not a readable CSV file: {_one_line(str(error))}") from None
    header = next(csv.reader(io.StringIO(data.split(b"\n", 1)[0].decode("utf-8", "replace"))), [])
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:  # pandas would rename the second copy ("acc_mid.1"), making a model of it
        raise RecordingError(f"{source}: line 1: column(s) {repeated} appear more than once in the header")
    if not isinstance(frame.index, pd.RangeIndex):
        # pandas turns the surplus leading fields into an index when every row has too many
        raise RecordingError(f"{source}: not a readable CSV file: the data rows have more fields than the header")
    return frame


def read_mess_csv(
    path: str | os.PathLike[str], name: str | None = None, *, remeasured: Remeasured = "error"
) -> Recording:
    """Read a MESS+ simulator CSV into a :class:`Recording` named ``name`` (default: the file stem).

    Any label set with at least 2 models is accepted. Quality is ``acc_norm_X`` where present and
    non-empty, else ``acc_X``. Identical repeated (benchmark_name, doc_id) rows are dropped;
    contradicting ones raise (re-measurements too, unless ``remeasured="first"``).
    ``metadata.source_sha256`` is the sha256 of the file read.

    Raises:
        RecordingError: naming the file, and the data row (1-based, header not counted) and column
            of a bad cell; see :func:`~messenv.recordings.readers.mess_frame.parse_mess_frame`.
    """
    path = Path(path)
    data = path.read_bytes()
    source = str(path)
    frame = read_csv_frame(data, source)
    metadata = RecordingMetadata(source_sha256=hashlib.sha256(data).hexdigest())
    return read_mess_frame(frame, source, name or path.stem, metadata=metadata, remeasured=remeasured)


def write_mess_csv(recording: Recording, path: str | os.PathLike[str]) -> None:
    """Write ``recording`` as a MESS+ simulator CSV, atomically (temp file beside it + os.replace).

    Models are written cheapest first as ``label_X, acc_X, energy_consumption_X, inference_time_X``
    with ``label_X`` = ``acc_X`` = quality. Features and metadata are not part of the format.

    Raises:
        RecordingError: for text that would not read back as itself: an empty doc_id, prompt or
            benchmark name, a NUL character, or a model label that
            :func:`~messenv.recordings.readers.columns.written_columns` refuses.
    """
    _check_text_reads_back(recording)
    columns: dict[str, np.ndarray] = {
        "doc_id": recording.doc_ids,
        "input_text": recording.prompts,
        "benchmark_name": recording.benchmarks,
    }
    for m, model in enumerate(recording.models):
        names = written_columns(model)
        columns[names.label] = recording.quality[:, m]
        columns[names.quality_columns[0]] = recording.quality[:, m]
        columns[names.energy] = recording.energy_j[:, m]
        columns[names.latency] = recording.latency_s[:, m]
    with atomic_path(path) as temp:
        # Quote all text: minimal quoting leaves a lone "\r" bare, and CSV readers split lines on it.
        pd.DataFrame(columns).to_csv(temp, index=False, encoding="utf-8", quoting=csv.QUOTE_NONNUMERIC)


def _check_text_reads_back(recording: Recording) -> None:
    """Refuse text the reader would reject or alter: empty cells read as missing, NUL cuts a cell."""
    for column, values in (
        ("doc_id", recording.doc_ids),
        ("input_text", recording.prompts),
        ("benchmark_name", recording.benchmarks),
    ):
        for row, value in enumerate(values):
            if value == "" or "\x00" in value:
                raise RecordingError(
                    f"recording {recording.name!r}, request {row}, {column} {value!r}: an empty value or a NUL "
                    "character cannot be written to a MESS+ CSV (it would not read back)"
                )
