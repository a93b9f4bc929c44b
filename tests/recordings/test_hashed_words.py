"""Tests for messenv.recordings.hashed_words: the same float32 bits as scikit-learn's HashingVectorizer."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from messenv.recordings import hashed_words as module
from messenv.recordings.hashed_words import hashed_words, hashing_vectorizer
from messenv.recordings.synthetic import make_synthetic_zoo

# Text where Python's and pyarrow's notions of case and of a word character could part ways.
ADVERSARIAL = [
    "",
    "?!... -- ;",
    "__init__ _ a_b __",
    "123 4a5 0x1F 3.14",
    "Ça été naïve CAFÉ",
    "e\u0301cole cafe\u0301",  # combining acute accent: a mark, not a word character
    "İstanbul İİ",  # 'İ'.lower() is 'i' + combining dot
    "STRASSE ß ẞ",
    "ΟΔΥΣΣΕΥΣ ΣΑΣ σς Σ.",  # final sigma lower-cases by context
    "ǅemal ǈ",  # titlecase digraphs
    "ıI Kelvin \u212a",  # dotless i; KELVIN SIGN lower-cases to ASCII 'k'
    "ﬁne ﬂow",  # ligatures
    "１２３ x² ½ ①",  # full-width digits, superscript, fractions, circled digit
    "漢字かな カタカナ",
    "हिन्दी",  # Devanagari with combining vowel signs
    "a\u200db\u200cc",  # zero-width joiner and non-joiner
    "\x00a\tb\nc\x7fd\x1fe",
    "ABC def GhI",
    # Counts 4097 and 3: 4097**2 is not a float32, and scikit-learn squares in float32 and sums in
    # float64; here squaring in float64, or summing in float32, would change the normalised values.
    "a " * 4097 + "b b b",
    "word " * 300 + "other words here",
]
ALPHABET = st.sampled_from([*"aAzZ09_ \t\n.,'-", *"éÉßİıΣσςǅﬁ²½①\u0301\u200d漢", "\x00", "\u212a"])


def _same_bits(fast: np.ndarray, reference: np.ndarray) -> bool:
    same_layout = fast.shape == reference.shape and fast.dtype == reference.dtype == np.float32
    return same_layout and fast.tobytes() == reference.tobytes()


def _reference(prompts: list[str], dim: int) -> np.ndarray:
    return hashing_vectorizer(dim).transform(prompts).toarray()


@pytest.mark.parametrize("dim", [1, 2, 7, 256])
def test_adversarial_prompts_give_hashing_vectorizer_bits(dim: int) -> None:
    assert _same_bits(hashed_words(ADVERSARIAL, dim), _reference(ADVERSARIAL, dim))


def test_each_adversarial_prompt_alone_gives_hashing_vectorizer_bits() -> None:
    for prompt in ADVERSARIAL:
        assert _same_bits(hashed_words([prompt], 256), _reference([prompt], 256)), repr(prompt[:40])


@settings(max_examples=150, deadline=None)
@given(prompts=st.lists(st.text(ALPHABET, max_size=40), min_size=1, max_size=12), dim=st.integers(1, 300))
def test_mixed_prompts_give_hashing_vectorizer_bits(prompts: list[str], dim: int) -> None:
    assert _same_bits(hashed_words(prompts, dim), _reference(prompts, dim))


@settings(max_examples=100, deadline=None)
@given(prompts=st.lists(st.text(max_size=30), min_size=1, max_size=8))
def test_any_unicode_text_gives_hashing_vectorizer_bits(prompts: list[str]) -> None:
    assert _same_bits(hashed_words(prompts, 256), _reference(prompts, 256))


@settings(max_examples=100, deadline=None)
@given(prompts=st.lists(st.text(st.characters(max_codepoint=127), max_size=60), min_size=1, max_size=8))
def test_ascii_prompts_never_fall_back_to_scikit_learn(prompts: list[str]) -> None:
    """All-ASCII prompts are computed by the fast path alone, so the comparison above tests it."""
    reference = _reference(prompts, 256)

    def no_fallback(dim: int) -> None:
        raise AssertionError("an ASCII prompt took the HashingVectorizer fallback")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "hashing_vectorizer", no_fallback)
        assert _same_bits(hashed_words(prompts, 256), reference)


def test_long_prompts_fall_back_and_stay_identical(monkeypatch: pytest.MonkeyPatch) -> None:
    """Prompts past the float32-exact size go through HashingVectorizer, only they."""
    prompts = ["short one", "a much longer prompt " * 3, "tiny"]
    reference = _reference(prompts, 16)
    fallen_back: list[list[str]] = []
    real = module.hashing_vectorizer

    class Spy:
        def __init__(self, dim: int) -> None:
            self.vectorizer = real(dim)

        def transform(self, texts: list[str]) -> object:
            fallen_back.append(list(texts))
            return self.vectorizer.transform(texts)

    monkeypatch.setattr(module, "_FAST_MAX_BYTES", 20)
    monkeypatch.setattr(module, "hashing_vectorizer", Spy)
    assert _same_bits(hashed_words(prompts, 16), reference)
    assert fallen_back == [[prompts[1]]]


@pytest.mark.parametrize("seed", [0, 1])
def test_synthetic_zoo_prompts_give_hashing_vectorizer_bits(seed: int) -> None:
    prompts = list(make_synthetic_zoo(seed=seed, n_per_benchmark=300).prompts)
    assert _same_bits(hashed_words(prompts, 256), _reference(prompts, 256))


def test_numpy_object_array_and_empty_input() -> None:
    prompts = np.asarray(["Alpha beta", "", "GAMMA"], dtype=object)
    assert _same_bits(hashed_words(prompts, 8), _reference(list(prompts), 8))
    assert hashed_words([], 8).shape == (0, 8)


def test_a_lone_surrogate_is_no_word_and_no_error() -> None:
    """Python str can hold what UTF-8 cannot; HashingVectorizer skips it as a non-word, and so must we."""
    prompts = ["ok \ud800 x", "plain text"]
    assert _same_bits(hashed_words(prompts, 16), _reference(prompts, 16))


def test_bad_input_is_rejected_clearly() -> None:
    with pytest.raises(TypeError, match="prompt 1 is None"):
        hashed_words(["ok", None], 8)  # type: ignore[list-item]
    with pytest.raises(TypeError, match="must be str"):
        hashed_words(["ok", 3], 8)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="dim must be >= 1"):
        hashed_words(["ok"], 0)
