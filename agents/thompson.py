"""Thompson sampling on the Lagrangian reward: Beta posterior on quality, Gaussian on energy.

Decision rule: for each model draw ``q̃_m ~ Beta(1 + S_m, 1 + n_m − S_m)`` (``S_m`` the sum of its
revealed qualities, ``n_m`` their count: the Beta-Bernoulli posterior, with fractional qualities
counted fractionally as in Agrawal & Goyal, "Analysis of Thompson sampling for the multi-armed
bandit problem", COLT 2012) and ``ẽ_m ~ Normal(ē_m, σ̂²_m / k_m)`` (the posterior of the mean
energy under a flat prior, ``σ̂²_m`` the sample variance of its ``k_m`` observed energies), then
play ``argmax_m λ·q̃_m − ẽ_m/s`` with λ and ``s`` as in :mod:`messenv_agents.lagrangian`. All
draws come from the agent's seeded generator. Parameters: ``eta``, ``lambda_init``,
``lambda_max``, ``alpha``.
"""

from __future__ import annotations

import numpy as np

from messenv_agents.lagrangian import LagrangianBandit


class ThompsonAgent(LagrangianBandit):
    """Posterior sampling of quality and energy inside the primal-dual Lagrangian."""

    name = "thompson"

    def quality_index(self, obs: dict) -> np.ndarray:
        """One draw per model from its Beta posterior on quality."""
        counts, means = self.stats.quality_count, self.stats.quality_mean
        successes = counts * means
        # One scalar draw per model, in model order: the numbers rng.beta(a, b) draws for the arrays
        # (it loops over the same scalar sampler), at a third of its cost (no broadcasting set-up).
        beta = self.rng.beta
        return np.array([beta(a, b) for a, b in zip((1.0 + successes).tolist(), (1.0 + counts - successes).tolist())])

    def energy_index(self) -> np.ndarray:
        """One draw per model from the posterior of its mean energy, over the energy scale."""
        stats = self.stats
        spread = np.sqrt(stats.energy_variance() / np.maximum(stats.energy_count, 1))
        # = rng.normal(energy_mean, spread), draw for draw (numpy computes loc + scale·z per element),
        # without normal()'s per-call broadcasting of two array arguments (a third of a decision's time).
        return (stats.energy_mean + spread * self.rng.standard_normal(spread.size)) / self.scale()
