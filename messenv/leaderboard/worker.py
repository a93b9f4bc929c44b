"""Inside the sandbox: the worker host (a zygote) and the one worker per run it forks.

Started as ``python -m messenv.leaderboard.worker SUBMISSION_DIR CONTROL_FD`` (see
:mod:`messenv.leaderboard.sandbox` and :mod:`messenv.leaderboard.host`), the host imports the
trusted code every worker needs (numpy, messenv, the reference agents of ``messenv_agents``) and
never any of the submission's code. It makes itself non-dumpable (no other process of the
sandbox may trace it or read its memory) and then serves the evaluator's control socket:

* ``spawn`` (with two pipe descriptors attached): empty the sandbox's writable folders and reset
  their extended attributes and times, and put back the host's own inherited ``/proc`` settings
  (:data:`INHERITED_SETTINGS`), so that nothing a previous run wrote is left, then fork a worker
  on those pipes;
* ``end``: kill the worker if it still runs, reap it and reply its exit status.

A forked worker starts from the host's pristine state, so runs share nothing: not memory, not
files, not processes (it cannot start any). Before any of the submission's code runs, it:

1. closes the control socket;
2. sets resource limits: address space (the protocol's ``memory_limit_mb``), CPU seconds (the
   run's time limit), open files, file size, processes, no core dumps;
3. loads the seccomp filter of :mod:`messenv.leaderboard.seccomp` (no processes, no ptrace, no
   IPC, keyrings or extended attributes that could outlive it, no namespaces, mounts or io_uring).

Then it imports the target (from the submission's ``.py`` sources, never from bytecode the
submission ships: :class:`SourceOnlyLoader`), checks it is a class with ``reset``/``act``/``update``
defined in the submission's folder or its declared package and that it takes the submission's
parameters (else a :class:`ParameterError`, which the evaluator looks for in a worker it starts
before the first run), builds the agent and replies ``ready``. The messages are then
``reset(spec, seed)`` (no reply: an error surfaces at the next message), ``act(obs, update)``
(reply: the action) and ``finish(update)`` (reply: ``ok``), where ``update`` holds the previous
step's ``(action, reward, info)``, run first with the observation of the previous ``act``, as the
harness passes it. Any exception of the agent, ``KeyboardInterrupt`` and ``SystemExit`` included,
is replied as ``error`` and ends the worker. Nothing here is trusted by the evaluator: it validates
every reply, enforces time by killing the worker, and measures energy and quality itself.
"""

from __future__ import annotations

import ctypes
import importlib
import importlib.machinery
import inspect
import json
import math
import os
import pkgutil
import resource
import signal
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

import messenv_agents
from messenv.config import constructor_parameters, parameter_problem
from messenv.harness import InvalidActionError
from messenv.leaderboard.sandbox import PROCESSES, WRITABLE
from messenv.leaderboard.seccomp import forbid_processes
from messenv.leaderboard.source_files import source_problem
from messenv.leaderboard.wire import MAX_TEXT, encode_reply, read_message, write_all

AGENT_METHODS = ("reset", "act", "update")
OPEN_FILES = 64
FILE_SIZE_BYTES = 64 << 20
PR_SET_DUMPABLE = 4
CONTROL_BYTES = 1024
FOLDER_TIME_NS = 0
"""The access and modification time of each writable folder when a run starts (the epoch)."""
PARAMETER_ERROR = "ParameterError: "
"""How a worker's error reply for a :class:`ParameterError` begins."""
PARAMS_FIELD = "agent.params"
"""The field of submission.yaml that a :class:`ParameterError` names."""


class TargetError(Exception):
    """The target is not an acceptable agent class (the message says why)."""


class ParameterError(TargetError):
    """The agent class does not take submission.yaml's ``agent.params``: a parameter it does not
    declare, a required one missing, or a value of the wrong type (the message names it and the
    parameters the class takes). The evaluator builds the agent once before the first run and stops
    the submission on this error (:func:`messenv.leaderboard.evaluate.check_parameters`)."""


def set_limits(memory_mb: int, cpu_s: float) -> None:
    """Resource limits of the worker (both soft and hard, so final)."""
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


