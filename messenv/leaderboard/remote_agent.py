"""The evaluator's side of a worker: a :class:`RemoteAgent` that forwards the agent protocol down a pipe.

:func:`messenv.harness.run_episode` plays a :class:`RemoteAgent` exactly like an in-process agent;
each call becomes a message to the run's worker (see :mod:`messenv.leaderboard.worker`). What
crosses the pipe is exactly what the agent protocol promises: the :class:`TaskSpec` and seed,
each observation (only the keys the submission asks for), and each step's action, reward and the
public ``info`` fields (:data:`PUBLIC_INFO`).

Time is enforced here, outside the worker's reach: every wait for a reply has a deadline (the
per-step limit, and the run's limit counted from the worker's start); on expiry the worker's
whole process group (with bubblewrap, its whole PID namespace) is killed with ``SIGKILL``. A
worker that exits, is killed, replies out of turn or sends anything malformed or oversized
ends the run as a :class:`RunFailure` with the reason; it can never end the evaluator.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from messenv.leaderboard.sandbox import worker_command
from messenv.leaderboard.seccomp import KILLED_SIGNAL_HINT
from messenv.leaderboard.wire import ReplyReader, WireError, WireTimeout, encode_message, write_before

PUBLIC_INFO = (
    "models", "answer_model", "explored", "feedback", "quality", "cost", "energy_j", "latency_s",
    "running_quality", "sla_gap", "outcomes", "episode_summary",
)
"""The ``info`` keys of :class:`~messenv.env.mess_env.MessEnv` an agent receives; any other key stays home."""
EXIT_GRACE_S = 2.0
STDERR_TAIL = 300


class RunFailure(Exception):
    """The run failed on the agent's side: ``status`` is ``"error"`` or ``"timeout"``, ``reason`` says why."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to build a submission's agent, and the limits it runs under."""

    directory: Path
    target: str
    params: dict[str, Any]
    packages: tuple[str, ...]
    observation_keys: tuple[str, ...]
    run_s: float
    step_s: float
    memory_mb: int

    def init_message(self) -> dict[str, Any]:
        """The worker's ``init`` message (its folder comes on the command line)."""
        return {"target": self.target, "params": self.params, "packages": list(self.packages),
                "memory_mb": self.memory_mb, "cpu_s": self.run_s}


def _signal_name(number: int) -> str:
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    return f"{name}: {KILLED_SIGNAL_HINT}" if number == signal.SIGSYS else name


