"""The schema of ``python -m messenv.record``'s configuration, registered in Hydra's ConfigStore.

``conf/record.yaml`` (package ``messenv_conf``) composes a zoo (``conf/zoo/*.yaml``) and a task
(``conf/task/*.yaml``) into :class:`RecordConfig`. Hydra puts the result in struct mode, so a
misspelt key (``energy.metre=zeus``, ``batchsize=8``) fails before a model is loaded. The zoo is
free-form here and checked field by field by :func:`messenv.live.zoo.zoo_from_config`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from messenv.config import register_help_resolver


@dataclass
class TaskConfig:
    """Which requests to record.

    Attributes:
        name: task name, used in the default recording name.
        path: JSONL task file, or ``pkg://messenv.live.tasks/<file>`` for a shipped sample.
        limit: record only the first ``limit`` requests (smoke runs).
    """

    name: str = MISSING
    path: str = MISSING
    limit: Optional[int] = None


@dataclass
class EnergyConfig:
    """How energy is obtained (see :mod:`messenv.live.energy`).

    Attributes:
        meter: ``zeus`` (measured: NVML GPU counters, RAPL where readable) or ``estimate``
            (wall time × ``estimate_watts``, flagged as an estimate everywhere).
        estimate_watts: assumed power draw in W for ``meter=estimate``.
        include: components summed into a request's energy: ``gpu`` (as the MESS+ recordings),
            ``cpu``, ``dram``.
        approx_instant_energy: Zeus: fill windows shorter than the NVML counter's update period
            with instant power × time instead of reading 0 J.
    """

    meter: str = "zeus"
    estimate_watts: Optional[float] = None
    include: list[str] = field(default_factory=lambda: ["gpu"])
    approx_instant_energy: bool = True


@dataclass
class ScoringConfig:
    """How answers are scored (see :class:`messenv.live.runner.RunSettings`)."""

    quality_metric: str = "acc"
    max_new_tokens: int = 32
    until: list[str] = field(default_factory=lambda: ["\n\n", "Question:"])
    target_delimiter: str = " "
    timeout_s: Optional[float] = None


@dataclass
class RecordConfig:
    """Top level of ``conf/record.yaml``.

    Attributes:
        zoo: the zoo (a ``conf/zoo`` file).
        task: the task file (a ``conf/task`` file).
        energy: the energy meter.
        scoring: the scoring settings.
        name: recording name; default ``<zoo>-<task>``.
        out_dir: run directory (parts, manifest, outputs); resumed when it holds the same run.
        batch_size: requests per checkpoint (part file) and model.
        resume: continue a run found in ``out_dir`` (``false``: refuse to touch it).
        on_error: ``record`` keeps a failed (request, model) as a row with its error and leaves the
            request out of the recording; ``raise`` stops at the first failure.
        seed: engine seed.
        progress: show a progress bar.
    """

    zoo: Any = MISSING
    task: TaskConfig = field(default_factory=TaskConfig)
    energy: EnergyConfig = field(default_factory=EnergyConfig)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    name: str = MISSING
    out_dir: str = MISSING
    batch_size: int = 16
    resume: bool = True
    on_error: str = "record"
    seed: int = 0
    progress: bool = True


def register_configs() -> None:
    """Register :class:`RecordConfig` as ``record_base_config`` (``conf/record.yaml`` extends it)."""
    ConfigStore.instance().store(name="record_base_config", node=RecordConfig)
    register_help_resolver()
