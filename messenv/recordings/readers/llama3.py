"""Read the published MESS+ Llama-3 recording: a tarball of per-batch simulator CSVs.

Layout: ``inference_outputs/<benchmark>/inference_data_{batch_<k>|final}_<YYYYMMDD_HHMMSS>.csv``,
154 CSVs in 9 benchmark folders. Some batches were run more than once (arc_easy batches 1-5 twice,
every logiqa batch three times): the repeats agree on prompt and correctness but carry their own
energy and latency measurements. Members are read in the order they were recorded (benchmark, then
timestamp) and the first measurement of each (benchmark_name, doc_id) is kept, which leaves about
13,250 unique prompts. The members are read straight from the archive, nothing is extracted.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tarfile
import zlib
from dataclasses import replace
from pathlib import Path

from messenv.recordings.errors import RecordingError
from messenv.recordings.readers.mess_csv import read_csv_frame
from messenv.recordings.readers.mess_frame import read_mess_frames
from messenv.recordings.recording import Recording, RecordingMetadata

__all__ = ["LLAMA3_SHA256", "LLAMA3_URL", "read_llama3_tarball"]

LLAMA3_URL = (
    "https://github.com/ryanzhangofficial/RouterDC/raw/cfeceebe2a3786614ca150530cc2e5c07974eecf/"
    "data/inference_outputs.tar.gz"
)
LLAMA3_SHA256 = "dc35f2eef5733e015272a939e28e30e7b01d291f77183c29f7ad387f46583e82"
LLAMA3_MODEL_IDS = {
    "small": "meta-llama/Llama-3.2-1B-Instruct",
    "medium": "meta-llama/Llama-3.1-8B-Instruct",
    "large": "meta-llama/Llama-3.3-70B-Instruct",
}
_MEMBER = re.compile(r"^inference_outputs/(?P<benchmark>[^/]+)/inference_data_\w*?_(?P<stamp>\d{8}_\d{6})\.csv$")


def read_llama3_tarball(path: str | os.PathLike[str]) -> Recording:
    """Read ``inference_outputs.tar.gz`` into the ``messplus-llama3`` recording.

    ``metadata.source_sha256`` is the sha256 of the file read; ``metadata.extra`` says whether it
    matches the published file. Only the published file is given the Llama-3 zoo's provenance (URL,
    model ids, Zeus-measured energy): a tarball of one's own in this layout claims none.

    Raises:
        RecordingError: for a file that is not a gzip tarball, an unexpected member name, or a bad
            member (the message names ``<tarball>:<member path>``, data row and column).
    """
    path = Path(path)
    data = path.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    blobs = _csv_members(data, path)
    parts = []
    for member in sorted(blobs, key=lambda member: _recorded_order(member, path)):
        source = f"{path.name}:{member}"
        parts.append((source, read_csv_frame(blobs[member], source)))
    if not parts:
        raise RecordingError(f"{path}: no CSV members under inference_outputs/<benchmark>/")
    published = sha256 == LLAMA3_SHA256
    metadata = RecordingMetadata(
        source_sha256=sha256, extra={"sha256_matches_source": published, "members": len(parts)}
    )
    if published:  # a zoo of one's own in this layout is not the Llama-3 zoo: claim nothing of it
        metadata = replace(
            metadata,
            source_url=LLAMA3_URL,
            zoo="MESS+ Llama-3 zoo: Llama-3.2-1B-Instruct, Llama-3.1-8B-Instruct, Llama-3.3-70B-Instruct",
            model_ids=dict(LLAMA3_MODEL_IDS),
            energy_source="zeus (measured)",
            extra={
                **metadata.extra,
                "repeats": "batches run more than once: the first measurement of a (benchmark, doc_id) is kept",
            },
        )
    return read_mess_frames(parts, "messplus-llama3", metadata=metadata, remeasured="first")


def _recorded_order(member: str, path: Path) -> tuple[str, str, str]:
    match = _MEMBER.match(member)
    if match is None:
        raise RecordingError(
            f"{path.name}:{member}: unexpected member; expected "
            "inference_outputs/<benchmark>/inference_data_batch_<k>_<YYYYMMDD_HHMMSS>.csv"
        )
    return match["benchmark"], match["stamp"], member


def _csv_members(data: bytes, path: Path) -> dict[str, bytes]:
    """The bytes of every ``.csv`` member, read in one streaming pass over the gzip.

    Streaming matters: random access (``getmembers`` then ``extractfile``) makes gzip seek back
    and decompress the archive again for each member, which is several times slower.
    """
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r|gz") as archive:
            return {
                member.name: archive.extractfile(member).read()  # type: ignore[union-attr]
                for member in archive
                if member.isfile() and member.name.endswith(".csv")
            }
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise RecordingError(f"{path}: not a readable .tar.gz archive: {error}") from None
