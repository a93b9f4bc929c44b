"""The evaluator's side of a worker: a :class:`RemoteAgent` that forwards the agent protocol down a pipe.

:func:`messenv.harness.run_episode` plays a :class:`RemoteAgent` exactly like an in-process agent;
each call becomes a message to the run's worker (see :mod:`messenv.leaderboard.worker`). What
crosses the pipe is exactly what the agent protocol promises: the :class:`TaskSpec` and seed,
each observation (only the keys the submission asks for), and each step's action, reward and the
public ``info`` fields (:data:`PUBLIC_INFO`).

Time is enforced here, outside the worker's reach: every wait for a reply has a deadline (the
per-step limit, and the run's limit counted from the worker's fork); on expiry the worker is
killed with ``SIGKILL`` by its host (:mod:`messenv.leaderboard.host`), or the whole sandbox with
it when the host does not answer. A worker that exits, is killed, replies out of turn or sends
anything malformed or oversized ends the run as a :class:`RunFailure` with the reason; it can
never end the evaluator.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from messenv.leaderboard.host import WorkerHost
from messenv.leaderboard.seccomp import KILLED_SIGNAL_HINT
from messenv.leaderboard.wire import ReplyReader, WireError, WireTimeout, encode_message, write_before

PUBLIC_INFO = (
    "models", "answer_model", "explored", "feedback", "quality", "cost", "energy_j", "latency_s",
    "outcomes", "episode_summary",
    "costs", "delayed_feedback", "action_mask",  # scenarios' keys (latency SLO, delayed feedback, zoo changes)
)
"""The ``info`` keys of :class:`~messenv.env.mess_env.MessEnv` an agent receives (those its docstring
documents); any other key stays in the evaluator. ``running_quality`` and ``sla_gap`` are withheld:
they are the TRUE running mean, withheld answers included, so under sparse feedback two consecutive
steps would give away every withheld quality (an agent tracks its SLA from the qualities it is shown)."""


def public_info(info: dict[str, Any]) -> dict[str, Any]:
    """The part of a step's ``info`` that crosses to the agent's worker (:data:`PUBLIC_INFO`)."""
    return {key: value for key, value in info.items() if key in PUBLIC_INFO}
ALWAYS_OBSERVED = ("step", "action_mask")
"""Observation keys every agent receives when the env has them, whatever ``observation_keys`` says:
``step``, because delayed feedback (``info["delayed_feedback"]``) names a request by its step, and
``action_mask``, because under a changing zoo no agent could act legally without it. Neither
reveals anything an agent could not count or infer itself."""

UNSET = object()


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

    def __init__(self, spec: WorkerSpec, host: WorkerHost, to_worker: int, from_worker: int) -> None:
        self.spec = spec
        self.name = spec.target.rpartition(".")[2]
        self._host = host
        self._to_worker = to_worker
        self._reader = ReplyReader(from_worker)
        self._started = time.monotonic()
        self._update: tuple | None = None
        self._status: Any = UNSET

    @property
    def run_deadline(self) -> float:
        """When the run's time limit expires (``time.monotonic()``)."""
        return self._started + self.spec.run_s

    def _fail(self, status: str, reason: str) -> RunFailure:
        self.kill()
        return RunFailure(status, reason)

    def _timeout(self) -> RunFailure:
        if time.monotonic() >= self.run_deadline:
            return self._fail("timeout", f"over the {self.spec.run_s:g} s time limit")
        return self._fail("timeout", f"over the {self.spec.step_s:g} s per-step time limit")

    def _gone(self, what: str) -> RunFailure:
        """The worker broke the protocol: say how it ended (exit status or signal)."""
        code = self.kill()
        if code is None:
            ended = "its sandbox was killed"
        elif code < 0:
            ended = f"it was killed by {_signal_name(-code)}"
        else:
            ended = f"it exited with status {code}"
        return RunFailure("error", f"the agent's worker {what}; {ended}")

    def _send(self, message: bytes) -> None:
        try:
            write_before(self._to_worker, message, min(time.monotonic() + self.spec.step_s, self.run_deadline))
        except WireTimeout:
            raise self._timeout() from None
        except WireError as error:
            raise (self._replied_error() or self._gone(str(error))) from None

    def _replied_error(self) -> RunFailure | None:
        """The error a worker replied before it ended, if any. A worker whose agent fails (in
        ``reset``, say, which gets no reply of its own) replies the error and exits: a send that
        then finds the pipe closed must report the agent's error, not the broken pipe."""
        try:
            reply = self._reader.read(min(time.monotonic() + 1.0, self.run_deadline))
        except (WireTimeout, WireError):
            return None
        return self._fail("error", reply.text or "error") if reply.kind == "error" else None

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
        """Forward the observation's requested keys and :data:`ALWAYS_OBSERVED`; the worker's validated action."""
        keys = self.spec.observation_keys
        kept = {key: value for key, value in obs.items() if key in keys or key in ALWAYS_OBSERVED}
        update, self._update = self._update, None
        self._send(encode_message("act", kept, update))
        return self._await("action").action

    def update(self, obs: dict, action: int, reward: float, info: dict) -> None:
        """Hold ``update`` (with the public ``info`` fields): it travels in the next message, one
        pipe round trip per step."""
        self._update = (action, reward, public_info(info))

    def finish(self) -> None:
        """Deliver the last ``update`` and wait for the worker to confirm it ran without error."""
        update, self._update = self._update, None
        self._send(encode_message("finish", update))
        self._await("ok")

    def kill(self) -> int | None:
        """Kill the worker (idempotent); its exit status, negative for a signal, ``None`` if unknown."""
        if self._status is UNSET:
            self._status = self._host.end()
        return self._status

    def close(self) -> None:
        """Kill the worker if it still runs and close the pipe."""
        self.kill()
        os.close(self._to_worker)
        os.close(self._reader.fd)


@contextmanager
def start_agent(spec: WorkerSpec, host: WorkerHost) -> Iterator[RemoteAgent]:
    """A ready :class:`RemoteAgent` for one run, in a fresh worker of ``host``; the worker is killed
    when the block ends, however it ends.

    Raises:
        RunFailure: the target is refused or the agent's import or constructor failed.
        LeaderboardError: the sandbox itself does not start.
    """
    to_read, to_write = os.pipe()
    from_read, from_write = os.pipe()
    os.set_blocking(to_write, False)
    try:
        host.spawn(to_read, from_write)
    except BaseException:
        for fd in (to_write, from_read):
            os.close(fd)
        raise
    finally:
        os.close(to_read)
        os.close(from_write)
    agent = RemoteAgent(spec, host, to_write, from_read)
    try:
        agent._send(encode_message("init", spec.init_message()))
        agent.ready()
        yield agent
    finally:
        agent.close()
