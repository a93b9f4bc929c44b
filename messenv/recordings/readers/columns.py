"""Column names of the MESS+ simulator CSV schema, and which models a header describes.

The schema is ``doc_id, input_text, benchmark_name`` followed, for every model label ``X``, by
``label_X, acc_norm_X`` (or ``acc_X``), ``energy_consumption_X, inference_time_X``. The label set is
not fixed (the Llama-3 recording has small/medium/large, the Qwen2 one adds xsmall), so it is
detected from the header. The reader and the writer both name columns through this module so that
what one writes the other reads.

``label_X`` is the 0/1 correctness of model ``X`` on the request. In both published recordings it
equals ``acc_X``/``acc_norm_X`` on every row; messenv takes quality from ``acc_norm_X`` (falling back
to ``acc_X`` where ``acc_norm_X`` is empty) and keeps ``label_X`` only as part of the schema.

A label must not start with ``norm_``: ``acc_norm_foo`` would be ambiguous (``acc`` of ``norm_foo``
or ``acc_norm`` of ``foo``) and is always read as the latter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from messenv.recordings.errors import RecordingError

BASE_COLUMNS: tuple[str, ...] = ("doc_id", "input_text", "benchmark_name")
LABEL, ACC_NORM, ACC, ENERGY, LATENCY = "label_", "acc_norm_", "acc_", "energy_consumption_", "inference_time_"
# Longest prefix first, so that "acc_norm_small" is acc_norm of "small", not acc of "norm_small".
_PREFIXES: tuple[str, ...] = (ACC_NORM, ENERGY, LATENCY, LABEL, ACC)
_SCHEMA_HINT = "every model X needs label_X, acc_norm_X or acc_X, energy_consumption_X and inference_time_X"


@dataclass(frozen=True)
class ModelColumns:
    """The columns that describe one model; ``acc_norm`` and ``acc`` may each be absent, not both."""

    model: str
    label: str
    acc_norm: str | None
    acc: str | None
    energy: str
    latency: str

    @property
    def quality_columns(self) -> tuple[str, ...]:
        """The quality columns present, preferred first."""
        return tuple(c for c in (self.acc_norm, self.acc) if c is not None)

    @property
    def all_columns(self) -> tuple[str, ...]:
        """Every column of this model in the file."""
        return (self.label, *self.quality_columns, self.energy, self.latency)


def written_columns(model: str) -> ModelColumns:
    """The columns :func:`~messenv.recordings.readers.write_mess_csv` writes for ``model``.

    Raises:
        RecordingError: for a label that would not read back as itself (empty, NUL, ``norm_...``).
    """
    if not model or model.startswith("norm_") or "\x00" in model:
        raise RecordingError(
            f"model label {model!r} cannot be written to a MESS+ CSV: labels must be non-empty, hold no NUL "
            f"character and not start with 'norm_' ('acc_{model}' would read as acc_norm of another label)"
        )
    return ModelColumns(model, LABEL + model, None, ACC + model, ENERGY + model, LATENCY + model)


def detect_models(columns: Sequence[str], source: str) -> tuple[ModelColumns, ...]:
    """The models a header describes, in the order they first appear.

    Columns that fit no part of the schema (such as a stray ``Unnamed: 0`` index) are ignored.

    Raises:
        RecordingError: naming ``source`` when a base column is missing, when a model has some but
            not all of its columns, or when fewer than 2 models are found.
    """
    header = [str(c) for c in columns]
    for base in BASE_COLUMNS:
        if base not in header:
            separator = next((f" (fields separated by {s!r}? messenv reads comma-separated files)"
                              for s in (";", "\t", "|") if len(header) == 1 and s in header[0]), "")
            raise RecordingError(f"{source}: missing column {base!r} (header: {header}){separator}")
    found: dict[str, dict[str, str]] = {}
    for column in header:
        prefix = next((p for p in _PREFIXES if column.startswith(p) and len(column) > len(p)), None)
        if prefix is not None:
            found.setdefault(column[len(prefix) :], {})[prefix] = column
    models = tuple(_model_columns(model, by_prefix, source) for model, by_prefix in found.items())
    if len(models) < 2:
        raise RecordingError(
            f"{source}: a zoo needs at least 2 models, found {len(models)} {[m.model for m in models]} ({_SCHEMA_HINT})"
        )
    return models


def _model_columns(model: str, by_prefix: dict[str, str], source: str) -> ModelColumns:
    missing = [prefix + model for prefix in (LABEL, ENERGY, LATENCY) if prefix not in by_prefix]
    if ACC_NORM not in by_prefix and ACC not in by_prefix:
        missing.insert(1, f"{ACC_NORM}{model} or {ACC}{model}")
    if missing:
        raise RecordingError(
            f"{source}: model {model!r} is missing column(s) {missing}; it has {sorted(by_prefix.values())} "
            f"({_SCHEMA_HINT})"
        )
    return ModelColumns(
        model=model,
        label=by_prefix[LABEL],
        acc_norm=by_prefix.get(ACC_NORM),
        acc=by_prefix.get(ACC),
        energy=by_prefix[ENERGY],
        latency=by_prefix[LATENCY],
    )
