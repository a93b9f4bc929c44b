"""How an agent's worker process is started: inside bubblewrap when it is installed.

The worker host is a fresh interpreter (``python -m messenv.leaderboard.worker``, never a fork of
the evaluator), so it has never held a recording; it forks one worker per run before any of the
submission's code is imported (:mod:`messenv.leaderboard.worker`). With bubblewrap (``bwrap``, Debian package
``bubblewrap``) it runs in a sandbox that mounts, read-only, only the system (``/usr``), the Python
installation and virtual environment, the two source folders the worker needs (``messenv`` and
``messenv_agents``, which define ``TaskSpec`` and the agent base classes) and the submission's own
folder (at ``/submission``); ``/tmp`` and ``HOME`` are private tmpfs and everything else is
read-only. Not mounted at all: ``$MESSENV_HOME`` (the recordings), the repository (other
submissions, the tests), ``../shared``. It has no network (``--unshare-net``), its own PID, IPC
and UTS namespaces, an unprivileged uid (65534) in a user namespace of its own in which no further
user namespace can be made (``--disable-userns``), a new session (no terminal to inject into) and
dies with the evaluator (``--die-with-parent``). Environment variables are not inherited: the
worker gets a fixed, minimal environment.

The sandbox's uid 65534 is the evaluator's uid outside it. When that is root, ``RLIMIT_NPROC``
does not bind (the kernel exempts root's user): a worker started 1,500 threads, each a PID of the
host's (``pid_max`` is 32768). The sandbox is then started in a pids cgroup of its own
(:func:`pids_cgroup`, limit :data:`SANDBOX_TASKS`), which counts every task in it, root's
included; when none can be made (no writable pids controller) it starts without one. Where cgroup
v1's memory controller is writable, whatever the uid, it also starts in a memory cgroup of its own
(:func:`memory_cgroup`, :func:`sandbox_memory_bytes`), which counts the kernel memory of its tmpfs
inodes that no resource limit does.

Without bubblewrap the worker still runs in its own process with the same resource limits and
seccomp filter (see :mod:`messenv.leaderboard.worker`), and results are marked ``sandbox: none``.
"""

from __future__ import annotations

import errno
import functools
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from messenv.leaderboard.schema import RESULTS_FILE

SANDBOX_BWRAP = "bwrap"
SANDBOX_NONE = "none"
SUBMISSION_MOUNT = "/submission"
SANDBOX_HOME = "/home/agent"
WORKER_MODULE = "messenv.leaderboard.worker"
WORKER_PACKAGES = ("messenv", "messenv_agents")
PASSED_ENVIRONMENT = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "LANG", "LC_ALL")
"""Only these of the evaluator's variables reach the worker (thread counts change BLAS's sums)."""
UNPRIVILEGED_ID = "65534"
WRITABLE = ("/tmp", SANDBOX_HOME, "/dev/shm")
"""The sandbox's only writable places (private tmpfs), emptied between runs."""
PROCESSES = 256
"""The worker's ``RLIMIT_NPROC``: threads count as processes, and BLAS needs some. New processes are
stopped by seccomp."""
SANDBOX_TASKS = PROCESSES + (os.cpu_count() or 1) + 16
"""The pids cgroup's limit (as root): a worker's :data:`PROCESSES`, plus the host's BLAS threads
(one per CPU at most), bubblewrap's two processes and the host."""
PIDS_CONTROLLERS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))
"""Where a pids controller is mounted: cgroup v1's hierarchy, or cgroup v2's unified one."""
MEMORY_CONTROLLER = Path("/sys/fs/cgroup/memory")
"""Where cgroup v1's memory controller is mounted (the evaluator's own memory cgroup is below it)."""
SANDBOX_OVERHEAD_MB = 512
"""A sandbox's memory beyond its worker's address space and its tmpfs pages: the worker host with
numpy imported (~150 MiB), bubblewrap, the kernel's own structures, and slack."""
CGROUP_REMOVAL_S = 5.0
PROC_READ_ONLY = ("/proc/sysrq-trigger", "/proc/irq", "/proc/bus")
"""Other writable places of /proc that act on the whole machine, bound read-only over the
sandbox's own /proc (with /proc/sys), as Flatpak does."""
TMPFS_BYTES = 256 << 20
"""The size of each writable tmpfs: its pages are memory that ``RLIMIT_AS`` does not count (by
default a tmpfs may take half the machine's memory)."""


