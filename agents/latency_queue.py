"""A second Lyapunov virtual queue for a latency SLO, the natural extension of MESS+ to two constraints.

MESS+ (Woisetschläger, Zhang et al., arXiv 2411.00889 / 2505.19947) keeps one virtual queue for its
one constraint, the quality SLA, and plays ``argmin_m V·ē_m + Q·(α − p̂_m)``. Drift-plus-penalty
(Neely, "Stochastic Network Optimization with Application to Communication and Queueing Systems",
2010, ch. 3–4) handles any number of time-average constraints the same way, one queue each: for
the latency SLO ``mean of c_t ≤ L`` (``c_t`` the latency, or 1 for a late request, see
:class:`messenv.env.scenario.LatencySLO`) the queue is ``Z ← max(0, Z + c_t − L)`` and the rule
gains the term ``Z·(ĉ_m − L)``, with ``ĉ_m`` the running mean of model m's latency cost on
explored requests (every model runs there, so every model's latency is observed).
"""

from __future__ import annotations

import numpy as np

from messenv.env.scenario import LatencySLO
from messenv_agents.energy_estimates import MeanEnergy


class LatencyQueue:
    """The virtual queue ``Z`` of a latency SLO and the per-model latency-cost estimate ``ĉ``."""

    def __init__(self, slo: LatencySLO) -> None:
        self.slo = slo
        self.queue = 0.0
        self.cost_estimate = MeanEnergy()  # a running mean of vectors; here of latency costs

    def observe_explored(self, latency_s: np.ndarray) -> None:
        """Every model's latency on an explored request."""
        self.cost_estimate.observe(self.slo.cost(np.asarray(latency_s, dtype=np.float64)))

    def observe_step(self, latency_s: float) -> None:
        """The latency of what ran on this step: ``Z ← max(0, Z + c_t − L)``."""
        self.queue = max(0.0, self.queue + self.slo.cost(float(latency_s)) - self.slo.limit)

    def penalty(self) -> np.ndarray | float:
        """``Z·(ĉ_m − L)`` per model (0 before any explored request)."""
        estimate = self.cost_estimate.estimate()
        return 0.0 if estimate is None else self.queue * (estimate - self.slo.limit)
