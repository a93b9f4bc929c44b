"""One BLAS thread for a block of small linear algebra: :data:`single_threaded_blas`.

Why: an agent's per-request products are small (a 257×257 rank-one update, a 16×256 by 256×256
mini-batch product), and OpenBLAS wakes its second thread for each of them. On a busy 2-core
machine that made a 4,000-request MESS+ episode cost 79 µs per request against 29 µs with one
thread, and LinUCB's rank-one update of a 257×257 inverse 3.5 ms on average against 17-26 µs.

Setting the thread count is not free either: in the main job each switch to one thread and back
cost LinUCB about 11 µs of CPU per request (0.15 s of an episode; measured 2026-11-30), far more
than the C calls themselves (0.5 µs when timed alone). So the block is re-entrant and only the
outermost one switches: :func:`messenv.harness.run_episode` holds one block for a whole episode,
and the agents' own blocks inside it (kept, for an agent driven by other code) cost a counter.
The thread count changes no result here: the main job's eight episodes (seed 0) have the same
per-step arrays, byte for byte, whether the whole episode runs with one BLAS thread or two.
"""

from __future__ import annotations

from functools import cache
from types import TracebackType


@cache
def blas_libraries() -> tuple:
    """threadpoolctl's controllers of the loaded BLAS libraries (numpy's and scipy's OpenBLAS),
    found once (finding them scans the process's libraries); empty without threadpoolctl."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return ()
    return tuple(ThreadpoolController().select(user_api="blas").lib_controllers)


class _SingleThreadedBlas:
    """Context manager: BLAS limited to one thread inside, restored on leaving the outermost block.

    The libraries' own setters are called directly: threadpoolctl's ``limit()`` re-reads every
    library's state on each entry, which cost 30-40 µs per block on the 2-core dev machine. A
    class rather than ``@contextmanager``: a nested block, the usual case, is two method calls.
    Not thread-safe (the thread count is a process-wide setting anyway): one thread plays agents.
    """

    def __init__(self) -> None:
        self.depth = 0
        self.previous: list[int] = []

    def __call__(self) -> _SingleThreadedBlas:
        return self

    def __enter__(self) -> None:
        self.depth += 1
        if self.depth == 1:
            libraries = blas_libraries()
            self.previous = [library.num_threads for library in libraries]
            for library in libraries:
                library.set_num_threads(1)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.depth -= 1
        if self.depth == 0:
            for library, threads in zip(blas_libraries(), self.previous):
                library.set_num_threads(threads)


#: ``with single_threaded_blas(): ...`` runs the block with one BLAS thread (see the module docstring).
single_threaded_blas = _SingleThreadedBlas()
