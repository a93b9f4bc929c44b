"""Zoo definitions: which models a live zoo runs, on which engine and GPUs, cheapest first.

A zoo config (``conf/zoo/*.yaml``) follows the MESS+ reference configs: a mapping from a model
label to its engine, model id or local path, GPU indices, maximum sequence length, GPU memory share
and quantization. The models are listed in ascending cost, which the reference (and MESS+'s
"answer with the largest model" rule) relies on; :func:`zoo_from_config` checks that order against
each model's declared parameter count, checks every field, and checks that the memory shares of
the models deployed side by side on one GPU fit in that GPU. :func:`load_zoo` reads one such file
on its own (outside ``python -m messenv.record``), e.g. to build a live environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import InterpolationToMissingValueError, MissingMandatoryValue, OmegaConfBaseException

from messenv.recordings.errors import RecordingError

ENGINES = ("vllm", "transformers")


class ZooError(RecordingError):
    """An invalid zoo definition; the message names the zoo, the model and the field."""


@dataclass(frozen=True)
class ModelSpec:
    """One model of a zoo.

    Attributes:
        label: the model's name in recordings and actions (``"small"``, ``"large"``).
        model: Hugging Face model id or local directory.
        engine: ``"vllm"`` (production, CUDA) or ``"transformers"`` (CPU or GPU, small models).
        params_b: parameter count in billions; the zoo must list models in ascending order of it.
        gpu_indices: CUDA devices the model runs on (tensor parallel over several); empty = CPU.
        max_seq_len: context length the engine is built with; longer requests are failures.
        gpu_memory_utilization: share of each GPU's memory the vLLM engine may take (required for
            vLLM: the zoo's models share the GPUs side by side).
        quantization: vLLM quantization method (``"bitsandbytes"``, ``"awq"``, ...) or ``None``.
        dtype: weight dtype (``"auto"``, ``"float16"``, ``"bfloat16"``, ``"float32"``).
        tokenizer: tokenizer id or path when it differs from ``model``.
        revision: model revision (branch, tag or commit) to pin.
        device: transformers engine only: torch device; default ``cuda:<first gpu>`` or ``cpu``.
        enforce_eager: vLLM only: skip CUDA graph capture (the reference does; saves memory).
        engine_args: extra keyword arguments passed verbatim to the engine constructor.
    """

    label: str
    model: str
    engine: str
    params_b: float
    gpu_indices: tuple[int, ...] = ()
    max_seq_len: int = 2048
    gpu_memory_utilization: float | None = None
    quantization: str | None = None
    dtype: str = "auto"
    tokenizer: str | None = None
    revision: str | None = None
    device: str | None = None
    enforce_eager: bool = True
    engine_args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ZooSpec:
    """A validated zoo: models cheapest first.

    Attributes:
        name: zoo name, used in recording names (``"llama3-messplus"``).
        models: the models, ascending in cost.
        description: one line for the recording's metadata (model family, hardware).
    """

    name: str
    models: tuple[ModelSpec, ...]
    description: str = ""

    @property
    def labels(self) -> tuple[str, ...]:
        """Model labels, cheapest first."""
        return tuple(spec.label for spec in self.models)

    @property
    def gpu_indices(self) -> tuple[int, ...]:
        """Every GPU any model of the zoo runs on, sorted."""
        return tuple(sorted({index for spec in self.models for index in spec.gpu_indices}))

    def to_dict(self) -> dict[str, Any]:
        """The zoo as plain data (for the recording's metadata and the resume manifest)."""
        return {
            "name": self.name,
            "description": self.description,
            "models": {
                spec.label: {
                    key: (
                        list(value)
                        if isinstance(value, tuple)
                        else dict(value)
                        if isinstance(value, Mapping)
                        else value
                    )
                    for key, value in asdict(spec).items()
                    if key != "label"
                }
                for spec in self.models
            },
        }


_MODEL_FIELDS = tuple(f.name for f in fields(ModelSpec) if f.name != "label")


def zoo_from_config(config: Mapping[str, Any]) -> ZooSpec:
    """Validate a zoo config (a mapping, e.g. an OmegaConf node turned into a dict).

    Raises:
        ZooError: on a missing or unknown field, a bad value, models out of cost order, or memory
            shares on one GPU that add up to more than the GPU.
    """
    name = config.get("name")
    if not isinstance(name, str) or not name:
        raise ZooError(f"zoo config: 'name' must be a non-empty string, got {name!r}")
    unknown = sorted(set(config) - {"name", "description", "models", "root"})
    if unknown:
        raise ZooError(f"zoo {name!r}: unknown field(s) {unknown}")
    models = config.get("models")
    if not isinstance(models, Mapping) or len(models) < 2:
        raise ZooError(f"zoo {name!r}: 'models' must map at least 2 model labels to their settings")
    specs = tuple(_model_spec(name, str(label), entry) for label, entry in models.items())
    _check_order(name, specs)
    _check_memory_shares(name, specs)
    return ZooSpec(name=name, models=specs, description=str(config.get("description") or ""))


def load_zoo(name_or_path: str | os.PathLike[str], **fields: Any) -> ZooSpec:
    """A zoo YAML read on its own: a name of ``conf/zoo`` (``"tiny-random"``) or a path to your file.

    ``fields`` set top-level fields before interpolations are resolved, e.g.
    ``load_zoo("tiny-random", root="/tmp/tiny-zoo")`` (the ``zoo.root=`` of ``python -m messenv.record``).

    Raises:
        ZooError: no such zoo (the shipped names are listed), a mandatory field left unset (``???``)
            or an unresolvable interpolation (named), or anything :func:`zoo_from_config` rejects.
    """
    path = Path(name_or_path)
    shipped = resources.files("messenv_conf") / "zoo"
    if not (isinstance(name_or_path, os.PathLike) or path.suffix in (".yaml", ".yml")):
        if not (shipped / f"{name_or_path}.yaml").is_file():
            names = sorted(p.name.removesuffix(".yaml") for p in shipped.iterdir() if p.name.endswith(".yaml"))
            raise ZooError(f"no zoo named {str(name_or_path)!r}; shipped: {', '.join(names)} (or pass a .yaml path)")
        path = Path(str(shipped / f"{name_or_path}.yaml"))
    if not path.is_file():
        raise ZooError(f"{path}: no such zoo file")
    try:
        config = OmegaConf.load(path)
        for key, value in fields.items():
            OmegaConf.update(config, key, value)
        container = OmegaConf.to_container(config, resolve=True)
    except OmegaConfBaseException as error:
        missing = isinstance(error, (MissingMandatoryValue, InterpolationToMissingValueError))
        hint = " (give it as a keyword argument of load_zoo)" if missing else ""
        raise ZooError(f"{path}: {' '.join(str(error).splitlines()[0].split())}{hint}") from error
    return zoo_from_config(container)


def _model_spec(zoo: str, label: str, entry: Any) -> ModelSpec:
    where = f"zoo {zoo!r}, model {label!r}"
    if not isinstance(entry, Mapping):
        raise ZooError(f"{where}: expected a mapping of settings, got {type(entry).__name__}")
    unknown = sorted(set(entry) - set(_MODEL_FIELDS))
    if unknown:
        raise ZooError(f"{where}: unknown field(s) {unknown}; allowed: {list(_MODEL_FIELDS)}")
    for required in ("model", "engine", "params_b"):
        if entry.get(required) in (None, ""):
            raise ZooError(f"{where}: field {required!r} is required")
    engine = entry["engine"]
    if engine not in ENGINES:
        raise ZooError(f"{where}: engine must be one of {list(ENGINES)}, got {engine!r}")
    params_b = _positive_number(entry["params_b"], f"{where}: params_b")
    gpu_indices = entry.get("gpu_indices") or ()
    if not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in gpu_indices):
        raise ZooError(f"{where}: gpu_indices must be a list of non-negative integers, got {list(gpu_indices)}")
    max_seq_len = entry.get("max_seq_len", 2048)
    if not isinstance(max_seq_len, int) or isinstance(max_seq_len, bool) or max_seq_len <= 0:
        raise ZooError(f"{where}: max_seq_len must be a positive integer, got {max_seq_len!r}")
    share = entry.get("gpu_memory_utilization")
    if share is not None and not (isinstance(share, (int, float)) and 0.0 < share <= 1.0):
        raise ZooError(f"{where}: gpu_memory_utilization must be in (0, 1], got {share!r}")
    if engine == "vllm":
        if not gpu_indices:
            raise ZooError(f"{where}: the vllm engine needs gpu_indices (vLLM runs on CUDA GPUs)")
        if share is None:
            raise ZooError(
                f"{where}: the vllm engine needs gpu_memory_utilization (models share the GPUs side by side)"
            )
        if entry.get("device") is not None:
            raise ZooError(f"{where}: 'device' applies to the transformers engine; vllm uses gpu_indices")
    elif entry.get("quantization") is not None:
        raise ZooError(f"{where}: quantization {entry['quantization']!r} needs the vllm engine")
    engine_args = entry.get("engine_args") or {}
    if not isinstance(engine_args, Mapping):
        raise ZooError(f"{where}: engine_args must be a mapping")
    return ModelSpec(
        label=label,
        model=str(entry["model"]),
        engine=engine,
        params_b=params_b,
        gpu_indices=tuple(gpu_indices),
        max_seq_len=max_seq_len,
        gpu_memory_utilization=None if share is None else float(share),
        quantization=entry.get("quantization"),
        dtype=str(entry.get("dtype", "auto")),
        tokenizer=entry.get("tokenizer"),
        revision=entry.get("revision"),
        device=entry.get("device"),
        enforce_eager=bool(entry.get("enforce_eager", True)),
        engine_args=dict(engine_args),
    )


