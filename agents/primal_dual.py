"""Primal-dual constrained bandit: ε-greedy on the Lagrangian, dual ascent on the SLA.

Decision rule for request t = 1, 2, ...: with probability ``ε_t = min(1, c / t**(1/3))`` play a
uniformly random model (forced exploration); otherwise play ``argmax_m λ·q̄_m − ē_m/s`` with
``q̄_m`` the mean revealed quality of model m, ``ē_m`` its mean observed energy and ``s`` the
largest such mean (the energy scale). After each revealed quality ``a_t``,
``λ ← clip(λ + η·(α − a_t), 0, λ_max)``. This is the plain primal-dual method for bandits with a
constraint (Agrawal & Devanur, EC 2014) with an ε-greedy primal: without the forced exploration
a model whose first revealed answers happen to be wrong is never tried again, whatever λ does
(tests/agents/test_bandits.py has that case); ``t**(-1/3)`` is the ε-greedy schedule with
O(T^(2/3)) regret. The UCB1, Thompson and LinUCB agents replace ε-greedy by optimism, posterior
sampling and context. Parameters: ``c`` (exploration scale, default 1), ``eta`` (η),
``lambda_init``, ``lambda_max``, ``alpha``. Details of the reward, the scale and sparse feedback:
:mod:`messenv_agents.lagrangian`.
"""

from __future__ import annotations

import numpy as np

from messenv.env.task import TaskSpec
from messenv_agents.base import allowed_models
from messenv_agents.lagrangian import LagrangianBandit


class PrimalDualAgent(LagrangianBandit):
    """ε-greedy primal step on empirical means, projected dual ascent on λ."""

    name = "primal_dual"

    def __init__(self, c: float = 1.0, **kwargs: float) -> None:
        super().__init__(**kwargs)
        if c < 0:
            raise ValueError(f"primal_dual: c must be >= 0, got {c}")
        self.c = float(c)
        self.t = 0

    def reset(self, spec: TaskSpec, seed: int) -> None:
        """Fresh λ, statistics and request counter."""
        super().reset(spec, seed)
        self.t = 0

    def act(self, obs: dict) -> int:
        """A random model with probability ``ε_t``, else the Lagrangian argmax."""
        self.t += 1
        if self.rng.random() < min(1.0, self.c / self.t ** (1.0 / 3.0)):
            allowed = allowed_models(obs, self.n_models)
            if allowed is None:
                return int(self.rng.integers(self.n_models))
            return int(self.rng.choice(np.flatnonzero(allowed)))
        return super().act(obs)

    def quality_index(self, obs: dict) -> np.ndarray:
        """The empirical mean quality of each model."""
        return self.stats.quality_mean
