"""The on-disk format of a converted recording: one parquet file, one row per request.

Converting the published raw files (a tarball of CSVs, JSON dumps) takes seconds and needs their
quirks handled; the parquet store is what every later run reads, in milliseconds, with exact
float64 round trips (the recording's fingerprint survives a write and a read).

Layout (format version :data:`FORMAT_VERSION`):

- columns ``doc_id``, ``prompt``, ``benchmark`` (strings), then for every model label, in zoo
  order (cheapest first), ``quality/<label>``, ``energy_j/<label>``, ``latency_s/<label>`` (float64);
- schema metadata (all values UTF-8 text):
  ``messenv.format`` = ``"messenv-recording"``, ``messenv.format_version`` = ``"1"``,
  ``messenv.name`` (the recording name), ``messenv.models`` (JSON list, zoo order),
  ``messenv.benchmarks`` (JSON list, the recording's ``benchmark_names``) and
  ``messenv.metadata`` (:meth:`RecordingMetadata.to_json`).

pyarrow is imported by the functions that read or write parquet, not by this module: loading a
cached recording reads its numpy copy (:mod:`messenv.recordings.arrays`) without pyarrow.

Prompt features are not stored here: they depend on an encoder, not on the measurements, and are
cached separately per recording fingerprint by :mod:`messenv.recordings.features`.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from messenv.atomic import atomic_path
from messenv.recordings.errors import RecordingError
from messenv.recordings.recording import Recording, RecordingMetadata

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["FORMAT", "FORMAT_VERSION", "MEASURES", "file_sha256", "measure_column", "read_recording", "write_recording"]

FORMAT = "messenv-recording"
FORMAT_VERSION = 1
MEASURES: tuple[str, ...] = ("quality", "energy_j", "latency_s")
"""Per-model measurements, each stored as one float64 column per model."""

_REQUEST_COLUMNS: tuple[str, ...] = ("doc_id", "prompt", "benchmark")
_KEY_FORMAT = "messenv.format"
_KEY_VERSION = "messenv.format_version"
_KEY_NAME = "messenv.name"
_KEY_MODELS = "messenv.models"
_KEY_BENCHMARKS = "messenv.benchmarks"
_KEY_METADATA = "messenv.metadata"


def measure_column(measure: str, model: str) -> str:
    """Column name of one model's measurement, e.g. ``measure_column("energy_j", "small")``."""
    return f"{measure}/{model}"


def _columns(models: tuple[str, ...]) -> list[str]:
    return [*_REQUEST_COLUMNS, *(measure_column(m, model) for model in models for m in MEASURES)]


def recording_to_table(recording: Recording) -> pa.Table:
    """The recording as an arrow table with the schema metadata described in the module docstring."""
    import pyarrow as pa

    arrays: dict[str, pa.Array] = {
        "doc_id": pa.array(recording.doc_ids.tolist(), type=pa.string()),
        "prompt": pa.array(recording.prompts.tolist(), type=pa.string()),
        "benchmark": pa.array(recording.benchmarks.tolist(), type=pa.string()),
    }
    for j, model in enumerate(recording.models):
        for measure in MEASURES:
            arrays[measure_column(measure, model)] = pa.array(getattr(recording, measure)[:, j], type=pa.float64())
    stored_metadata = replace(recording.metadata, features_kind=None)  # features are not stored
    header = {
        _KEY_FORMAT: FORMAT,
        _KEY_VERSION: str(FORMAT_VERSION),
        _KEY_NAME: recording.name,
        _KEY_MODELS: json.dumps(list(recording.models)),
        _KEY_BENCHMARKS: json.dumps(list(recording.benchmark_names)),
        _KEY_METADATA: stored_metadata.to_json(),
    }
    return pa.table(arrays).replace_schema_metadata(header)


