"""single_threaded_blas: one BLAS thread inside, the caller's count restored after the outermost block."""

from __future__ import annotations

import pytest

from messenv_agents.blas_threads import single_threaded_blas
from tests.agents.helpers import two_blas_threads


@pytest.fixture
def two_threads():
    with two_blas_threads() as libraries:
        yield libraries


def test_nested_blocks_switch_once_and_restore(two_threads) -> None:
    with single_threaded_blas():
        assert [library.num_threads for library in two_threads] == [1] * len(two_threads)
        with single_threaded_blas():
            assert all(library.num_threads == 1 for library in two_threads)
        # Leaving the inner block keeps the outer block's single thread.
        assert all(library.num_threads == 1 for library in two_threads)
    assert [library.num_threads for library in two_threads] == [2] * len(two_threads)


def test_an_error_inside_restores_the_threads(two_threads) -> None:
    with pytest.raises(RuntimeError, match="boom"), single_threaded_blas():
        raise RuntimeError("boom")
    assert [library.num_threads for library in two_threads] == [2] * len(two_threads)
    with single_threaded_blas():  # and the next block switches again
        assert all(library.num_threads == 1 for library in two_threads)
