r"""scikit-learn's word-hashing features, bit for bit, computed a chunk of prompts at a time.

The ``"hashed-ngram"`` prompt features (see :mod:`messenv.recordings.features`) are scikit-learn's
``HashingVectorizer`` over lower-cased words: the signed hashing trick of Weinberger et al.,
"Feature hashing for large scale multitask learning" (ICML 2009), with MurmurHash3_x86_32
(seed 0), rows L2-normalised, float32. ``HashingVectorizer.transform`` lower-cases, tokenises and
hashes each prompt in a Python generator, about 8 µs a prompt, which made the features most of the
first ``gym.make`` on a large recording. :func:`hashed_words` gives the same numbers, bit for bit,
with pyarrow and numpy working on a whole chunk at once:

1. **Words.** In a prompt that is all ASCII, ``str.lower`` only maps ``A-Z`` to ``a-z`` and the
   pattern ``(?u)\b\w+\b`` finds the maximal runs of ``[A-Za-z0-9_]``. So one ``bytes.translate``
   over the chunk's UTF-8 bytes lower-cases them and turns every other byte into a space, and
   pyarrow's ``split_pattern`` cuts at the spaces (empty pieces dropped): each prompt's words, in
   order. (pyarrow's RE2 ``split_pattern_regex`` on ``[^a-z0-9_]+`` gives the same words 7x slower.)
2. **Hashes.** pyarrow's ``dictionary_encode`` lists each distinct word of the chunk once, and
   scikit-learn's own ``murmurhash3_32(word, seed=0)`` hashes it, as ``FeatureHasher`` does
   (``sklearn/feature_extraction/_hashing_fast.pyx``): column ``abs(h) % dim`` (``abs(-2**31)``
   taken as ``2**31``, which is what its special case for that value computes), sign ``-1`` when
   ``h < 0``.
3. **Counts and norms.** The signed counts are summed in float32 (``np.add.at``; ``FeatureHasher``
   sums duplicates in its float32 sparse matrix); each row's squared norm is the float64 sum of
   float32 squares (a float32 dot product when no row has over 4096 words, exact there), and each
   count is divided by its square root in float64 and rounded to float32, rows of norm 0 left as
   they are (``_inplace_csr_row_normalize_l2`` in ``sklearn/utils/sparsefuncs_fast.pyx``, which
   ``normalize`` calls).

Every count is an integer of magnitude at most 2**24 and every squared norm an integer below 2**53,
exact in their float types, so no summation order matters and the result is identical. Prompts for
which that is not guaranteed go through ``HashingVectorizer`` itself and replace their rows: any
prompt with a non-ASCII character (Python's Unicode lower-casing and ``\w`` are not pyarrow's:
``'İ'.lower()`` is two code points, ``'Σ'`` lower-cases by context, and the Unicode versions
differ), and any prompt of 2**25 bytes or more (where a count could pass 2**24). That is 102 of the
13,252 prompts of the MESS+ Llama-3 recording. (A chunk holding a lone surrogate, which a Python
str can and UTF-8 cannot, goes through it whole.) ``tests/recordings/test_hashed_words.py`` compares
the two on adversarial text with hypothesis, and ``tests/recordings/test_features.py`` on every
prompt of both real recordings.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from sklearn.feature_extraction.text import HashingVectorizer

__all__ = ["TOKEN_PATTERN", "hashed_words", "hashing_vectorizer"]

TOKEN_PATTERN = r"(?u)\b\w+\b"  # every word, one-letter words included
# A prompt this long could put more than 2**24 words in one column, past float32's exact integers.
_FAST_MAX_BYTES = 2**25
# Rows of at most this many words have squared norms of at most 2**24 (4096**2): exact in float32.
_EXACT_SQUARES_WORDS = 4096


def _ascii_word_table() -> bytes:
    """``bytes.translate`` table: ``A-Z`` to ``a-z``, ``a-z0-9_`` kept, every other byte to a space."""
    word = string.ascii_letters + string.digits + "_"
    return bytes(ord(chr(byte).lower()) if chr(byte) in word else ord(" ") for byte in range(256))


_ASCII_WORDS = _ascii_word_table()


def hashing_vectorizer(dim: int) -> HashingVectorizer:
    """scikit-learn's hashing trick over lower-cased words, rows L2-normalised: what
    :func:`hashed_words` reproduces, and what it falls back to for the prompts it cannot.

    Words only, not the character 3-5-grams and words of earlier versions: scikit-learn builds
    n-grams in Python, about 300 strings per 100-character prompt for characters, which made the
    features of the 13k-prompt default recording cost 1.07 s; word uni+bigrams cost 0.30 s and
    words alone 0.10 s, against 0.03-0.07 s to read the recording from parquet (2 loaded cores).
    The hash is MurmurHash3 with a fixed seed, so features do not depend on Python's per-process
    string hash salt. Imported here, when features are computed: importing scikit-learn costs
    about 1.3 s and 150 MB of RSS, which a run on cached features never needs.
    """
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        analyzer="word",
        token_pattern=TOKEN_PATTERN,
        ngram_range=(1, 1),
        n_features=dim,
        alternate_sign=True,
        norm="l2",
        dtype=np.float32,
    )


def _word_pieces(prompts: pa.LargeStringArray) -> tuple[np.ndarray, pa.LargeStringArray]:
    """The words of every prompt read as ASCII (see the module docstring, step 1): the row of each
    word, and the words, in order."""
    offsets = np.frombuffer(prompts.buffers()[1], dtype=np.int64)[prompts.offset : prompts.offset + len(prompts) + 1]
    data = prompts.buffers()[2]
    raw = data[offsets[0] : offsets[-1]].to_pybytes() if data is not None else b""
    spaced = pa.LargeStringArray.from_buffers(
        len(prompts), pa.py_buffer(offsets - offsets[0]), pa.py_buffer(raw.translate(_ASCII_WORDS))
    )
    pieces = pc.split_pattern(spaced, pattern=" ")
    rows = pc.list_parent_indices(pieces).to_numpy()
    words = pc.list_flatten(pieces)
    nonempty = pc.greater(pc.binary_length(words), 0)
    return rows[nonempty.to_numpy(zero_copy_only=False)], words.filter(nonempty)


def _columns_and_signs(words: pa.LargeStringArray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Column and sign (float32 ±1) of each word, hashing each distinct word once (step 2)."""
    from sklearn.utils import murmurhash3_32

    encoded = pc.dictionary_encode(words)
    distinct = encoded.dictionary.to_pylist()
    hashes = np.fromiter((murmurhash3_32(w, seed=0) for w in distinct), dtype=np.int64, count=len(distinct))
    codes = encoded.indices.to_numpy()
    signs = np.where(hashes < 0, np.float32(-1.0), np.float32(1.0))
    return (np.abs(hashes) % dim)[codes], signs[codes]