def bwrap_path() -> str | None:
    """The ``bwrap`` executable, or ``None`` when bubblewrap is not installed."""
    return shutil.which("bwrap")


@functools.lru_cache(maxsize=4)
def disables_user_namespaces(bwrap: str) -> bool:
    """Whether this bubblewrap has ``--disable-userns`` (0.8.0 and later). Older ones start the
    sandbox without it: seccomp still refuses ``unshare`` and ``setns``, and a new process with a
    namespace of its own cannot be made (``clone`` of a process is killed, of a thread refused)."""
    done = subprocess.run([bwrap, "--version"], capture_output=True, text=True, check=False)
    found = re.search(r"(\d+)\.(\d+)", done.stdout)
    return found is not None and (int(found[1]), int(found[2])) >= (0, 8)


def sandbox_kind() -> str:
    """:data:`SANDBOX_BWRAP` when bubblewrap is installed, else :data:`SANDBOX_NONE`."""
    return SANDBOX_BWRAP if bwrap_path() else SANDBOX_NONE


def package_dirs(names: tuple[str, ...] = WORKER_PACKAGES) -> list[Path]:
    """Where the packages the worker imports live (found without importing them)."""
    dirs = []
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError(f"package {name!r} is not installed")
        dirs += [Path(location).resolve() for location in spec.submodule_search_locations]
    return dirs


def worker_environment(home: str) -> dict[str, str]:
    """The worker's whole environment: fixed values plus :data:`PASSED_ENVIRONMENT` if set."""
    environment = {"PATH": "/usr/bin:/bin", "HOME": home, "TMPDIR": "/tmp", "PYTHONHASHSEED": "0"}
    environment.update({name: os.environ[name] for name in PASSED_ENVIRONMENT if name in os.environ})
    return environment


def _system_mounts() -> Iterator[str]:
    yield from ("--ro-bind", "/usr", "/usr")
    for name in ("lib", "lib32", "lib64", "bin", "sbin"):
        path = Path("/") / name
        if path.is_symlink():
            yield from ("--symlink", os.readlink(path), str(path))
        elif path.is_dir():
            yield from ("--ro-bind", str(path), str(path))
    for name in ("/etc/ld.so.cache", "/etc/localtime"):
        yield from ("--ro-bind-try", name, name)


def _python_mounts() -> Iterator[str]:
    """The interpreter, the environment's site-packages and the worker's packages, read-only."""
    roots = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), Path(sys.prefix), *package_dirs()}
    for root in sorted(roots, key=lambda p: len(p.parts)):
        if root != Path("/usr") and Path("/usr") not in root.parents:
            yield from ("--ro-bind", str(root), str(root))


def pids_cgroup(limit: int = SANDBOX_TASKS) -> Path | None:
    """A new pids cgroup that admits at most ``limit`` tasks, when the evaluator runs as root and a
    pids controller is writable; else ``None`` (a normal user's ``RLIMIT_NPROC`` binds already).
    Remove it with :func:`remove_cgroup`."""
    if os.geteuid() != 0:
        return None
    made = (_new_cgroup(controller, "pids.max", limit) for controller in PIDS_CONTROLLERS)
    return next((cgroup for cgroup in made if cgroup is not None), None)


def _new_cgroup(parent: Path, limit_file: str, limit: int) -> Path | None:
    """A new cgroup below ``parent`` with ``limit`` written to its ``limit_file``; ``None`` where
    ``parent`` is no cgroup or either step fails (not writable, controller not enabled)."""
    if not (parent / "cgroup.procs").is_file():
        return None
    try:
        cgroup = Path(tempfile.mkdtemp(prefix="messenv-sandbox-", dir=parent))
    except OSError:
        return None
    try:
        (cgroup / limit_file).write_text(str(limit), encoding="ascii")
        return cgroup
    except OSError:
        remove_cgroup(cgroup)
        return None


