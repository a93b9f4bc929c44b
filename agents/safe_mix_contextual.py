"""Contextual safe mix: the safe mix's budget and LP, with the prompt deciding which requests get
the better model, unless the prompt features prove to rank quality worse than chance.

Decision rule: as :mod:`messenv_agents.safe_mix` up to the mix — the remaining quality budget with
its margin ``r⁺``, and the cheapest mix of two models ``low``/``high`` reaching it on Thompson
samples, ``high`` with weight ``w``. The prompt-blind agent then flips a ``w``-coin. This one
instead sends to ``high`` the requests where the upgrade is predicted to gain most: each model m
keeps a ridge regression of its revealed quality on ``x = [features, 1]`` (``A_m = ridge·I +
Σ x xᵀ``, ``θ_m = A_m⁻¹ Σ q·x``), the predicted gain is ``g(x) = θ_highᵀx − θ_lowᵀx``, and the
request goes to ``high`` when ``g(x)`` is at or above the ``(1 − w)``-quantile (linear
interpolation, as :func:`numpy.quantile`) of the gains of the last ``window`` requests — the same
share ``w`` on average, spent where it buys most quality. This is the per-request Lagrangian split
of the hindsight oracle (and of cascade routing's quality-cost trade-off, Dekoninck et al., "A
unified approach to routing and cascading for LLMs", ICML 2025) with the price implied by the
LP's share ``w``. The budget loop turns the quality gained into a
lower ``r⁺``, hence a smaller ``w``: the energy saving. The bandit-with-knapsacks view with a
linear context model is Agrawal & Devanur, "Linear contextual bandits with knapsacks" (NeurIPS
2016).

Cost per request: ``A_m⁻¹`` and ``θ_m`` follow each revealed quality by the recursive
least-squares form of the Sherman-Morrison update, ``u = A⁻¹x``, ``A⁻¹ ← A⁻¹ − uuᵀ/(1 + xᵀu)``,
``θ ← θ + u·(q − θᵀx)/(1 + xᵀu)``, on one triangle of ``A⁻¹`` in place by BLAS (``dsymv``,
``dsyr``, single-threaded) as the dense mode of :mod:`messenv_agents.linucb`; the threshold is a
rank count over the window (``g`` is at or above the quantile exactly when at least
``(1 − w)(n − 1) + 1`` of the ``n`` gains, ``g`` among them, are ``≤ g``), not a sort.

Gate: routing only ranks requests by ``g(x)``, so the regressions need to order requests, not
to predict their quality well. On the Llama-3 recording (paper α, each benchmark's requests split
in halves, ridge fitted on one half with λ = 10, three splits) the regressions predicted the other
half's qualities with 0.96–1.02 × the squared error of each model's mean, with hashed or MiniLM
features alike, yet upgrading the test half's requests in order of predicted gain (of the static
mix's better model over its cheaper one) reached α with 0.91 × the static mix's energy on boolq
(both kinds), 0.88–0.89 on social_iqa, 0.90 (MiniLM) and 0.96 (hashed) on piqa, and 0.98–1.00 on
arc_easy. A gate on squared error (the regression's below the blind mean's) therefore never opened
online on these four, 3 seeds, either kind. The gate is instead a prequential check of the
ranking: each revealed quality ``q`` of model m, once m has ``min_checks`` revealed qualities,
adds ``d = (q̂ − p̄)(q − p̄)`` to its sum (``q̂`` the regression's prediction and ``p̄`` the blind
posterior mean, both before either learns from ``q``): positive where the regression tells m's
better requests from its worse ones. The gains
route while, pooled over ``low`` and ``high`` with ``min_checks`` terms each, ``Σd ≥ gate_z ·
sqrt(Σd²)``; otherwise the agent plays exactly as the prompt-blind safe mix. With features that
carry no signal the gains are noise and routing by them is a coin with the same share ``w``, so
the gate (``gate_z = 0``) is there to stop a regression that ranks worse than chance, not to
certify signal.

Online at the paper's α (3 seeds; geometric mean of energy ÷ the static mix's; measured with the
safe mix's earlier settings, z = 2 and recovery by the best draw: the current board's figures,
with z = 3 and recovery by the largest model, are in the README's results), routing brings
boolq from the blind safe mix's 1.26 to 1.20 (MiniLM) and 1.19 (hashed), arc_easy from 1.33 to
1.27–1.28, and leaves social_iqa (2.25 blind; 2.21 MiniLM, 2.35 hashed) and piqa within the seeds'
spread, every run meeting α. Over all 24 runs of that track it spends 1.74 (MiniLM) and 1.76
(hashed) × the static mix against the blind 1.77; with hashed features 1.71 against 1.75 on
llama3-tight and 2.93 against 2.93 on llama3-sparse, meeting α on as many runs as the blind safe
mix (20 and 21 of 24). On winogrande, where the hashed features rank worse than chance offline
(1.03 × the static mix in hindsight), it spends 1.65 against 1.46. No benchmark goes below the
static mix: on boolq and social_iqa 60–107 % of the blind safe mix's energy above the static mix
is spent on the steps where its room-to-recover check plays the best draw or the explore action
(mostly the first requests), which routing does not touch, while routing on ridge or logistic
fits to half of each benchmark saves 9–13 % of the static mix's energy on the other half in
hindsight.

Parameters: ``ridge`` (default 10: offline, λ = 1 over-fitted the 256 hashed and the 384 MiniLM
features, 1.03–1.12 × the mean's squared error on every benchmark tried; online with the gate held
open, λ = 10 spent 1.13 × the static mix on boolq with MiniLM features, λ = 1 and 100 1.16–1.18),
``window`` (default 200), ``min_checks`` (default 50; 20 and 100 differed within the seeds'
spread), ``gate_z`` (default 0; 1 and 2 spent 1.73–1.74 × the static mix on llama3-paper, 1.75 on
llama3-tight and 2.93 on llama3-sparse with hashed features, and 1 spent 1.76 with MiniLM on
llama3-paper: the same within the seeds' spread, with less saved on boolq, 1.21–1.25 against
1.19–1.20), and the safe mix's parameters (``z``, ``horizon``, ``kappa``, ``explore_extra``,
``alpha``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.linalg.blas import dsymv, dsyr

from messenv.env.task import TaskSpec
from messenv_agents.blas_threads import single_threaded_blas
from messenv_agents.linucb import with_bias
from messenv_agents.mix_lp import Mix
from messenv_agents.safe_mix import SafeMixAgent


class SafeMixContextualAgent(SafeMixAgent):
    """The safe mix, routing its upgrade share by predicted per-request gain unless that ranks worse than chance."""

    name = "safe_mix_contextual"

    def __init__(
        self, ridge: float = 10.0, window: int = 200, min_checks: int = 50, gate_z: float = 0.0, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if ridge <= 0 or window < 1 or min_checks < 0 or not np.isfinite(gate_z):
            raise ValueError(
                f"{self.name}: need ridge > 0, window >= 1, min_checks >= 0 and a finite gate_z, "
                f"got {ridge}, {window}, {min_checks}, {gate_z}"
            )
        self.ridge, self.window, self.min_checks = float(ridge), int(window), int(min_checks)
        self.gate_z = float(gate_z)
        self._allocate_regressions(1, 1)

    def _allocate_regressions(self, n_models: int, dim: int) -> None:
        # A_m⁻¹ as C-ordered blocks; BLAS reads and writes the upper triangle of their Fortran-ordered
        # view (``.T``, no copy), i.e. the lower triangle here, as the dense mode of LinUCB.
        self.a_inverse = np.tile(np.eye(dim) / self.ridge, (n_models, 1, 1))
        self.theta = np.zeros((n_models, dim))
        self.checks = np.zeros(n_models)  # revealed qualities per model
        self.rank_sum = np.zeros(n_models)  # Σd over the checks after the first min_checks (module docstring)
        self.rank_square = np.zeros(n_models)  # ... and Σd²
        self.rank_terms = np.zeros(n_models)  # ... and how many
        self.gains = np.zeros(self.window)  # the last ``window`` predicted gains, a ring buffer
        self.n_gains = 0  # how many gains were ever appended
        self.routed = False

    def reset(self, spec: TaskSpec, seed: int) -> None:
        """Fresh safe-mix state and fresh regressions."""
        super().reset(spec, seed)
        self._allocate_regressions(spec.n_models, spec.feature_dim + 1)

    def context_helps(self, low: int, high: int) -> bool:
        """Whether the regressions of ``low`` and ``high`` have, pooled, ranked their held-out qualities
        at least ``gate_z`` standard deviations better than chance, over ``min_checks`` checks each."""
        models = (low, high) if low != high else (low,)
        if any(self.rank_terms[m] < self.min_checks for m in models):
            return False
        pooled_sum = sum(float(self.rank_sum[m]) for m in models)
        return pooled_sum >= self.gate_z * math.sqrt(sum(float(self.rank_square[m]) for m in models))

    def pick(self, obs: dict, mix: Mix) -> int:
        """``high`` for the requests with the largest predicted gain, when the gate is open."""
        self.routed = False
        if mix.low != mix.high:
            x = with_bias(obs)
            gain = self.predict(mix.high, x) - self.predict(mix.low, x)
            self.gains[self.n_gains % self.window] = gain
            self.n_gains += 1
            if self.n_gains >= self.window and self.context_helps(mix.low, mix.high):
                self.routed = True
                return mix.high if self.at_or_above_quantile(gain, 1.0 - mix.w_high) else mix.low
        return super().pick(obs, mix)

    def at_or_above_quantile(self, gain: float, share: float) -> bool:
        """Whether ``gain`` (one of the window's gains) is at or above the window's ``share``-quantile:
        with the gains sorted, the quantile lies between the ``⌊h⌋``-th and ``⌈h⌉``-th (from 0),
        ``h = share·(n − 1)``, so a gain of rank ``k`` among them (its last tie) reaches it iff ``k ≥ h``."""
        last_rank = int(np.count_nonzero(self.gains <= gain)) - 1
        return last_rank >= share * (self.window - 1)

    def predict(self, model: int, x: np.ndarray) -> float:
        """The regression's quality of ``model`` on ``x``, clipped to [0, 1]."""
        return min(1.0, max(0.0, float(self.theta[model] @ x)))

    def learn(self, obs: dict, model: int, quality: float) -> None:
        """Held-out ranking check of the prediction, then the posterior and the ridge regression learn
        (the recursive least-squares update of the module docstring)."""
        x = with_bias(obs)
        predicted = float(self.theta[model] @ x)
        if self.checks[model] >= self.min_checks:
            blind = (1.0 + self.quality_sum[model]) / (2.0 + self.quality_count[model])
            d = (min(1.0, max(0.0, predicted)) - blind) * (quality - blind)
            self.rank_sum[model] += d
            self.rank_square[model] += d * d
            self.rank_terms[model] += 1
        self.checks[model] += 1
        super().learn(obs, model, quality)
        a_inverse = self.a_inverse[model].T
        with single_threaded_blas():
            u = dsymv(1.0, a_inverse, x)
            denominator = 1.0 + float(x @ u)
            dsyr(-1.0 / denominator, u, a=a_inverse, overwrite_a=True)
        self.theta[model] += u * ((quality - predicted) / denominator)

    def diagnostics(self) -> dict[str, float]:
        """The safe mix's figures and whether the last request was routed by its predicted gain."""
        return {**super().diagnostics(), "routed_by_context": float(self.routed)}
