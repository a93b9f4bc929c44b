"""Read JSON Lines of one's own zoo: one record per line with the MESS+ CSV's columns.

A line is one request, an object keyed like the CSV's header (``doc_id``, ``input_text``,
``benchmark_name``, then ``label_X``, ``acc_norm_X`` or ``acc_X``, ``energy_consumption_X``,
``inference_time_X`` per model X), the form most evaluation scripts append their results in. Blank
lines are skipped. The records go through the same validation as a CSV
(:func:`~messenv.recordings.readers.mess_frame.read_mess_frame`), so a bad value is named by the
file, its data row (the n-th record, which is the n-th non-blank line) and column; a line that is
not a JSON object is named by its line number.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pandas as pd

from messenv.recordings.errors import RecordingError
from messenv.recordings.readers.mess_frame import read_mess_frame
from messenv.recordings.readers.repeats import Remeasured
from messenv.recordings.recording import Recording, RecordingMetadata

__all__ = ["read_mess_jsonl"]


def read_mess_jsonl(
    path: str | os.PathLike[str], name: str | None = None, *, remeasured: Remeasured = "error"
) -> Recording:
    """Read a JSON Lines file of MESS+ records into a :class:`Recording` named ``name`` (default:
    the file stem); ``metadata.source_sha256`` is the sha256 of the file read.

    Raises:
        RecordingError: naming the file and the line of one that is not a JSON object, or the data
            row and column of a bad value (see :func:`~messenv.recordings.readers.read_mess_csv`).
    """
    path = Path(path)
    data = path.read_bytes()
    source = str(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise RecordingError(f"{source}: line {line} is not UTF-8 text; save the file as UTF-8") from None
    records = []
    # JSON Lines ends a record at "\n" only: str.splitlines() also splits at U+2028, U+2029 and
    # U+0085, which JSON strings hold unescaped (json.dumps(..., ensure_ascii=False) writes them so).
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            problem = f"{error.msg}, column {error.colno}"
            raise RecordingError(f"{source}: line {number} is not valid JSON ({problem})") from None
        if not isinstance(record, dict):
            raise RecordingError(f"{source}: line {number} is a JSON {type(record).__name__}, not an object (a record)")
        records.append(record)
    if not records:
        raise RecordingError(f"{source}: no records (an empty file, or blank lines only)")
    metadata = RecordingMetadata(source_sha256=hashlib.sha256(data).hexdigest())
    frame = pd.DataFrame.from_records(records)
    return read_mess_frame(frame, source, name or path.stem, metadata=metadata, remeasured=remeasured)
