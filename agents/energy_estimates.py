"""Per-model energy estimates for MESS+, learned from explored requests.

MESS+ never sees a model's energy before paying for it. On an explored request every model runs,
so the agent observes the whole energy vector ``e_t[M]`` and updates its estimate ``ē[M]``, which
enters the decision ``argmin_m V·ē_m + Q·(α − p̂_m)``.

- ``last`` — the reference implementation (laminair/mess-plus ``simulator.py``) keeps the
  energies of the LAST explored request: noisy, but it tracks drift at once.
- ``mean`` — the running mean over all explored requests: the unbiased estimate of each model's
  expected energy when energies do not drift.

:func:`scale_energy` expresses an estimate in the zoo's own unit (``relative``: ÷ its mean over the
models, the energy of an average request) so that an energy weight tuned on one zoo means the same
on a zoo whose requests cost 5 J or 5 kJ; ``raw`` keeps joules (the reference's unit).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class EnergyEstimator(Protocol):
    """What MESS+ needs from its energy estimate."""

    def observe(self, energy_j: np.ndarray) -> None:
        """Record the energy of every model on one explored request, shape ``[M]``."""

    def estimate(self) -> np.ndarray | None:
        """The current estimate per model (J), or ``None`` before the first observation."""


class LastEnergy:
    """The energies of the last explored request (the MESS+ reference's choice)."""

    def __init__(self) -> None:
        self._last: np.ndarray | None = None

    def observe(self, energy_j: np.ndarray) -> None:
        """Keep a copy of ``energy_j``; a NaN entry (a model that was not available) keeps its last value."""
        energy_j = np.array(energy_j, dtype=np.float64)
        if self._last is not None:
            energy_j = np.where(np.isnan(energy_j), self._last, energy_j)
        self._last = energy_j

    def estimate(self) -> np.ndarray | None:
        """The last observed vector."""
        return self._last


class MeanEnergy:
    """The running mean of the energies of all explored requests."""

    def __init__(self) -> None:
        self._mean: np.ndarray | None = None
        self._count: np.ndarray | None = None

    def observe(self, energy_j: np.ndarray) -> None:
        """Fold ``energy_j`` into the running mean (Welford's update of the mean), per model; a NaN
        entry (a model that was not available) is skipped."""
        energy_j = np.asarray(energy_j, dtype=np.float64)
        seen = ~np.isnan(energy_j)
        if self._mean is None:
            self._mean, self._count = np.full(energy_j.shape, np.nan), np.zeros(energy_j.shape, dtype=np.int64)
        self._count += seen
        first = seen & (self._count == 1)
        self._mean[first] = energy_j[first]
        later = seen & (self._count > 1)
        self._mean[later] += (energy_j[later] - self._mean[later]) / self._count[later]

    def estimate(self) -> np.ndarray | None:
        """The mean so far."""
        return self._mean


ENERGY_ESTIMATORS: dict[str, type] = {"last": LastEnergy, "mean": MeanEnergy}


def make_energy_estimator(kind: str) -> EnergyEstimator:
    """``"last"`` or ``"mean"``."""
    if kind not in ENERGY_ESTIMATORS:
        raise ValueError(f"unknown energy_estimator {kind!r}; choose one of {sorted(ENERGY_ESTIMATORS)}")
    return ENERGY_ESTIMATORS[kind]()


ENERGY_SCALES = ("raw", "relative")


def check_energy_scale(scale: str) -> str:
    """``scale`` if it is one of :data:`ENERGY_SCALES`, else a clear error."""
    if scale not in ENERGY_SCALES:
        raise ValueError(f"unknown energy_scale {scale!r}; choose one of {list(ENERGY_SCALES)}")
    return scale


def scale_energy(energy_j: np.ndarray, scale: str) -> np.ndarray:
    """``energy_j`` in joules (``raw``) or divided by its mean over the models (``relative``)."""
    if scale == "raw":
        return energy_j
    return energy_j / max(float(energy_j.mean()), np.finfo(float).tiny)
