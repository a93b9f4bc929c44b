"""Read the published MESS+ Qwen2 recording: one ``<benchmark>_qwen.json`` file per benchmark.

Each file is a JSON array of records with the MESS+ simulator columns for the labels xsmall, small,
medium and large, plus a stray, always-empty ``Unnamed: 0`` column (an index pandas wrote; it is
ignored). Numbers are floats, doc_id included, so ``0.0`` is turned into the doc_id ``"0"``.
social_iqa holds every prompt twice, with the same correctness and a second energy/latency
measurement: the first is kept.

The four models shared one GPU while they were measured, so per-request energy is noisy and not
ordered by model size; the zoo is ordered by mean energy (:meth:`Recording.build`).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path

import pandas as pd

from messenv.recordings.errors import RecordingError
from messenv.recordings.readers.mess_frame import read_mess_frames
from messenv.recordings.recording import Recording, RecordingMetadata

__all__ = ["QWEN2_SHA256", "QWEN2_URL", "read_qwen2_json"]

QWEN2_URL = (
    "https://github.com/ryanzhangofficial/RouteLLM/raw/637cfcb1091c21e0ed4c0de0691e97c2fd5649fe/"
    "data/qwen2_narrow_cost_spread/<benchmark>/<benchmark>_qwen.json.backup"
)
QWEN2_SHA256 = {
    "arc_challenge_qwen.json": "be161e15874bc3e4904b8e06c7cf20368fb91a2723cd9444b99455fd17411d7b",
    "arc_easy_qwen.json": "f56873a7cc38fcff2be3570228c3366d0a6ef446b687e0da6f0fa6f5b6e56cd6",
    "boolq_qwen.json": "bf88452f71b5c10f27c697e81154575f50deac19549fcf8410be55b4a3a2e5ea",
    "logiqa_qwen.json": "88eea70dd74ebccb126d942219f5bc37433c722f076256c9eee61ccc8555a9b7",
    "piqa_qwen.json": "86431591394e46d20f7a934eb6530ab6b4b9fd79c17d7fa61ffee13237e398db",
    "sciq_qwen.json": "9df51466f2764e3822f552975748478a6e184c3052fe65825d0ff5d38226c74b",
    "social_iqa_qwen.json": "9ff5c1f67b0161d813abdedb3bea142b774f9abda8a1797e3aaab2b9a7695d29",
    "winogrande_qwen.json": "1606610cdf41c4f782de469b93b160ba442f27ca54b9ab35b5f6a68dbba3a5b8",
}
QWEN2_MODEL_IDS = {
    "xsmall": "Qwen/Qwen2-0.5B-Instruct",
    "small": "Qwen/Qwen2-1.5B-Instruct",
    "medium": "Qwen/Qwen2-7B-Instruct",
    "large": "Qwen/Qwen2.5-32B-Instruct",
}


def read_qwen2_json(path_or_dir: str | os.PathLike[str]) -> Recording:
    """Read the ``messplus-qwen2`` recording from a directory of ``*_qwen.json`` files (or one file).

    ``metadata.source_sha256`` is a JSON object {file name: sha256} of the files read;
    ``metadata.extra`` says whether they match the published files. Only files that do are given
    the Qwen2 zoo's provenance (URL, model ids, Zeus-measured energy): files of one's own in this
    layout (``python -m messenv.recordings import my.json``) claim none.

    Raises:
        RecordingError: for a directory without ``*_qwen.json`` files, a file that is not a JSON
            array of records, or a bad record (the message names the file, data row = 1-based
            record number, and column).
    """
    path = Path(path_or_dir)
    files = sorted(path.glob("*_qwen.json")) if path.is_dir() else [path]
    if not files:
        raise RecordingError(f"{path}: no *_qwen.json files in this directory")
    contents = {file.name: file.read_bytes() for file in files}
    hashes = {name: hashlib.sha256(data).hexdigest() for name, data in contents.items()}
    published = all(QWEN2_SHA256.get(name) == digest for name, digest in hashes.items())
    metadata = RecordingMetadata(source_sha256=json.dumps(hashes, sort_keys=True))
    if published:  # a zoo of one's own in this layout is not the Qwen2 zoo: claim nothing of it
        metadata = replace(
            metadata,
            source_url=QWEN2_URL,
            zoo="MESS+ Qwen2 zoo: Qwen2-0.5B-Instruct, Qwen2-1.5B-Instruct, Qwen2-7B-Instruct (4-bit), "
            "Qwen2.5-32B-Instruct (4-bit), measured sharing one GPU",
            model_ids=dict(QWEN2_MODEL_IDS),
            energy_source="zeus (measured)",
            # (read alone, the other published files hold no repeats)
            extra={"repeats": "social_iqa holds every prompt twice: the first measurement is kept"}
            if "social_iqa_qwen.json" in hashes else {},
        )
    metadata = replace(metadata, extra={**metadata.extra, "sha256_matches_source": published, "files": sorted(hashes)})
    # Errors name each file by the path it was found at, as the CSV reader's do (not its bare name).
    paths = {file.name: str(file) for file in files}
    parts = [(paths[name], _records_frame(data, paths[name])) for name, data in contents.items()]
    return read_mess_frames(parts, "messplus-qwen2", metadata=metadata, remeasured="first")


def _records_frame(data: bytes, source: str) -> pd.DataFrame:
    """A JSON array of flat records as a frame, with integral float doc_ids written as integers."""
    try:
        records = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RecordingError(f"{source}: not valid JSON: {error}") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise RecordingError(f"{source}: expected a JSON array of records (objects)")
    if not records:
        raise RecordingError(f"{source}: empty file (no records)")
    frame = pd.DataFrame.from_records(records)
    if "doc_id" in frame:
        frame["doc_id"] = frame["doc_id"].map(_integral_as_int, na_action="ignore")
    return frame


def _integral_as_int(value: object) -> object:
    """``0.0`` -> ``"0"``: doc ids were written as floats; other values are left to validation."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value
