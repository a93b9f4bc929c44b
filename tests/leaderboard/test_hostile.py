"""Hostile submissions (issue 9): every attack ends as a failed run, a refused submission or a
rejected result with a clear reason, never as a score, and the honest submissions evaluated in
the same call keep their exact figures.

All the hostile agents (tests/leaderboard/hostile_agents.py) are evaluated in ONE
``evaluate`` call between two honest submissions, as a maintainer would evaluate a batch of pull
requests, on a one-run protocol with a 5 s per-step limit and a 1 GiB address-space limit. The
attacks on the file system and the network are only stopped by the bubblewrap sandbox: their
tests skip where ``bwrap`` is not installed (CI installs it).
"""

from __future__ import annotations

import importlib.util
import json
import platform
import py_compile
import textwrap
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from messenv.leaderboard.__main__ import main
from messenv.leaderboard.evaluate import evaluate_submission
from messenv.leaderboard.protocol import load_protocol
from messenv.leaderboard.records import Results, read_results
from messenv.leaderboard.protocol import Protocol
from messenv.leaderboard.sandbox import SANDBOX_TASKS, WRITABLE, bwrap_path
from messenv.leaderboard.schema import LeaderboardError
from messenv.leaderboard.submission import LoadedSubmission, check_target, load_submission
from messenv.leaderboard.verify import verify_submission
from messenv.recordings.store import write_recording
from tests.conftest import REPO_ROOT, SHARED_DATA
from tests.factories import make_recording
from tests.leaderboard.conftest import write_submission
from tests.leaderboard.hostile_agents import ATTACKS, BASE

