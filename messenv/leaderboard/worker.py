"""The worker: one process per run that imports a submission, builds its agent and answers the evaluator.

Started as ``python -m messenv.leaderboard.worker SUBMISSION_DIR IN_FD OUT_FD`` (see
:mod:`messenv.leaderboard.sandbox`): the evaluator's messages arrive on ``IN_FD``, replies leave on
``OUT_FD``. It reads one ``init`` message (target, parameters, limits), then, *before*
any of the submission's code runs:

1. sets resource limits: address space (the protocol's ``memory_limit_mb``), CPU seconds (the
   run's time limit), open files, file size, processes, no core dumps;
2. loads the seccomp filter of :mod:`messenv.leaderboard.seccomp` (no new processes);
3. imports every module the worker itself needs, so a submission's module cannot stand in for one.

Then it imports the target, checks it is a class with ``reset``/``act``/``update`` defined in the
submission's folder or its declared package, builds the agent and replies ``ready``. Each message
is then one call: ``reset(spec, seed)``, ``act(obs)`` (reply: the action), ``update(action,
reward, info)`` (no reply: an error surfaces at the next message; ``update`` receives the
observation of the last ``act``, as the harness passes it) and ``finish``. Any exception of the
agent, ``KeyboardInterrupt`` and ``SystemExit`` included, is replied as ``error`` and ends the
worker. The worker trusts nothing it does: the evaluator validates every reply, enforces time by
killing it, and measures energy and quality itself.
"""

from __future__ import annotations

import importlib
import inspect
import math
import os
import resource
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from messenv.harness import InvalidActionError
from messenv.leaderboard.seccomp import forbid_processes
from messenv.leaderboard.wire import MAX_TEXT, encode_reply, read_message, write_all

AGENT_METHODS = ("reset", "act", "update")
OPEN_FILES = 64
FILE_SIZE_BYTES = 64 << 20
PROCESSES = 256
"""Threads count as processes for ``RLIMIT_NPROC``: BLAS needs some. New processes are stopped by seccomp."""


class TargetError(Exception):
    """The target is not an acceptable agent class (the message says why)."""


def set_limits(memory_mb: int, cpu_s: float) -> None:
    """Resource limits of the worker and anything it could start (both soft and hard, so final)."""
    cpu = math.ceil(cpu_s) + 1
    for limit, value in (
        (resource.RLIMIT_AS, memory_mb << 20), (resource.RLIMIT_CPU, cpu), (resource.RLIMIT_NOFILE, OPEN_FILES),
        (resource.RLIMIT_FSIZE, FILE_SIZE_BYTES), (resource.RLIMIT_NPROC, PROCESSES), (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(limit, (value, value))


def describe(error: BaseException) -> str:
    """``Type: message (at file:line in function)`` of the innermost frame, shortened."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno} in {frames[-1].name})" if frames else ""
    text = f"{type(error).__name__}: {error}{where}"
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _allowed_roots(submission_dir: Path, packages: list[str]) -> list[Path]:
    roots = [submission_dir.resolve()]
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            roots += [Path(p).resolve() for p in spec.submodule_search_locations]
        elif spec is not None and spec.origin:
            roots.append(Path(spec.origin).resolve())
    return roots


def load_class(target: str, submission_dir: Path, packages: list[str]) -> type:
    """Import ``target`` and check it is an agent class from an allowed place.

    Raises:
        TargetError: not a class, a class defined elsewhere (e.g. ``subprocess.Popen``), or one
            without ``reset``/``act``/``update``.
    """
    module_name, _, class_name = target.rpartition(".")
    cls = getattr(importlib.import_module(module_name), class_name, None)
    if not isinstance(cls, type):
        raise TargetError(f"{target} is not a class ({type(cls).__name__})")
    try:
        source = Path(inspect.getfile(cls)).resolve()
    except TypeError:
        raise TargetError(f"{target} is a built-in class, not one of the submission's") from None
    roots = _allowed_roots(submission_dir, packages)
    if not any(source == root or root in source.parents for root in roots):
        raise TargetError(f"{target} is defined in {source}, outside the submission's folder and declared package")
    missing = [name for name in AGENT_METHODS if not callable(getattr(cls, name, None))]
    if missing:
        raise TargetError(f"{target} does not implement {missing} of the agent protocol")
    return cls


def build_agent(init: dict[str, Any]) -> Any:
    """The agent named by the ``init`` message, built from its parameters."""
    submission_dir = Path(init["directory"])
    sys.path.insert(0, str(submission_dir))
    cls = load_class(init["target"], submission_dir, init["packages"])
    try:
        inspect.signature(cls).bind(**init["params"])
    except TypeError as error:
        raise TargetError(f"{cls.__name__} does not take the submitted parameters ({error})") from None
    return cls(**init["params"])


def serve(agent: Any, messages: Any, out: int) -> None:
    """Answer the evaluator's messages until ``finish`` (see the module docstring)."""
    obs = None
    while True:
        op, *args = read_message(messages)
        if op == "reset":
            agent.reset(*args)
            continue
        if op == "act":
            obs = args[0]
            action = agent.act(obs)
            if isinstance(action, (int, np.integer)) and not isinstance(action, (bool, np.bool_)):
                write_all(out, encode_reply("action", int(action)))
            else:
                raise InvalidActionError(f"agent returned action {action!r} ({type(action).__name__}); valid actions are ints")
            continue
        if op == "update":
            agent.update(obs, *args)
            continue
        write_all(out, encode_reply("ok"))
        return


def main(argv: list[str]) -> int:
    """Run one worker (see the module docstring); the exit status is 0 unless the pipe broke."""
    directory, in_fd, out = argv[0], int(argv[1]), int(argv[2])
    messages = os.fdopen(in_fd, "rb", buffering=1 << 16)
    _, init = read_message(messages)
    init["directory"] = directory
    try:
        set_limits(init["memory_mb"], init["cpu_s"])
        forbid_processes()
        agent = build_agent(init)
        write_all(out, encode_reply("ready", str(getattr(agent, "name", type(agent).__name__))[:MAX_TEXT]))
        serve(agent, messages, out)
    except BaseException as error:  # noqa: BLE001 - every failure of the agent is reported, then the worker ends
        text = f"InvalidActionError: {error}" if isinstance(error, InvalidActionError) else describe(error)
        write_all(out, encode_reply("error", text[:MAX_TEXT]))
    return 0


if __name__ == "__main__":
    os._exit(main(sys.argv[1:]))