class SourceOnlyLoader(importlib.machinery.SourceFileLoader):
    """Loads a module of the submission's folder from its ``.py`` source, never from bytecode.

    CPython runs ``__pycache__/<module>.cpython-3X.pyc`` instead of the source when the file says
    so: an "unchecked-hash" pyc (PEP 552) is run whatever the source holds. A submission could then
    show readers one agent and run another. Compiling the source every time costs a few
    milliseconds per run for a submission's own modules; the installed packages keep their caches.
    """

    def get_code(self, fullname: str) -> Any:
        """The module's code, compiled from its source read as UTF-8 (no cached bytecode is read
        or written).

        Raises:
            ImportError: the source does not show what Python reads
                (:func:`~messenv.leaderboard.source_files.source_problem`): a ``# coding: utf-7``
                declaration made ``+AAo-`` in what every editor shows as a comment a line break,
                and the code after it ran (attack4).
        """
        data = self.get_data(self.path)
        problem = source_problem(data)
        if problem is not None:
            raise ImportError(f"{Path(self.path).name}: {problem}", path=self.path)
        return self.source_to_code(data.decode("utf-8-sig"), self.path)


class FindsNothing:
    """The finder of a path entry under the submission's folder that is not a folder (a zip file,
    which ``zipimport`` would otherwise open: code no reader sees, attack5)."""

    def find_spec(self, fullname: str, target: Any = None) -> None:
        """Nothing is importable from here."""
        return None

    def invalidate_caches(self) -> None:
        """Nothing is cached."""


def import_sources_only(submission_dir: Path) -> None:
    """Put ``submission_dir`` first on ``sys.path``, importing from it ``.py`` sources only
    (through :class:`SourceOnlyLoader`): not its ``__pycache__``, not a sourceless ``.pyc``, not a
    compiled extension module, which CPython imports in preference to the ``.py`` beside it
    (attack4), and not a zip file: code that no reader of the submission sees.

    A path entry is the folder's when its real path is: ``//submission``, ``/./submission`` or a
    ``.pkg`` file's entry for ``pkgutil.extend_path`` took the default loaders (attack5).
    """
    folder = os.path.realpath(submission_dir)
    finder_for = importlib.machinery.FileFinder.path_hook((SourceOnlyLoader, importlib.machinery.SOURCE_SUFFIXES))

    def hook(path: str) -> importlib.machinery.FileFinder | FindsNothing:
        real = os.path.realpath(path)
        if real != folder and not real.startswith(folder + os.sep):
            raise ImportError("not the submission's folder")  # the next hook handles it
        return finder_for(real) if os.path.isdir(real) else FindsNothing()

    sys.path_hooks.insert(0, hook)
    sys.path_importer_cache.pop(folder, None)
    sys.path.insert(0, folder)


def missing_parameters(cls: type, params: dict[str, Any], where: str) -> str | None:
    """Why ``cls(**params)`` cannot bind its arguments (a required parameter missing), one line
    naming ``where`` and the parameters ``cls`` takes; ``None`` if they bind (or it has no signature)."""
    try:
        inspect.signature(cls).bind(**params)
    except TypeError as error:
        takes = constructor_parameters(cls)
        return f"{where} ({cls.__name__}): {error}; it takes {'any keyword' if takes is None else takes}"
    except ValueError:  # no signature to check against: the constructor itself will say
        return None
    return None


def build_agent(init: dict[str, Any], submission_dir: Path) -> Any:
    """The agent named by the ``init`` message, built from its parameters.

    Raises:
        TargetError: the target is not an acceptable agent class (:func:`load_class`).
        ParameterError: the class does not take the parameters (:class:`ParameterError`).
    """
    import_sources_only(submission_dir)
    cls = load_class(init["target"], submission_dir, init["packages"])
    params = init["params"]
    problem = parameter_problem(cls, params, PARAMS_FIELD) or missing_parameters(cls, params, PARAMS_FIELD)
    if problem is not None:
        raise ParameterError(problem)
    return cls(**params)