needs_bwrap = pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap (bwrap) is not installed; CI installs it")
HONEST = "messenv_agents.ucb.UCB1Agent"
CARRIED_IN_FOLDERS = {
    "xattrs": """
        evidence = [folder for folder in WRITABLE if "user.hostile" in os.listxattr(folder)]
        for folder in WRITABLE:
            try:
                os.setxattr(folder, "user.hostile", b"a lookup table")
            except OSError:
                pass
""",
    "times": """
        mark = 1234567890123456789
        times = {folder: (os.stat(folder).st_atime_ns, os.stat(folder).st_mtime_ns) for folder in WRITABLE}
        evidence = [folder for folder, (atime, mtime) in times.items() if mark in (atime, mtime)]
        for folder in WRITABLE:
            os.utime(folder, ns=(mark, mark))
""",
    "host-settings": """
        host = f"/proc/{os.getppid()}"
        evidence = []
        for name, mark in (("oom_score_adj", "7"), ("coredump_filter", "0000001b")):
            with open(f"{host}/{name}") as setting:
                if setting.read().strip() == mark:
                    evidence.append(name)
            try:
                with open(f"{host}/{name}", "w") as setting:
                    setting.write(mark)
            except OSError:
                pass  # not root: the host's files are not the sandbox user's to write
""",
    "stdin": """
        import fcntl, struct
        lock = struct.pack("hhqqi4x", fcntl.F_WRLCK, 0, 424242, 7, 0)  # bytes 424242..424248 of stdin
        probe = os.open(os.devnull, os.O_RDWR)  # another file description: it sees the locks of stdin's
        unlocked = fcntl.fcntl(probe, fcntl.F_OFD_GETLK, lock)[:2] == struct.pack("h", fcntl.F_UNLCK)
        evidence = [] if unlocked else ["an OFD lock"]
        evidence += ["O_APPEND"] if fcntl.fcntl(0, fcntl.F_GETFL) & os.O_APPEND else []
        try:
            fcntl.fcntl(0, fcntl.F_OFD_SETLK, lock)
            fcntl.fcntl(0, fcntl.F_SETFL, fcntl.fcntl(0, fcntl.F_GETFL) | os.O_APPEND)
        except OSError:
            pass
""",
}
"""Agents that leave a mark on the writable folders themselves (which outlive runs; only their
entries were deleted): a user extended attribute (it carried a per-prompt lookup table that took
a later seed's energy ratio from 26.45 to 1.145), or the folders' access and modification times;
or, as root, on their host's inherited /proc settings (attack4: about 10 and 9 bits a run); or on
the stdin every worker inherited from the host: its OFD byte-range locks and flags (attack5)."""
KERNEL_SURFACE = BASE + """
    def reset(self, spec, seed):
        import ctypes, errno
        libc = ctypes.CDLL(None, use_errno=True)
        long = ctypes.c_long  # syscall() is variadic: each argument must be passed as a whole register
        value = ctypes.create_string_buffer(b"x")
        import mmap, platform
        x86 = platform.machine() == "x86_64"
        shared = os.open(os.__file__, os.O_RDONLY)  # the standard library, bound from the host
        mapped = mmap.mmap(-1, 4096)
        page = ctypes.addressof(ctypes.c_char.from_buffer(mapped))
        buffer = ctypes.create_string_buffer(16)
        iov = (ctypes.c_void_p * 2)(ctypes.addressof(buffer), 16)
        calls = {"unshare user+mount": lambda: libc.unshare(0x10000000 | 0x00020000),
                 "io_uring_setup": lambda: libc.syscall(long(425), long(8), ctypes.create_string_buffer(120)),
                 "mount": lambda: libc.mount(b"none", b"/tmp", b"tmpfs", 0, None),
                 # setxattrat(AT_FDCWD, "/tmp", 0, name, &{value, size 1, flags 0}, 16): Linux 6.13
                 "setxattrat": lambda: libc.syscall(long(463), long(-100), b"/tmp", long(0), b"user.x",
                                                    (ctypes.c_uint64 * 2)(ctypes.addressof(value), 1), long(16)),
                 # opened for writing, nothing written: as root it was the host's setting (attack3)
                 "core_pattern": lambda: libc.open(b"/proc/sys/kernel/core_pattern", 1),
                 "memfd_create": lambda: libc.memfd_create(b"x", 0),
                 # the page cache of a file the sandbox shares with the host: residency and eviction (attack6)
                 "mincore": lambda: libc.mincore(ctypes.c_void_p(page), long(4096), ctypes.create_string_buffer(1)),
                 "fadvise64": lambda: libc.syscall(long(221 if x86 else 223), shared, long(0), long(0), long(4)),
                 "readahead": lambda: libc.readahead(shared, long(0), long(4096)),
                 "cachestat": lambda: libc.syscall(long(451), shared, ctypes.create_string_buffer(16),
                                                   ctypes.create_string_buffer(64), long(0)),
                 "preadv2 RWF_NOWAIT": lambda: libc.syscall(long(327 if x86 else 286), shared, ctypes.byref(iov),
                                                            long(1), long(0), long(0), long(8)),
                 "madvise MADV_PAGEOUT": lambda: libc.madvise(ctypes.c_void_p(page), long(4096), 21)}
        seen = []
        for name, call in calls.items():
            ctypes.set_errno(0)
            seen.append(f"{name}: {errno.errorcode.get(ctypes.get_errno(), 'ok') if call() < 0 else 'ok'}")
        raise RuntimeError("; ".join(seen))
"""
"""Reports what a worker gets from a new user namespace (every capability, a mount of its own:
kernel attack surface), from io_uring (system calls that bypass seccomp), from setxattrat
(x86-64 and arm64 number 463; Debian 12's libseccomp does not know its name), from the kernel's
global settings in /proc/sys (as root, core_pattern ran a script on the host), from memfd_create
(memory that RLIMIT_AS does not count) and from what reads or moves the page cache of a file the
sandbox shares with the host (it carried kilobytes from run to run, attack6)."""
THREADS = BASE + """
    def reset(self, spec, seed):
        import threading
        threading.stack_size(64 * 1024)
        gate, started = threading.Event(), 0
        try:
            for _ in range(1500):
                threading.Thread(target=gate.wait).start()
                started += 1
        except RuntimeError:
            pass
        gate.set()
        raise RuntimeError(f"threads started: {started}")
"""
"""Holds as many threads (each a PID of the host's) as it can: 1,500 when the evaluator ran as
root, whom RLIMIT_NPROC does not bind."""
FIGURES = ("status", "total_energy_j", "mean_quality", "sla_met", "worst_deficit", "exploration_share", "energy_ratio")


