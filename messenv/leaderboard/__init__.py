"""The messenv leaderboard: a protocol of tracks, submissions, verified scores and a rendered board.

``python -m messenv.leaderboard evaluate|verify|build`` (see :mod:`messenv.leaderboard.__main__`);
the files live in ``leaderboard/`` (protocol.yaml, submissions/<name>/, README.md, index.html).

The names below are imported on first use (PEP 562), so that the agent's worker process
(:mod:`messenv.leaderboard.worker`) starts without loading the evaluator, the board or matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "HARNESS_VERSION": "evaluate", "evaluate_submission": "evaluate", "open_tracks": "evaluate",
    "Board": "board", "collect_board": "board",
    "Protocol": "protocol", "RunKey": "protocol", "Track": "protocol", "load_protocol": "protocol",
    "Results": "records", "RunRecord": "records", "read_results": "records",
    "write_board": "render", "LeaderboardError": "schema",
    "LoadedSubmission": "submission", "load_submission": "submission",
    "Verdict": "verify", "verify_submission": "verify",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