def _normalise_rows(counts: np.ndarray, rows: np.ndarray, cells: np.ndarray) -> None:
    """Divide each row of ``counts`` by its L2 norm in place, as scikit-learn does (step 3); ``rows``
    and ``cells`` say where each word's count is, so only those cells are divided."""
    longest = int(np.bincount(rows).max()) if len(rows) else 0
    if longest <= _EXACT_SQUARES_WORDS:
        # Every square, and every partial sum of squares, is an integer of at most 2**24 (the sum of
        # |counts| is at most the word count), exact in float32: a float32 dot product gives the
        # float64 sum of float32 squares without an N x dim temporary.
        squared_norms = np.einsum("ij,ij->i", counts, counts).astype(np.float64)
    else:
        squared_norms = np.sum(np.square(counts), axis=1, dtype=np.float64)
    norms = np.where(squared_norms > 0, np.sqrt(squared_norms), 1.0)
    flat = counts.reshape(-1)
    flat[cells] = flat[cells] / norms[rows]


def hashed_words(prompts: Sequence[str], dim: int) -> np.ndarray:
    """``hashing_vectorizer(dim).transform(prompts).toarray()``, the same float32 bits, faster.

    Shape ``[len(prompts), dim]``; an empty prompt gives a zero row. Meant for chunks of some
    thousands of prompts: the result is dense.

    Raises:
        ValueError: if ``dim`` < 1.
        TypeError: if a prompt is not a str.
    """
    if dim < 1:
        raise ValueError(f"hashed_words: dim must be >= 1, got {dim}")
    try:
        text = pa.array(prompts, type=pa.large_string(), from_pandas=False)
    except UnicodeEncodeError:  # a lone surrogate: not UTF-8, but not a word character either
        return hashing_vectorizer(dim).transform(prompts).toarray()
    except (pa.ArrowTypeError, pa.ArrowInvalid) as error:
        raise TypeError(f"hashed_words: prompts must be str ({error})") from None
    if text.null_count:
        row = int(np.flatnonzero(text.is_null().to_numpy(zero_copy_only=False))[0])
        raise TypeError(f"hashed_words: prompt {row} is None, not text")
    rows, words = _word_pieces(text)
    columns, signs = _columns_and_signs(words, dim)
    cells = rows * dim + columns
    out = np.zeros((len(text), dim), dtype=np.float32)
    np.add.at(out.reshape(-1), cells, signs)
    _normalise_rows(out, rows, cells)
    slow = ~pc.string_is_ascii(text).to_numpy(zero_copy_only=False)
    slow |= pc.binary_length(text).to_numpy() >= _FAST_MAX_BYTES
    if slow.any():
        out[slow] = hashing_vectorizer(dim).transform([prompts[i] for i in np.flatnonzero(slow)]).toarray()
    return out