@dataclass
class Batch:
    """The evaluated batch: where things are, and what the socket listener received."""

    root: Path
    protocol_path: Path
    home: Path
    secrets: list[str]
    connections: list[bytes]

    def results(self, name: str) -> Results:
        return read_results(self.root / "submissions" / name / "results.json")

    def error(self, name: str) -> str:
        """The failed run's reason: on this private track, the whole text from the evaluator's own
        log, after checking that results.json keeps only its type."""
        (run,) = self.results(name).runs
        assert run.status != "ok" and run.total_energy_j is None, run
        if not (run.error or "").endswith(": details withheld (the protocol has a private track)"):
            return run.error or ""
        folder = str(self.root / "submissions" / name)
        log = (self.home / "leaderboard" / "withheld.jsonl").read_text(encoding="utf-8").splitlines()
        (reason,) = [entry["reason"] for entry in map(json.loads, log) if entry["submission"] == folder]
        assert run.error.partition(":")[0] == reason.partition(":")[0] or run.error.startswith("Error:"), run.error
        return reason


def figures(results: Results) -> list[tuple]:
    return [tuple(getattr(run, name) for name in FIGURES) for run in results.runs]


@pytest.fixture(scope="module")
def listener() -> Iterator[tuple[int, list[bytes]]]:
    """A TCP server on 127.0.0.1 that records whatever connects to it."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    received: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            received.append(connection.recv(100) or b"(connected)")
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], received
    stop.set()
    thread.join()
    server.close()


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory, listener: tuple[int, list[bytes]]) -> Batch:
    """Every attack plus two honest submissions, evaluated in one CLI call."""
    root = tmp_path_factory.mktemp("hostile")
    home = tmp_path_factory.mktemp("hostile_home")
    port, connections = listener
    recording = write_recording(make_recording(n=60), home / "tiny.parquet")
    protocol_path = root / "protocol.yaml"
    protocol_path.write_text(yaml.safe_dump({
        "format": "messenv-leaderboard-protocol/1", "warmup_requests": 5, "time_limit_s": 30.0,
        "step_time_limit_s": 5.0, "memory_limit_mb": 1024, "verify_runs": 1,
        "tracks": [{"name": "one", "description": "one run", "recording": {"path": str(recording)},
                    "alphas": {"alpha_bench": 0.55}, "seeds": [0]}],
    }), encoding="utf-8")
    secrets = [str(home), str(recording), str(REPO_ROOT / "leaderboard" / "submissions"), str(REPO_ROOT / "tests"),
               str(root / "submissions"), str(SHARED_DATA), str(Path.home() / ".cache")]
    targets = root / "outside"
    targets.mkdir()
    params = {
        "file_system": {"paths": secrets},
        "writes": {"paths": [str(targets / "owned.txt"), str(home / "owned.txt"),
                             str(root / "submissions" / "writes" / "owned.txt")]},
        "socket": {"port": port},
    }
    directories = [write_submission(root, "honest-before", HONEST).directory]
    for name, code in ATTACKS.items():
        module = f"hostile_{name}"
        submission = write_submission(root, name.replace("_", "-"), f"{module}.Hostile", params.get(name), code=code)
        directories.append(submission.directory)
    directories.append(write_submission(root, "honest-after", HONEST).directory)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MESSENV_HOME", str(home))
        assert main(["--protocol", str(protocol_path), "evaluate", "--no-progress", *map(str, directories)]) == 0
        write_submission(root / "alone", "honest-alone", HONEST)
        alone = root / "alone" / "submissions" / "honest-alone"
        assert main(["--protocol", str(protocol_path), "evaluate", "--no-progress", str(alone)]) == 0
    return Batch(root, protocol_path, home, secrets, connections)


def test_honest_submissions_keep_their_exact_figures(batch: Batch) -> None:
    alone = read_results(batch.root / "alone" / "submissions" / "honest-alone" / "results.json")
    assert all(run.status == "ok" for run in alone.runs)
    assert figures(batch.results("honest-before")) == figures(alone) == figures(batch.results("honest-after"))


def test_no_attack_scores(batch: Batch) -> None:
    """Every hostile run failed, except two that play on: the nondeterministic agent (which verify
    rejects) and the one that looks for a previous run's traces (finds none, so plays honestly)."""
    for name in ATTACKS:
        results = batch.results(name.replace("_", "-"))
        if name not in ("nondeterministic", "carries_state"):
            assert results.overall.pass_rate == 0.0, name
            assert all(run.status != "ok" for run in results.runs), (name, results.runs)


