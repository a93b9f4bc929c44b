"""messenv.leaderboard.sandbox: the bubblewrap command line's limits on what a worker sees and fills."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from messenv.leaderboard import sandbox
from messenv.leaderboard.sandbox import (
    SUBMISSION_MOUNT,
    TMPFS_BYTES,
    WRITABLE,
    bwrap_path,
    entering,
    memory_cgroup,
    pids_cgroup,
    remove_cgroup,
    sandbox_memory_bytes,
    worker_command,
)
from messenv.leaderboard.worker import FOLDER_TIME_NS, reset_folder

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


@needs_bwrap
def test_no_user_namespace_can_be_made_inside(tmp_path: Path) -> None:
    """A new user namespace gave a worker every capability (a mount of its own): kernel attack surface."""
    command, _ = worker_command(tmp_path, 3)
    assert {"--unshare-user", "--disable-userns"} <= set(command)


def test_a_folder_loses_its_extended_attributes_and_times_between_runs(tmp_path: Path) -> None:
    """The writable folders outlive runs: a user xattr carried a lookup table from run to run, and
    their times 64 bits each."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    try:
        os.setxattr(folder, "user.table", b"carried")
    except OSError:
        pytest.skip("this file system has no user extended attributes")
    os.utime(folder, ns=(1234567890123456789, 1234567890123456789))
    reset_folder(str(folder))
    assert os.listxattr(folder) == []
    assert (folder.stat().st_atime_ns, folder.stat().st_mtime_ns) == (FOLDER_TIME_NS, FOLDER_TIME_NS)


def test_as_root_the_sandbox_starts_in_a_pids_cgroup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """RLIMIT_NPROC does not bind root: the cgroup counts every task of the sandbox instead."""
    cgroup = pids_cgroup(limit=7)
    if cgroup is None:
        pytest.skip("needs root and a pids cgroup controller")
    try:
        assert (cgroup / "pids.max").read_text(encoding="ascii").strip() == "7"
        command, _ = worker_command(tmp_path, 3, [cgroup])
        assert command[:5] == entering([cgroup]) and command[4] == str(cgroup / "cgroup.procs")
        monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)  # unsandboxed, the cgroup still applies
        assert worker_command(tmp_path, 3, [cgroup])[0][:5] == command[:5]
    finally:
        remove_cgroup(cgroup)
    assert not cgroup.exists()


@pytest.mark.parametrize(("version", "refused"), [("bubblewrap 0.8.0", True), ("bubblewrap 0.6.1", False)])
def test_disable_userns_is_asked_of_a_bubblewrap_that_has_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str, refused: bool
) -> None:
    """bubblewrap before 0.8.0 has no --disable-userns and would not start at all with it."""
    fake = tmp_path / "bwrap"
    fake.write_text(f"#!/bin/sh\necho '{version}'\n")
    fake.chmod(0o755)
    monkeypatch.setattr(sandbox, "bwrap_path", lambda: str(fake))
    command, _ = worker_command(tmp_path, 3)
    assert ("--disable-userns" in command) is refused


def test_a_sandbox_memory_cgroup_stops_a_flood_of_empty_files(tmp_path: Path) -> None:
    """RLIMIT_AS and the tmpfs sizes leave kernel memory out: empty files on a tmpfs cost ~1 KB of
    slab each (attack3: 1.8 million files, 2.3 GB). A process that entered the sandbox's memory
    cgroup (64 MiB here) is stopped long before a million."""
    cgroup = memory_cgroup(64 << 20)
    if cgroup is None:
        pytest.skip("needs a writable cgroup v1 memory controller")
    flood = Path("/dev/shm") / f"messenv-test-{os.getpid()}"
    script = (
        "import os, sys\n"
        f"os.mkdir({str(flood)!r})\n"
        "made = 0\n"
        "try:\n"
        "    while made < 1_000_000:\n"
        f"        open(os.path.join({str(flood)!r}, str(made)), 'w').close()\n"
        "        made += 1\n"
        "finally:\n"
        "    print(made, flush=True)\n"
    )
    try:
        done = subprocess.run([*entering([cgroup]), sys.executable, "-c", script], capture_output=True, text=True)
        peak = int((cgroup / "memory.max_usage_in_bytes").read_text(encoding="ascii"))
    finally:
        shutil.rmtree(flood, ignore_errors=True)
        remove_cgroup(cgroup)
    made = int(done.stdout.split()[-1]) if done.stdout.split() else 0
    assert made < 1_000_000 and peak <= 64 << 20, (made, peak, done.returncode, done.stderr[-300:])
    assert sandbox_memory_bytes(4096) == (4096 + 512) * 2**20 + 3 * 256 * 2**20