def serve(agent: Any, messages: Any, out: int) -> None:
    """Answer the evaluator's messages until ``finish`` (see the module docstring).

    ``act`` and ``finish`` carry the previous step's ``update`` arguments (or ``None``), which run
    first, with the observation of the previous ``act``: one message per step.
    """
    obs = None
    while True:
        op, *args = read_message(messages)
        if op == "reset":
            agent.reset(*args)
            continue
        if args[-1] is not None:
            agent.update(obs, *args[-1])
        if op != "act":
            write_all(out, encode_reply("ok"))
            return
        obs = args[0]
        action = agent.act(obs)
        if not isinstance(action, (int, np.integer)) or isinstance(action, (bool, np.bool_)):
            kind = type(action).__name__
            raise InvalidActionError(f"agent returned action {action!r} ({kind}); valid actions are ints")
        write_all(out, encode_reply("action", int(action)))


def run_worker(in_fd: int, out: int, submission_dir: Path) -> None:
    """One run (in a forked worker): limits, seccomp, build the agent, serve; every failure is replied."""
    messages = os.fdopen(in_fd, "rb", buffering=1 << 16)
    try:
        _, init = read_message(messages)
        set_limits(init["memory_mb"], init["cpu_s"])
        forbid_processes()
        agent = build_agent(init, submission_dir)
        write_all(out, encode_reply("ready", str(getattr(agent, "name", type(agent).__name__))[:MAX_TEXT]))
        serve(agent, messages, out)
    except BaseException as error:  # noqa: BLE001 - every failure of the agent is reported, then the worker ends
        if isinstance(error, InvalidActionError):
            text = f"InvalidActionError: {error}"
        elif isinstance(error, ParameterError):  # a line about submission.yaml: where in the worker is noise
            text = f"{PARAMETER_ERROR}{error}"
        else:
            text = describe(error)
        write_all(out, encode_reply("error", text[:MAX_TEXT]))


def preload() -> None:
    """Import the trusted modules every worker may need, once, in the host (forks then share them)."""
    for module in pkgutil.iter_modules(messenv_agents.__path__, "messenv_agents."):
        try:
            importlib.import_module(module.name)
        except ImportError:
            pass  # an optional dependency (torch) is missing: a worker that needs it fails by itself


def empty_writable(sandboxed: bool) -> None:
    """Return the sandbox's writable folders to their state at the sandbox's start (nothing to do
    unsandboxed: they are the host's).

    The folders themselves outlive runs, so everything of theirs a worker can set is reset, not
    only their entries: the permissions (folders an earlier run made unreadable, ``chmod 0``, are
    opened up first: ``rmtree`` would skip them and leave their content for the next run to read),
    the ``user.*`` extended attributes (a worker cannot set them, seccomp forbids ``setxattr``: this
    is the second line) and the access and modification times (64 bits each that a worker sets
    with ``utime``, reset to :data:`FOLDER_TIME_NS`).

    Raises:
        RuntimeError: something could not be deleted (the host then ends, and the evaluator starts
            a fresh sandbox with fresh folders).
    """
    for folder in WRITABLE if sandboxed else ():
        os.chmod(folder, 0o1777)
        for entry in os.scandir(folder):
            _remove(entry.path, entry.is_dir(follow_symlinks=False))
        if any(os.scandir(folder)):
            raise RuntimeError(f"{folder} could not be emptied between runs")
        reset_folder(folder)


INHERITED_SETTINGS = ("oom_score_adj", "coredump_filter", "autogroup")
"""Settings of the host's ``/proc/self`` that a worker inherits at fork and, as root, can write
through ``/proc/<host>/`` (the sandbox's root owns the host's files): about 10, 9 and 4 bits that
carried from run to run (attack4). The host puts them back before each fork."""


def read_settings() -> dict[str, str]:
    """The host's :data:`INHERITED_SETTINGS` as written back (the autogroup as its nice value)."""
    settings = {}
    for name in INHERITED_SETTINGS:
        try:
            text = Path("/proc/self", name).read_text(encoding="ascii").strip()
        except OSError:
            continue  # not in this kernel (the autogroup needs CONFIG_SCHED_AUTOGROUP)
        settings[name] = text.rpartition(" ")[2] if name == "autogroup" else text
    return settings


