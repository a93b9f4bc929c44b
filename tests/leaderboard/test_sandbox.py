"""messenv.leaderboard.sandbox: the bubblewrap command line's limits on what a worker sees and fills."""

from __future__ import annotations

from pathlib import Path

import pytest

from messenv.leaderboard.sandbox import SUBMISSION_MOUNT, TMPFS_BYTES, WRITABLE, bwrap_path, worker_command

needs_bwrap = pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap (bwrap) is not installed; CI installs it")


@needs_bwrap
def test_every_writable_tmpfs_has_a_size_and_earlier_results_are_hidden(tmp_path: Path) -> None:
    """A tmpfs's pages are memory RLIMIT_AS does not count; an earlier results.json holds a private
    track's oracle figures."""
    command, _ = worker_command(tmp_path, 3)
    for folder in WRITABLE:
        at = command.index(folder)
        assert command[at - 3 : at] == ["--size", str(TMPFS_BYTES), "--tmpfs"]
    assert f"{SUBMISSION_MOUNT}/results.json" not in command
    (tmp_path / "results.json").write_text("{}", encoding="utf-8")
    command, _ = worker_command(tmp_path, 3)
    at = command.index(f"{SUBMISSION_MOUNT}/results.json")
    assert command[at - 2 : at] == ["--ro-bind", "/dev/null"]