def write_recording(recording: Recording, path: str | os.PathLike[str]) -> Path:
    """Write ``recording`` to ``path`` (parquet, zstd) atomically; returns the path.

    A failure mid-write leaves any previous file at ``path`` untouched (see :mod:`messenv.atomic`).
    """
    import pyarrow.parquet as pq

    target = Path(path)
    table = recording_to_table(recording)
    with atomic_path(target) as temp:
        pq.write_table(table, temp, compression="zstd")
    return target


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of a file's bytes (a converted recording's own hash, beside its source's)."""
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _header(path: Path, schema: pa.Schema) -> dict[str, Any]:
    """Check the schema metadata is a readable messenv recording header and decode it."""
    raw = {k.decode(): v.decode() for k, v in (schema.metadata or {}).items()}
    if raw.get(_KEY_FORMAT) != FORMAT:
        raise RecordingError(f"{path}: not a messenv recording (parquet schema metadata has no {_KEY_FORMAT}={FORMAT!r})")
    version = raw.get(_KEY_VERSION, "")
    if version != str(FORMAT_VERSION):
        raise RecordingError(
            f"{path}: messenv recording format version {version!r}; this messenv reads version {FORMAT_VERSION} "
            "(re-create the file with `python -m messenv.recordings pull/import`, or upgrade messenv)"
        )
    header: dict[str, Any] = {}
    for key in (_KEY_NAME, _KEY_MODELS, _KEY_BENCHMARKS, _KEY_METADATA):
        if key not in raw:
            raise RecordingError(f"{path}: schema metadata field {key!r} is missing")
    header["name"] = raw[_KEY_NAME]
    try:
        header["models"] = tuple(json.loads(raw[_KEY_MODELS]))
        header["benchmarks"] = list(json.loads(raw[_KEY_BENCHMARKS]))
        header["metadata"] = RecordingMetadata.from_json(raw[_KEY_METADATA])
    except (ValueError, TypeError) as error:
        raise RecordingError(f"{path}: schema metadata is malformed ({error})") from error
    if not header["models"] or not all(isinstance(m, str) for m in header["models"]):
        raise RecordingError(f"{path}: schema metadata {_KEY_MODELS} must be a list of model labels")
    return header


def _first_null_row(column: pa.ChunkedArray) -> int:
    """The row of the first null in ``column``, for an error that names it."""
    import pyarrow.compute as pc

    return int(pc.index(pc.is_null(column), True).as_py())


def _string_column(path: Path, table: pa.Table, name: str) -> pa.ChunkedArray:
    import pyarrow as pa

    column = table.column(name)
    if pa.types.is_dictionary(column.type):
        column = column.cast(pa.string())
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        raise RecordingError(f"{path}: column {name!r} has type {column.type}, expected string")
    if column.null_count:
        raise RecordingError(f"{path}: column {name!r} is empty (null) at row {_first_null_row(column)}")
    return column


def _float_column(path: Path, table: pa.Table, name: str) -> np.ndarray:
    import pyarrow as pa

    column = table.column(name)
    if not (pa.types.is_floating(column.type) or pa.types.is_integer(column.type)):
        raise RecordingError(f"{path}: column {name!r} has type {column.type}, expected float64")
    if column.null_count:
        raise RecordingError(f"{path}: column {name!r} is empty (null) at row {_first_null_row(column)}")
    return column.to_numpy().astype(np.float64)


def read_recording(path: str | os.PathLike[str]) -> Recording:
    """Read a recording written by :func:`write_recording`.

    Raises:
        RecordingError: naming the file (and the column or field) when the file is missing, is not
            parquet, is not a messenv recording, has another format version, lacks a column,
            holds a column of the wrong type or a value the recording rejects.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    source = Path(path)
    if not source.is_file():
        raise RecordingError(f"{source}: no such recording file")
    try:
        schema = pq.read_schema(source)
    except (pa.ArrowException, OSError) as error:
        raise RecordingError(f"{source}: not a parquet file ({error})") from error
    header = _header(source, schema)
    columns = _columns(header["models"])
    present = set(schema.names)
    for column in columns:
        if column not in present:
            raise RecordingError(f"{source}: column {column!r} is missing (models {list(header['models'])})")
    try:
        table = pq.read_table(source, columns=columns)
    except (pa.ArrowException, OSError) as error:
        raise RecordingError(f"{source}: unreadable parquet data ({error})") from error

    benchmark = _string_column(source, table, "benchmark")
    benchmark_index = pc.index_in(benchmark, value_set=pa.array(header["benchmarks"], type=pa.string()))
    if benchmark_index.null_count:
        row = _first_null_row(benchmark_index)
        raise RecordingError(
            f"{source}: column 'benchmark' row {row} holds {benchmark[row].as_py()!r}, "
            f"not one of {_KEY_BENCHMARKS} {header['benchmarks']}"
        )
    measures = {
        measure: np.column_stack([_float_column(source, table, measure_column(measure, m)) for m in header["models"]])
        for measure in MEASURES
    }
    try:
        return Recording(
            name=header["name"],
            models=header["models"],
            doc_ids=_string_column(source, table, "doc_id").to_numpy(zero_copy_only=False),
            prompts=_string_column(source, table, "prompt").to_numpy(zero_copy_only=False),
            benchmark_names=tuple(header["benchmarks"]),
            benchmark_index=benchmark_index.to_numpy(),
            metadata=header["metadata"],
            **measures,
        )
    except RecordingError as error:
        raise RecordingError(f"{source}: {error}") from error
