"""messenv.grid: what a worker loads, and that it shares the features file instead of copying it."""

from __future__ import annotations

import numpy as np

from messenv.grid import RecordingSource, load_source
from messenv.recordings.features import features_cache_path


def test_a_worker_reads_the_features_memory_mapped_from_the_shared_cache() -> None:
    source = RecordingSource.here("synthetic-llama3", "hashed")
    load_source.cache_clear()
    recording = load_source(source)
    assert load_source(source) is recording, "a worker loads its recording once"
    mapped = recording.features.base
    assert isinstance(mapped, np.memmap) and not recording.features.flags.writeable
    assert str(mapped.filename) == str(features_cache_path(recording, "hashed-ngram"))
    load_source.cache_clear()
