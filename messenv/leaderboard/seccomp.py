"""A seccomp filter the worker loads before it imports a submission: no new processes, no ptrace, no xattrs.

Resource limits cannot stop an agent from spawning processes when the evaluator runs as root
(``RLIMIT_NPROC`` does not bind root, and bubblewrap maps the sandbox's uid to the caller's), so the
kernel is told instead: creating a process (``fork``, ``vfork``, ``clone`` without
``CLONE_THREAD``), tracing or reading another process's memory (``ptrace``,
``process_vm_readv/writev``), System V / POSIX message and shared-memory IPC and the kernel
keyrings (state that would outlive the worker, for the next run to read) kill the worker at once
with ``SIGSYS``. Threads stay allowed (BLAS uses them); ``clone3``, whose flags a filter
cannot read, fails with ``ENOSYS`` so that the C library falls back to ``clone``. Changing another
process's resource limits, priority or scheduling (the worker host's, which the next run's worker
would inherit) and the worker's own CPU affinity fail with ``EPERM``.

Extended attributes cannot be set (``setxattr`` and its variants fail with ``EPERM``): the
writable folders themselves outlive runs (their entries are deleted, not the folders), so a
``user.*`` attribute on ``/tmp`` carried a whole lookup table from run to run, in memory that no
limit counts. ``io_uring_setup`` fails too (io_uring performs system calls, setxattr among them,
without passing through this filter). Namespaces and mounts fail with ``EPERM`` (``unshare``,
``setns``, ``mount`` and the new mount API): kernel attack surface an agent has no use for;
bubblewrap's ``--disable-userns`` forbids new user namespaces as well, and ``clone`` with a
namespace flag but ``CLONE_THREAD`` is refused by the kernel itself (``EINVAL`` for a user or PID
namespace, ``EPERM`` for the others, which need a capability the worker does not have).
``memfd_create`` fails too: its pages are memory that ``RLIMIT_AS`` does not count. What reads
or moves the page cache fails (``mincore``, ``fadvise64``, ``readahead``, ``cachestat``,
``preadv2``/``pwritev2`` with ``RWF_NOWAIT``, ``madvise`` with ``MADV_COLD``/``MADV_PAGEOUT``):
the cache of the files shared with the host outlives every sandbox, and carried kilobytes from
run to run. Sockets other
than ``AF_UNIX`` fail with ``EPERM``: a closed loopback connection stays listed in
``/proc/net/tcp`` (TIME_WAIT) for a minute, which carried a lookup table from run to run.

The filter is built with libseccomp (the library bubblewrap and systemd use), called through
:mod:`ctypes`; see seccomp_rule_add(3).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import platform
import socket

SCMP_ACT_KILL_PROCESS = 0x80000000
SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_NE = 1
SCMP_CMP_EQ = 4
SCMP_CMP_MASKED_EQ = 7
RWF_NOWAIT = 0x8  # preadv2/pwritev2 flag: fail instead of waiting for the disk (include/uapi/linux/fs.h)
MADV_COLD, MADV_PAGEOUT = 20, 21  # include/uapi/asm-generic/mman-common.h
CLONE_THREAD = 0x00010000
KILLED_SYSCALLS = (
    "fork", "vfork", "ptrace", "process_vm_readv", "process_vm_writev",
    "shmget", "shmat", "msgget", "msgsnd", "semget", "mq_open", "add_key", "keyctl", "request_key",
)
REFUSED_SYSCALLS = (
    "setxattr", "lsetxattr", "fsetxattr", "setxattrat", "io_uring_setup",
    "unshare", "setns", "mount", "umount2", "pivot_root",
    "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "memfd_create",
    "mincore", "fadvise64", "fadvise64_64", "readahead", "cachestat",
)
"""System calls that fail with ``EPERM`` whatever their arguments (see the module docstring)."""
SYSCALL_NUMBERS = {
    ("x86_64", "setxattrat"): 463, ("aarch64", "setxattrat"): 463,
    ("x86_64", "cachestat"): 451, ("aarch64", "cachestat"): 451,
}
"""Numbers of system calls newer than some libseccomp releases (Debian 12's 2.5.4 does not know
``setxattrat``, Linux 6.13, nor ``cachestat``, Linux 6.5): from the kernel's syscall tables
(arch/x86/entry/syscalls/syscall_64.tbl, scripts/syscall.tbl)."""
KILLED_SIGNAL_HINT = "a forbidden system call (spawning a process, ptrace, IPC or a keyring)"


class SeccompError(OSError):
    """libseccomp is missing or the kernel refused the filter."""


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64),
    ]


def _errno_action(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


def _library() -> ctypes.CDLL:
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError as error:
        raise SeccompError(f"libseccomp is not installed ({error}); install the Debian package libseccomp2") from None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(_ArgCmp),
    ]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


def forbid_processes() -> None:
    """Load the filter into the calling process (and every thread it starts later); irreversible.

    Raises:
        SeccompError: libseccomp is missing or a rule or the load failed.
    """
    lib = _library()
    context = lib.seccomp_init(SCMP_ACT_ALLOW)
    if not context:
        raise SeccompError("seccomp_init failed")
    try:

        def add(action: int, name: str, *conditions: _ArgCmp) -> None:
            number = lib.seccomp_syscall_resolve_name(name.encode())
            number = SYSCALL_NUMBERS.get((platform.machine(), name), number) if number < 0 else number
            if number < 0:
                return  # not a system call on this architecture (aarch64 has no fork or vfork)
            array = (_ArgCmp * len(conditions))(*conditions) if conditions else None
            status = lib.seccomp_rule_add_array(context, action, number, len(conditions), array)
            if status < 0:
                raise SeccompError(f"seccomp rule for {name} failed ({errno.errorcode.get(-status, status)})")

        for name in KILLED_SYSCALLS:
            add(SCMP_ACT_KILL_PROCESS, name)
        add(SCMP_ACT_KILL_PROCESS, "clone", _ArgCmp(0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0))
        add(_errno_action(errno.ENOSYS), "clone3")
        # Another process's resource limits, priority or scheduling (the host's, inherited by the
        # next run's worker: a channel from run to run) and the CPUs the worker may use: EPERM.
        add(_errno_action(errno.EPERM), "prlimit64", _ArgCmp(0, SCMP_CMP_NE, 0, 0))
        # setpriority(which, who, ...) and ioprio_set(which, who, ...) are allowed only on the
        # caller itself: which = PRIO_PROCESS (0) or IOPRIO_WHO_PROCESS (1), who = 0 (a process
        # group or a uid would include the host). The conditions of one rule are ANDed: one rule each.
        for name, own_process in (("setpriority", 0), ("ioprio_set", 1)):
            add(_errno_action(errno.EPERM), name, _ArgCmp(0, SCMP_CMP_NE, own_process, 0))
            add(_errno_action(errno.EPERM), name, _ArgCmp(1, SCMP_CMP_NE, 0, 0))
        for name in ("sched_setscheduler", "sched_setparam", "sched_setattr"):
            add(_errno_action(errno.EPERM), name, _ArgCmp(0, SCMP_CMP_NE, 0, 0))
        add(_errno_action(errno.EPERM), "sched_setaffinity")
        for name in REFUSED_SYSCALLS:
            add(_errno_action(errno.EPERM), name)
        # Sockets other than AF_UNIX: a loopback connection left in TIME_WAIT lists its ports in
        # /proc/net/tcp for 60 s, a table of ~40-bit entries that the next run read back.
        for name in ("socket", "socketpair"):
            add(_errno_action(errno.EPERM), name, _ArgCmp(0, SCMP_CMP_NE, socket.AF_UNIX, 0))
        # The page cache of the files the sandbox shares with the host outlives every sandbox: a
        # worker evicted pages of a read-only file (fadvise) and the next run read the pattern
        # with mincore, a table of kilobytes, across sandboxes, submissions and verify (attack6).
        # What tells or moves residency is refused: mincore, fadvise64, readahead and cachestat
        # above, preadv2/pwritev2 with RWF_NOWAIT (a read that fails on a page not cached) and
        # madvise's MADV_COLD and MADV_PAGEOUT (eviction). Read timing is left (threat model).
        for name in ("preadv2", "pwritev2"):
            add(_errno_action(errno.EPERM), name, _ArgCmp(5, SCMP_CMP_MASKED_EQ, RWF_NOWAIT, RWF_NOWAIT))
        for advice in (MADV_COLD, MADV_PAGEOUT):
            add(_errno_action(errno.EPERM), "madvise", _ArgCmp(2, SCMP_CMP_EQ, advice, 0))
        status = lib.seccomp_load(context)
        if status < 0:
            raise SeccompError(f"seccomp_load failed ({errno.errorcode.get(-status, status)})")
    finally:
        lib.seccomp_release(context)
