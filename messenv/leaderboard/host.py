"""The evaluator's handle on a submission's sandbox: the worker host that forks one worker per run.

Starting an interpreter and importing numpy and messenv takes most of a second, many times the
length of a short run, so each submission gets one sandbox whose host process (a zygote, see
:mod:`messenv.leaderboard.worker`) has imported them once; a run's worker is a fork of that
pristine host, started in milliseconds. The host only ever runs trusted code (it imports none of
the submission's) and answers two requests on a Unix socket: ``spawn`` (with the run's two pipe
ends attached) and ``end`` (kill and reap the run's worker, reply its exit status).

The host is not trusted blindly either: each request has a deadline and each reply is validated;
a host that dies (a worker may signal it: same uid), stalls or replies nonsense is killed with
its whole sandbox and started afresh for the next run.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from messenv.leaderboard.sandbox import (
    memory_cgroup, pids_cgroup, remove_cgroup, sandbox_memory_bytes, worker_command,
)
from messenv.leaderboard.schema import LeaderboardError

START_S = 120.0
"""The host imports numpy, messenv and the reference agents: slow on a loaded machine, but bounded."""
REPLY_S = 10.0
REPLY_BYTES = 256
LOG_TAIL = 300


@contextmanager
def sharing_one_cpu() -> Iterator[int | None]:
    """Pin the calling thread to the CPU it runs on, for the block; yields that CPU (``None`` if pinning failed).

    The evaluator and an agent's worker take turns (one waits while the other computes), so they
    lose nothing by sharing one CPU, and gain much: a wake-up on the same CPU costs no
    inter-processor interrupt, which on a busy or virtual machine made every step several
    times slower (benchmarks/test_leaderboard_speed.py). The worker host pins itself to the
    same CPU once it has imported numpy, so BLAS keeps the thread count it chose at import.
    """
    try:
        allowed = os.sched_getaffinity(0)
        stat = Path("/proc/self/stat").read_text()
        current = int(stat.rpartition(")")[2].split()[36])
        cpu = current if current in allowed else min(allowed)
        os.sched_setaffinity(0, {cpu})
    except (OSError, ValueError, IndexError, AttributeError):
        yield None
        return
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, allowed)


class HostError(Exception):
    """The host died, stalled or replied something malformed."""


class WorkerHost:
    """One sandbox for ``directory``'s runs (see the module docstring); a context manager. ``cpu``:
    the CPU its workers run on (see :func:`sharing_one_cpu`), or any; ``memory_mb``: its workers'
    address space, from which the sandbox's memory cgroup is sized (none when ``None``)."""

    def __init__(self, directory: Path, cpu: int | None = None, memory_mb: int | None = None) -> None:
        self.directory = directory
        self.cpu = cpu
        self.memory_mb = memory_mb
        self._process: subprocess.Popen | None = None
        self._control: socket.socket | None = None
        self._cgroups: list[Path] = []
        self._log = tempfile.TemporaryFile()
        self._cwd = tempfile.TemporaryDirectory(prefix="messenv-worker-")

    def __enter__(self) -> WorkerHost:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        memory = None if self.memory_mb is None else memory_cgroup(sandbox_memory_bytes(self.memory_mb))
        self._cgroups = [cgroup for cgroup in (pids_cgroup(), memory) if cgroup is not None]
        command, environment = worker_command(self.directory, theirs.fileno(), self._cgroups)
        command += [] if self.cpu is None else ["--cpu", str(self.cpu)]
        # The sandbox's host writes its output through a write-only, append-only descriptor of the
        # log (the workers it forks write theirs to /dev/null: worker.silence_output).
        log = os.open(f"/proc/self/fd/{self._log.fileno()}", os.O_WRONLY | os.O_APPEND)
        try:
            self._process = subprocess.Popen(
                command, env=environment, cwd=self._cwd.name, stdin=subprocess.DEVNULL, stdout=log,
                stderr=log, pass_fds=(theirs.fileno(),), start_new_session=True,
            )
        finally:
            theirs.close()
            os.close(log)
        self._control = ours
        if self._reply(time.monotonic() + START_S) != {"ready": True}:
            raise HostError("the worker host did not say it was ready")

    def _reply(self, deadline: float) -> dict:
        """The host's next reply, a JSON object; :class:`HostError` if none comes in time or it is not one."""
        assert self._control is not None
        self._control.settimeout(max(deadline - time.monotonic(), 0.001))
        try:
            data = self._control.recv(REPLY_BYTES)
        except OSError as error:  # TimeoutError included
            raise HostError(f"no reply from the worker host ({error or 'timed out'})") from None
        if not data:
            raise HostError("the worker host closed its socket")
        try:
            reply = json.loads(data)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            raise HostError("the worker host replied malformed data")
        return reply

    def _request(self, op: str, fds: tuple[int, ...] = ()) -> None:
        assert self._control is not None
        try:
            socket.send_fds(self._control, [json.dumps({"op": op}).encode()], list(fds))
        except OSError as error:
            raise HostError(f"the worker host is gone ({error})") from None

    def spawn(self, to_read: int, from_write: int) -> None:
        """Have the host fork a fresh worker on the two pipe ends (restarting a broken host once).

        Raises:
            LeaderboardError: the sandbox cannot be started (bubblewrap or the environment is broken).
        """
        for attempt in (1, 2):
            try:
                if self._process is None:
                    self._start()
                self._request("spawn", (to_read, from_write))
                if self._reply(time.monotonic() + REPLY_S) != {"spawned": True}:
                    raise HostError("the worker host did not fork a worker")
                return
            except HostError as error:
                self.shutdown()
                if attempt == 2:
                    raise LeaderboardError(f"{self.directory}: the agent sandbox does not start: {error}; "
                                           f"its last output: {self.log_tail()!r}") from None

    def end(self) -> int | None:
        """Kill and reap the run's worker; its exit status (negative: killed by that signal), or
        ``None`` when unknown (the host was broken, and has been killed with everything in it)."""
        if self._process is None:
            return None
        try:
            self._request("end")
            reply = self._reply(time.monotonic() + REPLY_S)
            status = reply.get("status")
            if set(reply) != {"status"} or not (status is None or type(status) is int):
                raise HostError("the worker host replied malformed data")
            return status
        except HostError:
            self.shutdown()
            return None

    def log_tail(self) -> str:
        """The last line the sandbox printed (diagnostics only)."""
        self._log.seek(0, os.SEEK_END)
        self._log.seek(max(0, self._log.tell() - LOG_TAIL))
        lines = self._log.read().decode("utf-8", "replace").strip().splitlines()
        return lines[-1][:200] if lines else ""

    def shutdown(self) -> None:
        """Kill the host's process group: with bubblewrap, that ends the sandbox and every process in it."""
        if self._process is not None:
            try:
                os.killpg(self._process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._process.wait()
            self._process = None
        for cgroup in self._cgroups:
            remove_cgroup(cgroup)
        self._cgroups = []
        if self._control is not None:
            self._control.close()
            self._control = None

    def close(self) -> None:
        """Shut the sandbox down and remove its files."""
        self.shutdown()
        self._log.close()
        self._cwd.cleanup()