@needs_bwrap
def test_gc_and_frames_find_no_env(batch: Batch) -> None:
    assert "peek found: []" in batch.error("gc-frames")


@needs_bwrap
def test_the_file_system_holds_no_data(batch: Batch) -> None:
    assert "readable: []" in batch.error("file-system")


@needs_bwrap
def test_nothing_is_written_outside_the_sandbox(batch: Batch) -> None:
    assert "wrote: []" in batch.error("writes")
    assert not list(batch.root.rglob("owned.txt")) and not list(batch.home.rglob("owned.txt"))


@needs_bwrap
def test_no_network(batch: Batch) -> None:
    """Not even a socket: one on loopback left its ports in /proc/net/tcp (TIME_WAIT) for the next run."""
    error = batch.error("socket")
    assert error.startswith("PermissionError"), error
    assert batch.connections == []


def test_patching_at_import_changes_nothing_outside_the_worker(batch: Batch) -> None:
    assert batch.error("patches").startswith("RuntimeError: the patch had no effect: this step cost")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("os-exit", "the agent's worker closed the pipe; it exited with status 0"),
        ("sys-exit", "SystemExit: 0"),
        ("keyboard-interrupt", "KeyboardInterrupt"),
        ("exit-at-import", "the agent's worker did not start (closed the pipe); it exited with status 3"),
        ("swallows-timeouts", "over the 5 s per-step time limit"),
        ("disarms-timeouts", "over the 5 s per-step time limit"),
        ("c-busy-loop", "over the 5 s per-step time limit"),
        ("memory", "MemoryError"),
        ("spawns", "killed by SIGSYS: a forbidden system call (spawning a process"),
        ("forks", "killed by SIGSYS: a forbidden system call (spawning a process"),
        ("forged-reply", "sent a malformed reply (ok carries no value)"),
        ("oversized-reply", "sent an oversized reply (1073741824 bytes"),
        ("reexported-popen", "is defined in"),
    ],
)
def test_attack_fails_its_run_with_a_reason(batch: Batch, name: str, expected: str) -> None:
    assert expected in batch.error(name)


def test_a_private_tracks_results_keep_no_text_of_the_agent(batch: Batch) -> None:
    """An agent that raises with the hidden stream's prompt (in a class of its own naming): the
    published results.json says only "Error", the evaluator's own log has the whole text."""
    (run,) = batch.results("exfiltrates").runs
    assert run.error == "Error: details withheld (the protocol has a private track)"
    assert batch.error("exfiltrates").startswith("PromptWasHere: prompt: ")
    # No failure on this private track publishes its text: not an exit status, a timeout or a malformed reply.
    for name in ATTACKS:
        for failed in (run for run in batch.results(name.replace("_", "-")).runs if run.status != "ok"):
            assert failed.error.endswith(": details withheld (the protocol has a private track)"), (name, failed.error)


