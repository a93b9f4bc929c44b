"""The cells of one frame, turned column by column into validated values or an error at the cell.

Frames reach the readers either as text (CSV read with ``dtype=object`` and no NA guessing, so that
a prompt reading ``NA`` stays text and an empty cell stays distinguishable from a malformed one) or
as numbers (JSON). Both go through :class:`FrameCells`. Numbers are converted with Python's
``float`` (through numpy), which reads the shortest ``repr`` back exactly, so writing and reading a
recording loses nothing. The frame is turned into one object array up front: per-column pandas
access costs more than the checks themselves on the 154 small frames of the Llama-3 tarball.

Rows in messages are "data row i": the i-th row after the header, counted from 1 (the i-th record
of a JSON array). With multi-line quoted prompts that is not the line number, so no line is claimed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from messenv.recordings.errors import RecordingError


@dataclass(frozen=True)
class FrameCells:
    """A frame's cells as one object array ``values [N, C]``, and where they are empty (NaN, None, "")."""

    source: str
    index: dict[str, int]
    values: np.ndarray
    empty: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame, source: str) -> FrameCells:
        values = frame.to_numpy(dtype=object)
        index = {str(name): j for j, name in reversed(list(enumerate(frame.columns)))}  # first of a name wins
        return cls(source, index, values, np.asarray(pd.isna(values) | (values == ""), dtype=bool))

    def __len__(self) -> int:
        return len(self.values)

    def is_empty(self, column: str) -> np.ndarray:
        """Where ``column`` holds nothing."""
        return self.empty[:, self.index[column]]

    def error(self, row: int, column: str, problem: str) -> RecordingError:
        """An error naming the source, the 0-based ``row`` as a 1-based data row, and ``column``."""
        return RecordingError(f"{self.source}, data row {row + 1}, column {column!r}: {problem}")

    def required(self, column: str) -> None:
        """Raise at the first empty cell of ``column``."""
        empty = self.is_empty(column)
        if empty.any():
            raise self.error(int(np.argmax(empty)), column, "empty value")

    def text(self, column: str) -> np.ndarray:
        """A text column as an object array of ``str``; every cell must be non-empty."""
        self.required(column)
        return np.asarray([str(v) for v in self.values[:, self.index[column]]], dtype=object)

    def numbers(self, column: str) -> np.ndarray:
        """A numeric column as float64 with NaN where empty (empty cells are left to the caller).

        Raises:
            RecordingError: at the first cell that holds something other than a finite number.
        """
        raw, empty = self.values[:, self.index[column]], self.is_empty(column)
        values = np.full(len(raw), np.nan)
        try:
            values[~empty] = np.asarray(raw[~empty], dtype=np.float64)
        except (TypeError, ValueError):
            row = next(int(r) for r in np.flatnonzero(~empty) if not _parses_as_float(raw[r]))
            repeated = " (the header repeated as a data row?)" if raw[row] == column else ""
            raise self.error(row, column, f"value {raw[row]!r} is not a number{repeated}") from None
        bad = ~empty & ~np.isfinite(values)
        if bad.any():
            row = int(np.argmax(bad))
            raise self.error(row, column, f"value {raw[row]!r} is not a finite number")
        return values


def _parses_as_float(cell: object) -> bool:
    try:
        float(cell)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True