class RemoteAgent:
    """An agent living in a worker process (see the module docstring); use :func:`start_agent`."""

    def __init__(self, spec: WorkerSpec, process: subprocess.Popen, to_worker: int, from_worker: int, stderr: Any) -> None:
        self.spec = spec
        self.name = Path(spec.target).suffix.lstrip(".") or spec.target
        self._process = process
        self._to_worker = to_worker
        self._reader = ReplyReader(from_worker)
        self._stderr = stderr
        self._started = time.monotonic()
        self._pending = b""

    @property
    def run_deadline(self) -> float:
        return self._started + self.spec.run_s

    def _fail(self, status: str, reason: str) -> RunFailure:
        self.kill()
        return RunFailure(status, reason)

    def _timeout(self) -> RunFailure:
        if time.monotonic() >= self.run_deadline:
            return self._fail("timeout", f"over the {self.spec.run_s:g} s time limit")
        return self._fail("timeout", f"over the {self.spec.step_s:g} s per-step time limit")

    def _gone(self, what: str) -> RunFailure:
        """The worker broke the protocol: say how it ended (exit status or signal) and its last words."""
        try:
            code = self._process.wait(EXIT_GRACE_S)
        except subprocess.TimeoutExpired:
            code = None
        self.kill()
        if code is None:
            ended = "is still running"
        elif code < 0:
            ended = f"was killed by {_signal_name(-code)}"
        else:
            ended = f"exited with status {code}"
        self._stderr.seek(0, os.SEEK_END)
        self._stderr.seek(max(0, self._stderr.tell() - STDERR_TAIL))
        tail = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
        last = f"; its last output: {tail[-1][:200]!r}" if tail else ""
        return RunFailure("error", f"the agent's worker {what} and {ended}{last}")

    def _send(self, message: bytes) -> None:
        data, self._pending = self._pending + message, b""
        try:
            write_before(self._to_worker, data, min(time.monotonic() + self.spec.step_s, self.run_deadline))
        except WireTimeout:
            raise self._timeout() from None
        except WireError as error:
            raise self._gone(str(error)) from None

    def _await(self, kind: str) -> Any:
        deadline = min(time.monotonic() + self.spec.step_s, self.run_deadline)
        try:
            reply = self._reader.read(deadline)
        except WireTimeout:
            raise self._timeout() from None
        except WireError as error:
            raise self._gone(str(error)) from None
        if reply.kind == "error":
            raise self._fail("error", reply.text or "error")
        if reply.kind != kind:
            raise self._gone(f"replied {reply.kind!r} when {kind!r} was due")
        return reply

    def ready(self) -> None:
        """Wait for the worker to have built the agent (bounded by the run's time limit only)."""
        try:
            reply = self._reader.read(self.run_deadline)
        except WireTimeout:
            raise self._timeout() from None
        except WireError as error:
            raise self._gone(f"did not start ({error})") from None
        if reply.kind == "error":
            raise self._fail("error", reply.text or "error")
        if reply.kind != "ready":
            raise self._gone(f"replied {reply.kind!r} before 'ready'")
        self.name = reply.text or self.name

    def reset(self, spec: Any, seed: int) -> None:
        """Forward ``reset`` (an error in it is reported with the first ``act``)."""
        self._send(encode_message("reset", spec, seed))

    def act(self, obs: dict) -> int:
        """Forward the observation's requested keys; the worker's validated integer action."""
        kept = {key: value for key, value in obs.items() if key in self.spec.observation_keys}
        self._send(encode_message("act", kept))
        return self._await("action").action

    def update(self, obs: dict, action: int, reward: float, info: dict) -> None:
        """Queue ``update`` with the public ``info`` fields; it travels with the next message."""
        public = {key: value for key, value in info.items() if key in PUBLIC_INFO}
        self._pending += encode_message("update", action, reward, public)

    def finish(self) -> None:
        """Deliver the last ``update`` and wait for the worker to confirm it ran without error."""
        self._send(encode_message("finish"))
        self._await("ok")

    def kill(self) -> None:
        """Kill the worker's process group (idempotent) and release the pipe."""
        if self._process.poll() is None:
            try:
                os.killpg(self._process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._process.wait()

    def close(self) -> None:
        """Kill the worker if it still runs and close every descriptor."""
        self.kill()
        for fd in (self._to_worker, self._reader.fd):
            os.close(fd)
        self._stderr.close()


@contextmanager
def start_agent(spec: WorkerSpec) -> Iterator[RemoteAgent]:
    """A ready :class:`RemoteAgent` for one run; the worker is killed when the block ends, however it ends.

    Raises:
        RunFailure: the worker did not start, the target is refused, or the constructor failed.
    """
    to_read, to_write = os.pipe()
    from_read, from_write = os.pipe()
    os.set_blocking(to_write, False)
    command, environment = worker_command(spec.directory)
    stderr = tempfile.TemporaryFile()
    with tempfile.TemporaryDirectory(prefix="messenv-worker-") as cwd:
        try:
            process = subprocess.Popen(
                [*command, str(to_read), str(from_write)], env=environment, cwd=cwd, stdin=subprocess.DEVNULL,
                stdout=stderr, stderr=stderr, pass_fds=(to_read, from_write), start_new_session=True,
            )
        finally:
            os.close(to_read)
            os.close(from_write)
        agent = RemoteAgent(spec, process, to_write, from_read, stderr)
        try:
            agent._send(encode_message("init", spec.init_message()))
            agent.ready()
            yield agent
        finally:
            agent.close()


def observation_keys(requested: Sequence[str] | None, known: Sequence[str]) -> tuple[str, ...]:
    """The observation keys to send: ``requested`` checked against ``known``, or all of them."""
    return tuple(known) if requested is None else tuple(key for key in known if key in requested)
