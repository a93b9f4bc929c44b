"""Live zoos: run real models (vLLM or transformers) on real requests and measure their energy.

This is how new recordings are made (``python -m messenv.record``, the "data capturing" step of
the MESS+ reference code) and how an environment can be backed by models instead of a recording
(:class:`~messenv.live.backend.LiveBackend`, :class:`~messenv.live.env.LiveMessEnv`). Engines and
energy meters import their heavy packages (torch, transformers, vllm, zeus) only when used.
"""

from messenv.live.backend import LiveBackend
from messenv.live.energy import EnergyReading, EstimateMeter, ZeusMeter, make_meter
from messenv.live.recorder import RecordResult, RecordSettings, record
from messenv.live.runner import ModelFailure, Outcome, RunSettings, run_request
from messenv.live.taskfile import TaskItem, load_tasks
from messenv.live.zoo import ModelSpec, ZooSpec, load_zoo, zoo_from_config

__all__ = [
    "EnergyReading",
    "EstimateMeter",
    "LiveBackend",
    "ModelFailure",
    "ModelSpec",
    "Outcome",
    "RecordResult",
    "RecordSettings",
    "RunSettings",
    "TaskItem",
    "ZeusMeter",
    "ZooSpec",
    "load_tasks",
    "load_zoo",
    "make_meter",
    "record",
    "run_request",
    "zoo_from_config",
]
