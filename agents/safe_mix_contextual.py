"""Contextual safe mix: the safe mix's budget and LP, with the prompt deciding which requests get
the better model, where the prompt features prove to predict quality.

Decision rule: as :mod:`messenv_agents.safe_mix` up to the mix — the remaining quality budget with
its margin ``r⁺``, and the cheapest mix of two models ``low``/``high`` reaching it on Thompson
samples, ``high`` with weight ``w``. The prompt-blind agent then flips a ``w``-coin. This one
instead sends to ``high`` the requests where the upgrade is predicted to gain most: each model m
keeps a ridge regression of its revealed quality on ``x = [features, 1]`` (``A_m = ridge·I +
Σ x xᵀ``, ``θ_m = A_m⁻¹ Σ q·x``, ``A_m⁻¹`` kept by Sherman-Morrison updates as in
:mod:`messenv_agents.linucb`), the predicted gain is ``g(x) = θ_highᵀx − θ_lowᵀx``, and the
request goes to ``high`` when ``g(x)`` is at or above the ``(1 − w)``-quantile of the gains of the
last ``window`` requests — the same share ``w`` on average, spent where it buys most quality. This
is the per-request Lagrangian split of the hindsight oracle (and of cascade routing's quality-cost
trade-off, Dekoninck et al., "A unified approach to routing and cascading for LLMs", ICML 2025)
with the price implied by the LP's share ``w``. The budget loop turns the quality gained into a
lower ``r⁺``, hence a smaller ``w``: the energy saving. The bandit-with-knapsacks view with a
linear context model is Agrawal & Devanur, "Linear contextual bandits with knapsacks" (NeurIPS
2016).

Gate: features often carry no signal (on the Llama-3 recording with hashed features, ridge
regressions fitted on one half of boolq, social_iqa, arc_easy or piqa predicted the other half's
qualities within about 1 % of the squared error of each model's mean, better or worse).
Each revealed quality is first predicted by the regression and by the model's prompt-blind
posterior mean, before either learns from it (a prequential, held-out check); the gains route only
while the regression's squared error is lower than the blind one's for both models of the mix,
over at least ``min_checks`` checks each. Otherwise the agent plays exactly as the prompt-blind
safe mix.

Parameters: ``ridge`` (default 10: offline, λ = 1 over-fitted the 256 hashed features on every
benchmark tried, λ = 10 did not), ``window`` (default 200), ``min_checks`` (default 100), and
the safe mix's parameters (``z``, ``horizon``, ``kappa``, ``explore_extra``, ``alpha``).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from messenv.env.task import TaskSpec
from messenv_agents.linucb import with_bias
from messenv_agents.mix_lp import Mix
from messenv_agents.safe_mix import SafeMixAgent


class SafeMixContextualAgent(SafeMixAgent):
    """The safe mix, routing its upgrade share by predicted per-request gain when that proves better."""

    name = "safe_mix_contextual"

    def __init__(self, ridge: float = 10.0, window: int = 200, min_checks: int = 100, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if ridge <= 0 or window < 1 or min_checks < 0:
            raise ValueError(
                f"{self.name}: need ridge > 0, window >= 1 and min_checks >= 0, got {ridge}, {window}, {min_checks}"
            )
        self.ridge, self.window, self.min_checks = float(ridge), int(window), int(min_checks)
        self._allocate_regressions(1, 1)

    def _allocate_regressions(self, n_models: int, dim: int) -> None:
        self.a_inverse = np.tile(np.eye(dim) / self.ridge, (n_models, 1, 1))
        self.b = np.zeros((n_models, dim))
        self.theta = np.zeros((n_models, dim))
        self.error_context = np.zeros(n_models)  # prequential squared errors of the regression
        self.error_blind = np.zeros(n_models)  # ... and of the prompt-blind posterior mean
        self.checks = np.zeros(n_models)
        self.gains: deque[float] = deque(maxlen=self.window)
        self.routed = False

    def reset(self, spec: TaskSpec, seed: int) -> None:
        """Fresh safe-mix state and fresh regressions."""
        super().reset(spec, seed)
        self._allocate_regressions(spec.n_models, spec.feature_dim + 1)

    def context_helps(self, model: int) -> bool:
        """Whether the regression of ``model`` has out-predicted its blind mean on held-out checks."""
        return self.checks[model] >= self.min_checks and self.error_context[model] < self.error_blind[model]

    def pick(self, obs: dict, mix: Mix) -> int:
        """``high`` for the requests with the largest predicted gain, when the gate is open."""
        self.routed = False
        if mix.low != mix.high:
            x = with_bias(obs)
            gain = self.predict(mix.high, x) - self.predict(mix.low, x)
            self.gains.append(gain)
            if self.context_helps(mix.low) and self.context_helps(mix.high) and len(self.gains) == self.window:
                self.routed = True
                return mix.high if gain >= float(np.quantile(self.gains, 1.0 - mix.w_high)) else mix.low
        return super().pick(obs, mix)

    def predict(self, model: int, x: np.ndarray) -> float:
        """The regression's quality of ``model`` on ``x``, clipped to [0, 1]."""
        return min(1.0, max(0.0, float(self.theta[model] @ x)))

    def learn(self, obs: dict, model: int, quality: float) -> None:
        """Held-out check of both predictions, then the posterior and the ridge regression learn."""
        x = with_bias(obs)
        blind = (1.0 + self.quality_sum[model]) / (2.0 + self.quality_count[model])
        self.error_context[model] += (self.predict(model, x) - quality) ** 2
        self.error_blind[model] += (blind - quality) ** 2
        self.checks[model] += 1
        super().learn(obs, model, quality)
        a_inv = self.a_inverse[model]
        a_inv_x = a_inv @ x
        a_inv -= np.outer(a_inv_x, a_inv_x) / (1.0 + x @ a_inv_x)
        self.b[model] += quality * x
        self.theta[model] = a_inv @ self.b[model]

    def diagnostics(self) -> dict[str, float]:
        """The safe mix's figures and whether the last request was routed by its predicted gain."""
        return {**super().diagnostics(), "routed_by_context": float(self.routed)}
