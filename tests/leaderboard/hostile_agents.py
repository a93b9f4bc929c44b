"""Hostile submissions for tests/leaderboard/test_hostile.py: each is the source of one agent module.

Every agent here tries one attack written from issue 9's list. Where the attack needs to report
what it found (a peek, a write), it ends its run by raising with its findings, so the test reads
the outcome from the run's error; an attack that worked would instead show up in the findings
(or, for the attacks on the scoring, in a score that differs from the honest one).
"""

from __future__ import annotations

BASE = """
import os, sys
from messenv_agents.base import BaseAgent


def reached(paths, touch):
    found = []
    for path in paths:
        try:
            touch(path)
            found.append(path)
        except OSError:
            pass
    return found


class Hostile(BaseAgent):
    name = "hostile"

    def __init__(self, paths=(), port=0):
        super().__init__()
        self.params = {"paths": paths, "port": port}

    def act(self, obs):
        return self.n_models - 1
"""

ATTACKS: dict[str, str] = {
    # --- peeking for the env, the recording or other data -------------------------------------
    "gc_frames": BASE + """
    def reset(self, spec, seed):
        super().reset(spec, seed)
        import gc, numpy as np
        found = [type(o).__name__ for o in gc.get_objects()
                 if type(o).__name__ in ("MessEnv", "Recording", "OutcomeTable", "TrackContext")]
        found += [f"array{o.shape}" for o in gc.get_objects() if isinstance(o, np.ndarray) and o.size >= 60]
        frame = sys._getframe()
        while frame is not None:
            found += [f"frame local {k}" for k, v in frame.f_locals.items()
                      if type(v).__name__ in ("MessEnv", "Recording", "TrackContext", "RunRecord")]
            frame = frame.f_back
        raise RuntimeError(f"peek found: {sorted(set(found))}")
""",
    "file_system": BASE + """
    def reset(self, spec, seed):
        super().reset(spec, seed)
        read = lambda path: os.listdir(path) if os.path.isdir(path) else open(path, "rb").read(1)
        raise RuntimeError(f"readable: {reached(self.params['paths'], read)}")
""",
    "writes": BASE + """
    def reset(self, spec, seed):
        super().reset(spec, seed)
        write = lambda path: open(path, "w").write("owned")
        raise RuntimeError(f"wrote: {reached(self.params['paths'], write)}")
""",
    "socket": BASE + """
    def reset(self, spec, seed):
        super().reset(spec, seed)
        import socket
        socket.create_connection(("127.0.0.1", self.params["port"]), timeout=2).sendall(b"leak")
""",
    # --- patching what scores the run, at import ------------------------------------------------
    "patches": """
import builtins
import numpy
import messenv.env.mess_env
import messenv.harness

original = messenv.env.mess_env.MessEnv._outcome
messenv.env.mess_env.MessEnv._outcome = lambda self, row, action, explored: (1.0, 0.0, 0.0, None)
messenv.harness.stream_outcomes = lambda env: (None, None)
numpy.sum = lambda *args, **kwargs: 0.0
builtins.sum = lambda *args, **kwargs: 0.0
""" + BASE + """
    def update(self, obs, action, reward, info):
        if info["energy_j"] != 0.0:
            raise RuntimeError(f"the patch had no effect: this step cost {info['energy_j']} J")
""",
    # --- ending the process --------------------------------------------------------------------
    "os_exit": BASE + """
    def act(self, obs):
        os._exit(0)
""",
    "sys_exit": BASE + """
    def act(self, obs):
        sys.exit(0)
""",
    "keyboard_interrupt": BASE + """
    def act(self, obs):
        raise KeyboardInterrupt
""",
    "exit_at_import": "import os\nos._exit(3)\n" + BASE,
    # --- time -----------------------------------------------------------------------------------
    "swallows_timeouts": BASE + """
    def act(self, obs):
        import time
        while True:
            try:
                time.sleep(0.01)
            except BaseException:
                pass
""",
    "disarms_timeouts": BASE + """
    def act(self, obs):
        import signal
        signal.setitimer(signal.ITIMER_REAL, 0)
        for name in ("SIGALRM", "SIGTERM", "SIGINT", "SIGXCPU"):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
        while True:
            pass
""",
    "c_busy_loop": BASE + """
    def act(self, obs):
        import re
        re.match(r"(a+)+$", "a" * 64 + "b")  # catastrophic backtracking, all inside C
        return 0
""",
    # --- resources ------------------------------------------------------------------------------
    "memory": BASE + """
    def act(self, obs):
        import numpy as np
        self.hoard = np.ones(8 << 30, dtype=np.uint8)
        return 0
""",
    "spawns": BASE + """
    def reset(self, spec, seed):
        super().reset(spec, seed)
        import subprocess
        self.children = [subprocess.Popen(["sleep", "30"]) for _ in range(50)]
""",
    "forks": BASE + """
    def reset(self, spec, seed):
        super().reset(spec, seed)
        for _ in range(50):
            if os.fork() == 0:
                os._exit(0)
""",
    # --- the pipe -------------------------------------------------------------------------------
    "forged_reply": BASE + """
    def act(self, obs):
        import struct
        for fd in map(int, os.listdir("/proc/self/fd")):
            try:
                os.write(fd, struct.pack("!I", 9) + b'{"ok": 1}')
            except OSError:
                pass
        return 0
""",
    "oversized_reply": BASE + """
    def act(self, obs):
        import struct
        for fd in map(int, os.listdir("/proc/self/fd")):
            try:
                os.write(fd, struct.pack("!I", 1 << 30))
            except OSError:
                pass
        return 0
""",
    # --- state carried from one run to the next -------------------------------------------------
    "carries_state": BASE + """
    runs_seen = 0

    def reset(self, spec, seed):
        import resource
        super().reset(spec, seed)
        Hostile.runs_seen += 1
        marker, hidden = "/tmp/hostile-marker", "/dev/shm/hidden"
        evidence = [f"class counter {Hostile.runs_seen}"] if Hostile.runs_seen > 1 else []
        evidence += [f"file {marker}"] if os.path.exists(marker) else []
        try:  # a folder made unreadable, for rmtree to skip
            os.chmod(hidden, 0o700)
            evidence += [f"unreadable folder {os.listdir(hidden)}"]
        except OSError:
            pass
        for reopen in (lambda: os.dup(1), lambda: os.open("/proc/self/fd/1", os.O_RDONLY)):
            try:  # the sandbox's output file, read back through the worker's stdout or reopened
                fd = reopen()
                os.lseek(fd, 0, os.SEEK_SET)
                if b"STATE" in os.read(fd, 1 << 16):
                    evidence.append("STATE in stdout")
            except OSError:
                pass
        if resource.getrlimit(resource.RLIMIT_RTTIME)[0] == 123456789:
            evidence.append("RLIMIT_RTTIME set on the host")
        if os.getpriority(os.PRIO_PROCESS, 0) == 7:
            evidence.append("priority set on the host")
        open(marker, "w").close()
        os.makedirs(f"{hidden}/inner", exist_ok=True)
        open(f"{hidden}/inner/note", "w").close()
        os.chmod(hidden, 0)
        os.write(1, b"STATE from an earlier run; ")
        for plant in (lambda: resource.prlimit(os.getppid(), resource.RLIMIT_RTTIME, (123456789, 123456789)),
                      lambda: os.setpriority(os.PRIO_PROCESS, os.getppid(), 7),
                      lambda: os.setpriority(os.PRIO_PGRP, 0, 7), lambda: os.setpriority(os.PRIO_USER, 0, 7)):
            try:
                plant()
            except OSError:
                pass
        if evidence:
            raise RuntimeError(f"a previous run left: {evidence}")
""",
    # --- nondeterminism -------------------------------------------------------------------------
    "nondeterministic": BASE + """
    def act(self, obs):
        return os.urandom(1)[0] % self.n_models
""",
    # --- targets that are not the submission's agent class --------------------------------------
    "reexported_popen": "from subprocess import Popen as Hostile\n",
    # --- carrying data out: a failed run's text would be published in results.json ------------
    "exfiltrates": BASE + """
class PromptWasHere(Exception):
    pass


class Hostile(Hostile):
    def act(self, obs):
        raise PromptWasHere("prompt: " + obs["prompt"])
""",
}