def _positive_number(value: Any, where: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
        raise ZooError(f"{where} must be a positive number, got {value!r}")
    return float(value)


def _check_order(zoo: str, specs: tuple[ModelSpec, ...]) -> None:
    labels = [spec.label for spec in specs]
    if len(set(labels)) != len(labels):
        raise ZooError(f"zoo {zoo!r}: duplicate model labels {labels}")
    for cheaper, dearer in pairwise(specs):
        if dearer.params_b < cheaper.params_b:
            raise ZooError(
                f"zoo {zoo!r}: models must be listed cheapest first (ascending params_b), but "
                f"{dearer.label!r} ({dearer.params_b} B) follows {cheaper.label!r} ({cheaper.params_b} B)"
            )


def _check_memory_shares(zoo: str, specs: tuple[ModelSpec, ...]) -> None:
    """vLLM engines deployed side by side each reserve their share of every GPU they use."""
    totals: dict[int, float] = {}
    for spec in specs:
        if spec.engine == "vllm":
            for index in spec.gpu_indices:
                totals[index] = totals.get(index, 0.0) + float(spec.gpu_memory_utilization or 0.0)
    for index, total in sorted(totals.items()):
        if total > 1.0 + 1e-9:
            raise ZooError(f"zoo {zoo!r}: the vllm models on GPU {index} reserve {total:.2f} of its memory (> 1.0)")
