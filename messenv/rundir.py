"""Claiming a run folder, so that parallel runs never lose or mix results.

Hydra writes ``.hydra/config.yaml`` into the run folder before the task starts, and the task
writes ``results.json`` at its end. Two runs given one folder would each write both, leaving a
folder whose results and config come from different runs; Hydra's default folder names, to the
second, collide whenever runs start together (``messenv-run seed=0 & messenv-run seed=1 &``).

Two defences:

- the default folders (``conf/config.yaml``) carry microseconds, the agent and the seed, so runs
  started together get folders of their own;
- :class:`ClaimRunDir`, a Hydra callback, claims the folder *before* Hydra writes into it: it
  creates a lock file with ``O_EXCL`` (atomic on POSIX file systems), so a second run into a folder
  in use stops with one line naming the other run, and it refuses a folder that already holds an
  earlier run's ``results.json`` (for a sweep folder, its ``multirun.yaml``) unless
  ``overwrite=true``. The lock is removed when the run ends, also on an error exit; a lock left by
  a killed process on this host is taken over.
"""

from __future__ import annotations

import atexit
import os
import socket
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from messenv.config import ConfigError

__all__ = ["CREATED", "LOCK_NAME", "ClaimRunDir", "claim", "release"]

LOCK_NAME = ".messenv-run.lock"
EXIT_REFUSED = 2
"""Exit status of a refused folder: messenv-run's status for a configuration that cannot run."""
CREATED: dict[Path, Path] = {}
"""Each folder :func:`claim` created (resolved), with the topmost folder it created for it, so that
a run that fails before it starts can remove them again (:func:`messenv.run.remove_unstarted_run`)
and never a folder that was there before."""


def _holder() -> str:
    return f"{socket.gethostname()} {os.getpid()}"


def _is_stale(lock: Path) -> bool:
    """Whether ``lock`` was left by a process of this host that is no longer running."""
    try:
        host, pid = lock.read_text(encoding="utf-8").split()
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return host == socket.gethostname()
    except (OSError, ValueError):  # unreadable, half-written, or another user's live process
        return False
    return False


def _take_lock(lock: Path, setting: str) -> None:
    for _ in range(2):
        try:
            descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if _is_stale(lock):
                lock.unlink(missing_ok=True)
                continue
            holder = lock.read_text(encoding="utf-8").strip() or "starting"
            raise ConfigError(
                f"{lock.parent}: another run (host and pid: {holder}) is writing into this folder; "
                f"give this run its own {setting} (or delete {lock} if that run is gone)"
            ) from None
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(_holder() + "\n")
        return


def release(directory: Path) -> None:
    """Remove this process's lock on ``directory`` (a lock held by another process is left alone)."""
    lock = directory / LOCK_NAME
    try:
        if lock.read_text(encoding="utf-8").strip() == _holder():
            lock.unlink()
    except OSError:
        pass


def claim(directory: Path, marker: str, overwrite: bool, setting: str) -> None:
    """Lock ``directory`` for this process; refuse it if it holds ``marker`` of an earlier run.

    Args:
        directory: the run (or sweep) folder; created if absent.
        marker: the file an earlier, finished run left there (``results.json``, ``multirun.yaml``).
        overwrite: replace an earlier run's files instead of refusing.
        setting: the option that names the folder, for the error message (``hydra.run.dir``).

    Raises:
        ConfigError: another live run holds the folder, or it holds an earlier run's ``marker``.
    """
    missing = [folder for folder in (directory, *directory.parents) if not folder.exists()]
    directory.mkdir(parents=True, exist_ok=True)
    if missing:
        CREATED[directory.resolve()] = missing[-1].resolve()
    _take_lock(directory / LOCK_NAME, setting)
    if (directory / marker).exists() and not overwrite:
        release(directory)
        raise ConfigError(
            f"{directory} holds an earlier run's {marker}; give this run its own {setting}, "
            "or pass overwrite=true to replace it"
        )
    atexit.register(release, directory)


class ClaimRunDir(Callback):
    """Hydra callback (``hydra.callbacks`` in ``conf/config.yaml``): claim the run or sweep folder.

    Hydra turns an exception raised by a callback into a warning and starts the run anyway, so a
    refused folder ends the process here: one line on stderr, prefixed with ``program``, and exit
    status 2, as every other configuration error of ``messenv-run``.
    """

    def __init__(self, program: str = "messenv-run") -> None:
        self.program = program

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._claim(config, "run", "results.json")

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        release(Path(config.hydra.run.dir))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._claim(config, "sweep", "multirun.yaml")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        release(Path(config.hydra.sweep.dir))

    def _claim(self, config: DictConfig, mode: str, marker: str) -> None:
        # Resolve the folder once and store it: the claimed folder is then the one Hydra writes to,
        # even if the clock ticks before Hydra reads it again.
        directory = Path(str(OmegaConf.select(config, f"hydra.{mode}.dir")))
        with read_write(config), open_dict(config):
            config.hydra[mode].dir = str(directory)
        try:
            claim(directory, marker, bool(config.get("overwrite", False)), f"hydra.{mode}.dir")
        except (ConfigError, OSError) as error:  # OSError: the folder cannot be created (a file is there)
            print(f"{self.program}: error: {error}", file=sys.stderr)
            raise SystemExit(EXIT_REFUSED) from None