def memory_cgroup(limit_bytes: int) -> Path | None:
    """A new cgroup v1 memory cgroup below the evaluator's own that holds at most ``limit_bytes``,
    kernel memory included; ``None`` where none can be made (no v1 memory controller, or not
    writable). ``RLIMIT_AS`` and the tmpfs sizes leave out kernel memory: a worker that created
    1.8 million empty files in its tmpfs held 2.3 GB of slab (attack3), and 100,000 files charge
    ~96 MB to the cgroup that made them. Remove it with :func:`remove_cgroup`."""
    with open("/proc/self/cgroup", encoding="ascii") as lines:
        own = next((path for _, controllers, path in (line.rstrip("\n").split(":", 2) for line in lines)
                    if "memory" in controllers.split(",")), None)
    if own is None:
        return None
    return _new_cgroup(MEMORY_CONTROLLER / own.lstrip("/"), "memory.limit_in_bytes", limit_bytes)


def sandbox_memory_bytes(worker_memory_mb: int) -> int:
    """A sandbox's memory cap: its worker's address space, its tmpfs pages, and :data:`SANDBOX_OVERHEAD_MB`."""
    return (worker_memory_mb + SANDBOX_OVERHEAD_MB) * 2**20 + len(WRITABLE) * TMPFS_BYTES


def remove_cgroup(cgroup: Path | None) -> None:
    """Kill what is left in ``cgroup`` (a sandbox's processes die with it, but not at once) and remove it."""
    if cgroup is None:
        return
    deadline = time.monotonic() + CGROUP_REMOVAL_S
    while True:
        try:
            cgroup.rmdir()
            return
        except OSError as error:
            if error.errno != errno.EBUSY or time.monotonic() > deadline:
                return  # an empty cgroup left behind holds no process
        for pid in (cgroup / "cgroup.procs").read_text(encoding="ascii").split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)


def entering(cgroups: Sequence[Path]) -> list[str]:
    """A command prefix that moves itself into every cgroup of ``cgroups``, then runs the command
    after it (a shell that becomes it), so that nothing the command starts escapes them."""
    if not cgroups:
        return []
    script = 'n=$0; while [ "$n" -gt 0 ]; do echo 0 > "$1" || exit 125; shift; n=$((n - 1)); done; exec "$@"'
    return ["/bin/sh", "-c", script, str(len(cgroups)), *(str(cgroup / "cgroup.procs") for cgroup in cgroups)]


def worker_command(
    submission_dir: Path, control_fd: int, cgroups: Sequence[Path] = ()
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that start the worker host (the zygote) for ``submission_dir``,
    which talks to the evaluator on the socket ``control_fd``, inside ``cgroups`` (a shell moves
    itself there, then becomes bubblewrap, or the worker host where bubblewrap is missing)."""
    python = [sys.executable, "-s", "-P", "-m", WORKER_MODULE]
    enter = entering(cgroups)
    bwrap = bwrap_path()
    if bwrap is None:  # as root, the cgroup bounds the threads here too
        return [*enter, *python, str(submission_dir.resolve()), str(control_fd)], worker_environment(str(Path.home()))
    results = submission_dir / RESULTS_FILE
    no_userns = ("--unshare-user", "--disable-userns") if disables_user_namespaces(bwrap) else ()
    command = [
        *enter, bwrap, "--die-with-parent", "--new-session", "--unshare-all", *no_userns,
        "--uid", UNPRIVILEGED_ID, "--gid", UNPRIVILEGED_ID,
        *_system_mounts(), *_python_mounts(),
        "--ro-bind", str(submission_dir.resolve()), SUBMISSION_MOUNT,
        # The results of an earlier evaluation (on a private track: the oracle's figures) stay out.
        *(("--ro-bind", "/dev/null", f"{SUBMISSION_MOUNT}/{RESULTS_FILE}") if results.is_file() else ()),
        # The kernel's global settings stay read-only: as root the sandbox's uid is the host's root,
        # and a writable /proc/sys/kernel/core_pattern ran a submission's script on the host.
        "--proc", "/proc", "--ro-bind", "/proc/sys", "/proc/sys",
        *(arg for path in PROC_READ_ONLY for arg in ("--ro-bind-try", path, path)),
        "--dev", "/dev",
        *(arg for path in WRITABLE for arg in ("--size", str(TMPFS_BYTES), "--tmpfs", path)),
        "--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/tmp",
        *python, SUBMISSION_MOUNT, str(control_fd), "--sandboxed",
    ]
    return command, worker_environment(SANDBOX_HOME)