def restore_settings(saved: dict[str, str]) -> None:
    """Write back each of ``saved`` that a worker changed. The kernel takes a new autogroup nice
    at most every 100 ms: it is retried once after that.

    Raises:
        RuntimeError: one could not be restored (the host then ends, and the evaluator starts a
            fresh sandbox).
    """
    for name, value in read_settings().items():
        if value == saved.get(name, value):
            continue
        for attempt in range(2):
            try:
                Path("/proc/self", name).write_text(saved[name], encoding="ascii")
                break
            except BlockingIOError:
                if attempt:
                    raise RuntimeError(f"/proc/self/{name} could not be restored between runs") from None
                time.sleep(0.11)
            except OSError as error:
                raise RuntimeError(f"/proc/self/{name} could not be restored between runs: {error}") from None


def reset_folder(folder: str) -> None:
    """Remove ``folder``'s ``user.*`` extended attributes and set its times to :data:`FOLDER_TIME_NS`."""
    for name in os.listxattr(folder):
        if name.startswith("user."):
            os.removexattr(folder, name)
    os.utime(folder, ns=(FOLDER_TIME_NS, FOLDER_TIME_NS))


def _remove(path: str, is_folder: bool) -> None:
    """Delete ``path``, a folder with all it holds (made readable first), or anything else."""
    if not is_folder:
        os.unlink(path)
        return
    os.chmod(path, 0o700)
    for entry in os.scandir(path):
        _remove(entry.path, entry.is_dir(follow_symlinks=False))
    os.rmdir(path)


def silence_output() -> None:
    """Point the worker's stdin, stdout and stderr at a fresh open ``/dev/null``. stdout and stderr
    were the sandbox's log file, which lives as long as the host: a worker could reopen it for
    reading (``/proc/self/fd/1``: the sandbox's uid owns it) and read what an earlier run wrote
    there. stdin was the host's, a file description every worker shared: its OFD byte-range locks
    carried a table of 64-bit numbers from run to run, its flags ~9 bits (attack5)."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # stdin too, for a file description of its own
        os.dup2(null, fd)
    os.close(null)


def _end(child: int | None) -> int | None:
    """Kill ``child`` if it runs, reap it; its exit status (negative: the signal), ``None`` if none."""
    if child is None:
        return None
    try:
        os.kill(child, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status)


def host(control: socket.socket, submission_dir: Path, sandboxed: bool, cpu: int | None) -> None:
    """Serve ``spawn``/``end`` requests on ``control`` until the evaluator closes it (on ``cpu``, if given)."""
    preload()
    if cpu is not None:
        try:
            os.sched_setaffinity(0, {cpu})  # after numpy's import: BLAS keeps its thread count
        except OSError:
            pass
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    settings = read_settings()
    control.sendall(json.dumps({"ready": True}).encode())
    child: int | None = None
    while True:
        message, fds, _, _ = socket.recv_fds(control, CONTROL_BYTES, 2)
        if not message:
            _end(child)
            return
        request = json.loads(message)
        if request["op"] == "spawn":
            _end(child)
            empty_writable(sandboxed)
            restore_settings(settings)
            child = os.fork()
            if child == 0:
                control.close()
                silence_output()
                try:
                    run_worker(fds[0], fds[1], submission_dir)
                finally:
                    os._exit(0)
            for fd in fds:
                os.close(fd)
            control.sendall(json.dumps({"spawned": True}).encode())
        else:
            status, child = _end(child), None
            control.sendall(json.dumps({"status": status}).encode())


def main(argv: list[str]) -> int:
    """``SUBMISSION_DIR CONTROL_FD [--sandboxed] [--cpu N]``: run the host (see the module docstring)."""
    control = socket.socket(fileno=int(argv[1]))
    options = argv[2:]
    cpu = int(options[options.index("--cpu") + 1]) if "--cpu" in options else None
    host(control, Path(argv[0]), "--sandboxed" in options, cpu)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
