"""UCB1 on the Lagrangian reward: optimism about each model's quality.

Decision rule: play ``argmax_m λ·(q̄_m + sqrt(2·ln N / n_m)) − ē_m/s``, where ``n_m`` counts the
revealed qualities of model m, ``N = Σ n_m``, and λ, ``ē`` and ``s`` are those of
:mod:`messenv_agents.lagrangian` (dual ascent ``λ ← clip(λ + η·(α − a_t), 0, λ_max)``). The bonus
is UCB1's (Auer, Cesa-Bianchi & Fischer, "Finite-time analysis of the multiarmed bandit problem",
2002) on quality, which lies in [0, 1]; energy enters through its mean only, because a model's
energy per request is observed on every step it serves and varies far less than correctness.
Parameters: ``eta``, ``lambda_init``, ``lambda_max``, ``alpha``.
"""

from __future__ import annotations

import numpy as np

from messenv_agents.lagrangian import LagrangianBandit


class UCB1Agent(LagrangianBandit):
    """UCB1 optimism on quality inside the primal-dual Lagrangian."""

    name = "ucb1"

    def quality_index(self, obs: dict) -> np.ndarray:
        """Mean quality plus the UCB1 confidence radius."""
        counts = self.stats.quality_count
        # max(n, 1): a model masked out before its first answer (a changing zoo) has n = 0.
        return self.stats.quality_mean + np.sqrt(2.0 * np.log(counts.sum()) / np.maximum(counts, 1))