def one_track(batch: Batch, seeds: list[int]) -> Protocol:
    """The batch's protocol with its one track played on ``seeds``."""
    protocol = load_protocol(batch.protocol_path)
    return protocol.model_copy(update={"tracks": [protocol.tracks[0].model_copy(update={"seeds": seeds})]})


def test_no_state_is_carried_from_run_to_run(tmp_path: Path, batch: Batch, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four runs of one agent that looks for traces of its previous runs: it finds none, so all pass."""
    monkeypatch.setenv("MESSENV_HOME", str(batch.home))
    submission = write_submission(tmp_path, "carries", "hostile_carries.Hostile", code=ATTACKS["carries_state"])
    results = evaluate_submission(submission, one_track(batch, [0, 1, 2, 3]), show_progress=False)
    assert [run.status for run in results.runs] == ["ok"] * 4, [run.error for run in results.runs]


BUILT_BEFORE = BASE + """
    built = 0

    def __init__(self, **params):
        super().__init__(**params)
        Hostile.built += 1
        evidence = [f"built {Hostile.built} times in this worker"] if Hostile.built > 1 else []
        evidence += ["/tmp/built"] if os.path.exists("/tmp/built") else []
        open("/tmp/built", "w").close()
        if evidence:
            raise RuntimeError(f"a trace of an earlier construction: {evidence}")
"""
"""An agent whose constructor fails if an earlier construction left a trace (the class counter in its
worker, a file in /tmp): the agent built once to check its parameters before the first run must
leave none for the runs."""


@needs_bwrap
def test_the_agent_built_to_check_its_parameters_leaves_no_trace_for_the_runs(
    tmp_path: Path, batch: Batch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MESSENV_HOME", str(batch.home))
    submission = write_submission(tmp_path, "built", "hostile_built.Hostile", code=BUILT_BEFORE)
    results = evaluate_submission(submission, one_track(batch, [0, 1]), show_progress=False)
    assert [run.status for run in results.runs] == ["ok"] * 2, [run.error for run in results.runs]


@needs_bwrap
@pytest.mark.parametrize("channel", CARRIED_IN_FOLDERS)
def test_no_state_is_carried_by_the_writable_folders_themselves(
    tmp_path: Path, batch: Batch, monkeypatch: pytest.MonkeyPatch, channel: str
) -> None:
    """Three runs of an agent that marks /tmp, HOME and /dev/shm themselves (see
    :data:`CARRIED_IN_FOLDERS`) and fails if it finds a mark: none survives to the next run."""
    monkeypatch.setenv("MESSENV_HOME", str(batch.home))
    code = BASE + f"""
    def reset(self, spec, seed):
        super().reset(spec, seed)
        WRITABLE = {WRITABLE!r}
{CARRIED_IN_FOLDERS[channel]}
        if evidence:
            raise RuntimeError(f"a previous run left a mark on {{evidence}}")
"""
    submission = write_submission(tmp_path, "marks", "hostile_marks.Hostile", code=code)
    results = evaluate_submission(submission, one_track(batch, [0, 1, 2]), show_progress=False)
    assert [run.status for run in results.runs] == ["ok"] * 3, [run.error for run in results.runs]


def failure_of(tmp_path: Path, batch: Batch, code: str, memory_mb: int = 1024) -> str:
    """The reason of the one (failed) run of an agent whose module is ``code``, on the batch's
    protocol (with an address-space limit of ``memory_mb``)."""
    submission = write_submission(tmp_path, "probe", "hostile_probe.Hostile", code=code)
    return failure_reason(batch, submission, memory_mb)


def failure_reason(batch: Batch, submission: LoadedSubmission, memory_mb: int = 1024) -> str:
    """The reason of the one (failed) run of ``submission`` on the batch's protocol, as the
    evaluator logs it (a private track's results.json keeps no text of the agent)."""
    protocol = one_track(batch, [0]).model_copy(update={"memory_limit_mb": memory_mb})
    (run,) = evaluate_submission(submission, protocol, show_progress=False).runs
    assert run.status == "error", run
    log = (batch.home / "leaderboard" / "withheld.jsonl").read_text(encoding="utf-8").splitlines()
    return [entry["reason"] for entry in map(json.loads, log) if entry["submission"] == str(submission.directory)][-1]


RAN_THE_BYTECODE = BASE + """
    def reset(self, spec, seed):
        raise RuntimeError("the shipped bytecode ran, not the source")
"""
"""The code of a pyc shipped beside an honest source: readers see the source, CPython ran this."""


def ship_bytecode(source: str, tmp_path: Path, pyc: Path) -> None:
    """Compile ``source`` into ``pyc`` as an unchecked-hash pyc (PEP 552): CPython runs it
    instead of the module's ``.py`` whatever that holds."""
    compiled = tmp_path / "compiled_elsewhere.py"
    compiled.write_text(textwrap.dedent(source), encoding="utf-8")
    pyc.parent.mkdir(exist_ok=True)
    py_compile.compile(str(compiled), cfile=str(pyc), doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)


def test_the_bytecode_a_submission_ships_is_never_run(
    tmp_path: Path, batch: Batch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An honest module with a pyc of other code in its ``__pycache__``: the source is what runs."""
    monkeypatch.setenv("MESSENV_HOME", str(batch.home))
    submission = write_submission(tmp_path, "shipped-pyc", "hostile_pyc.Hostile", code=BASE)
    cached = importlib.util.cache_from_source(str(submission.directory / "hostile_pyc.py"))
    ship_bytecode(RAN_THE_BYTECODE, tmp_path, Path(cached))
    results = evaluate_submission(submission, one_track(batch, [0]), show_progress=False)
    assert [run.status for run in results.runs] == ["ok"], [run.error for run in results.runs]


def test_a_module_shipped_as_bytecode_only_is_not_imported(
    tmp_path: Path, batch: Batch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sourceless ``helper.pyc`` beside the agent's module: importing it fails the run."""
    monkeypatch.setenv("MESSENV_HOME", str(batch.home))
    code = BASE.replace("import os, sys", "import os, sys\nimport hostile_helper")
    submission = write_submission(tmp_path, "sourceless", "hostile_sourceless.Hostile", code=code)
    ship_bytecode("VALUE = 1\n", tmp_path, submission.directory / "hostile_helper.pyc")
    assert "No module named 'hostile_helper'" in failure_reason(batch, submission)


@needs_bwrap
@pytest.mark.skipif(platform.machine() not in ("x86_64", "aarch64"), reason="system call numbers of x86-64 and arm64")
def test_no_user_namespace_mount_or_io_uring(tmp_path: Path, batch: Batch, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESSENV_HOME", str(batch.home))
    reason = failure_of(tmp_path, batch, KERNEL_SURFACE)
    expected = (
        "unshare user+mount: EPERM; io_uring_setup: EPERM; mount: EPERM; setxattrat: EPERM; core_pattern: EROFS; "
        "memfd_create: EPERM; mincore: EPERM; fadvise64: EPERM; readahead: EPERM; cachestat: EPERM; "
        "preadv2 RWF_NOWAIT: EPERM; madvise MADV_PAGEOUT: EPERM"
    )
    assert reason.startswith(f"RuntimeError: {expected} "), reason


@needs_bwrap
def test_threads_are_bounded_even_for_root(tmp_path: Path, batch: Batch, monkeypatch: pytest.MonkeyPatch) -> None:
    """RLIMIT_NPROC as a normal user, the sandbox's pids cgroup as root (whom RLIMIT_NPROC does not
    bind). 4 GiB of address space, so that the threads' stacks and malloc arenas do not stop them first."""
    monkeypatch.setenv("MESSENV_HOME", str(batch.home))
    reason = failure_of(tmp_path, batch, THREADS, memory_mb=4096)
    started = int(reason.removeprefix("RuntimeError: threads started: ").partition(" ")[0])
    assert 0 < started < SANDBOX_TASKS, reason


RELAY = BASE + """
    def reset(self, spec, seed):
        super().reset(spec, seed)
        import threading
        self.first = os.getpid() < 10  # the first worker of a sandbox; each run moves the counter by 20
        for thread in [threading.Thread(target=int) for _ in range(20)]:
            thread.start()
            thread.join()

    def act(self, obs):
        return self.n_models - 1 if self.first else 0
"""
"""Plays the largest model in its sandbox's first run and the cheapest in every later one: what a
relay of knowledge from the first run to the others (through the PID counter) looks like."""


@needs_bwrap
def test_a_run_that_depends_on_an_earlier_run_of_its_sandbox_does_not_verify(
    tmp_path: Path, batch: Batch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Evaluated, only the first run plays the largest model, and it is the one run that passes, so
    it is the best-scoring run, which verify re-played first: the later runs then re-played in
    the same sandbox and matched. Each re-play has a sandbox of its own now."""
    monkeypatch.setenv("MESSENV_HOME", str(batch.home))
    submission = write_submission(tmp_path, "relay", "hostile_relay.Hostile", code=RELAY)
    protocol = one_track(batch, [0, 1, 2])
    results = evaluate_submission(submission, protocol, show_progress=False)
    assert [run.sla_met for run in results.runs] == [True, False, False], results.runs
    verdict = verify_submission(submission, protocol, sample=3, seed=0, allow_unsandboxed=False)
    assert not verdict.ok, verdict.replayed
    assert any("seed 1: total_energy_j" in reason and "when recomputed" in reason for reason in verdict.reasons)


def test_nondeterminism_is_rejected_by_verify(batch: Batch, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESSENV_HOME", str(batch.home))
    submission = load_submission(batch.root / "submissions" / "nondeterministic")
    verdict = verify_submission(submission, load_protocol(batch.protocol_path), sample=10, seed=0,
                                allow_unsandboxed=bwrap_path() is None)
    assert not verdict.ok
    assert any("when re-played" in reason or "when recomputed" in reason for reason in verdict.reasons)


@pytest.mark.parametrize(
    ("target", "code", "expected"),
    [
        ("subprocess.Popen", None, "module 'subprocess' is not beside submission.yaml and no package is declared"),
        ("os.system", None, "module 'os' is not beside submission.yaml"),
        ("hostile_function.make_agent", "def make_agent():\n    return None\n", "defines no class 'make_agent'"),
        ("csv.Agent", "class Agent:\n    pass\n", "csv.py would stand in for the module 'csv'"),
        ("numpy.Agent", "class Agent:\n    pass\n", "numpy.py would stand in for the module 'numpy'"),
        ("messenv_agents.fixed.LargestOnlyAgent", None, "no package is declared"),
    ],
    ids=["popen", "os-system", "function", "stdlib-shadow", "numpy-shadow", "undeclared-package"],
)
def test_a_target_that_is_not_the_submissions_agent_class_is_refused(
    tmp_path: Path, target: str, code: str | None, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    submission = write_submission(tmp_path, "refused", target, code=code, package=None)
    with pytest.raises(LeaderboardError, match="agent.target") as error:
        check_target(submission)
    assert expected in str(error.value)
    protocol = str(REPO_ROOT / "leaderboard" / "protocol.yaml")
    assert main(["--protocol", protocol, "evaluate", str(submission.directory)]) == 2
    assert expected in capsys.readouterr().err
    assert not submission.results_path.exists()
