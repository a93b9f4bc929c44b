"""Readers that turn published MESS+ recordings into :class:`~messenv.recordings.Recording` objects.

* :func:`read_mess_csv` / :func:`write_mess_csv`: the MESS+ simulator CSV (any label set).
* :func:`read_mess_frame` / :func:`read_mess_frames`: the same schema from pandas frames (the core
  every other reader goes through).
* :func:`read_mess_parquet`: the same schema as a parquet table (a user's ``DataFrame.to_parquet``).
* :func:`read_mess_jsonl`: the same schema as JSON Lines, one record per line.
* :func:`read_llama3_tarball`: ``inference_outputs.tar.gz`` -> ``messplus-llama3``.
* :func:`read_qwen2_json`: the ``<benchmark>_qwen.json`` files -> ``messplus-qwen2``.

Each is imported on first use (PEP 562's module ``__getattr__``), because they need pandas (76 MiB
resident, ~0.3 s to import) and only converting a raw file calls them: ``import messenv`` and
loading a cached recording do not.
"""

from __future__ import annotations

import importlib
from typing import Any

_MODULES = {
    "read_llama3_tarball": "llama3",
    "read_mess_csv": "mess_csv",
    "write_mess_csv": "mess_csv",
    "read_mess_frame": "mess_frame",
    "read_mess_frames": "mess_frame",
    "read_mess_jsonl": "mess_jsonl",
    "read_mess_parquet": "mess_parquet",
    "read_qwen2_json": "qwen2",
}
__all__ = sorted(_MODULES)


def __getattr__(name: str) -> Any:
    """Import the reader ``name`` from its module the first time it is asked for."""
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)


def __dir__() -> list[str]:
    """The readers, for ``dir()`` and completion, without importing them."""
    return __all__
