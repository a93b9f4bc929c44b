"""Shared machinery of the bandit agents: a Lagrangian reward with a dual variable for the SLA.

The constrained problem ``min Σ e  s.t.  mean quality ≥ α`` is turned into an unconstrained
per-request reward with a Lagrange multiplier λ ≥ 0 on the quality constraint:

    r_m = λ · quality_m − energy_m / s

where ``s`` is a running scale of energy: the largest per-model mean energy observed so far, so
that normalised energies lie in [0, 1] (agents do not know the zoo's energies in advance, and
dividing by ``s`` makes λ unit-free: λ is the worth of one unit of quality in units of the largest
model's energy). A scale from the energy of the models the agent happens to play would feed back
on the choice — playing cheap models would shrink it and make every larger model look dearer. λ is
learned by projected dual (sub)gradient ascent, ``λ ← clip(λ + η·(α − a_t), 0, λ_max)``: it grows
while served quality falls short of α — pushing the agent to better models — and shrinks while
quality exceeds it. This is the primal-dual scheme of constrained bandits (e.g. Agrawal & Devanur,
"Bandits with concave rewards and convex knapsacks", EC 2014; Immorlica et al., "Adversarial
bandits with knapsacks", FOCS 2019), used here with several primal learners that differ only in
how they estimate each model's quality term (:meth:`LagrangianBandit.quality_index`).

Feedback: energy is always observed (``info["energy_j"]``), so the energy statistics and the scale
update on every step; quality statistics, λ and any learned model update only on steps whose
quality is revealed (``info["quality"] is not None``). Every model is played until its quality
has been revealed once, in index order, before the index rule takes over. The explore action is
never played: bandits learn from the model they serve. Under delayed feedback (a scenario, see
:mod:`messenv.env.scenario`) each quality updates the statistics, λ and the learner when it
arrives, with the observation of the request it belongs to
(:class:`messenv_agents.base.PendingRequests`); until an arm's first quality arrives it is still
the arm played.

Latency SLO (a scenario with ``spec.latency_slo``): a second multiplier μ ≥ 0 for the second
constraint, the same primal-dual scheme with one dual variable per constraint (Agrawal & Devanur,
EC 2014, handle any number of knapsack-style constraints this way). The index gains
``− μ·ĉ_m``, with ``ĉ_m`` the running mean of model m's normalised latency cost over the steps it
served (latency is observed on every step), and ``μ ← clip(μ + η·(c_t − b), 0, λ_max)``. The cost
is normalised to be unit-free: latency ÷ the bound with ``b = 1`` for a mean-latency SLO; the
0/1 lateness with ``b = β`` for a deadline.
"""

from __future__ import annotations

import numpy as np

from messenv.env.scenario import LatencySLO
from messenv.env.task import TaskSpec
from messenv_agents.base import BaseAgent, PendingRequests, allowed_models


class ArmStatistics:
    """Per-model counts and running means of revealed quality and observed energy."""

    def __init__(self, n_models: int) -> None:
        self.quality_count = np.zeros(n_models, dtype=np.int64)
        self.quality_mean = np.zeros(n_models)
        self.energy_count = np.zeros(n_models, dtype=np.int64)
        self.energy_mean = np.zeros(n_models)
        self.energy_m2 = np.zeros(n_models)  # Welford's sum of squared deviations

    def add_quality(self, arm: int, quality: float) -> None:
        """Fold one revealed quality of ``arm`` into its mean."""
        self.quality_count[arm] += 1
        self.quality_mean[arm] += (quality - self.quality_mean[arm]) / self.quality_count[arm]

    def add_energy(self, arm: int, energy_j: float) -> None:
        """Fold one observed energy of ``arm`` into its mean and variance."""
        self.energy_count[arm] += 1
        delta = energy_j - self.energy_mean[arm]
        self.energy_mean[arm] += delta / self.energy_count[arm]
        self.energy_m2[arm] += delta * (energy_j - self.energy_mean[arm])

    def energy_variance(self) -> np.ndarray:
        """Sample variance of each arm's energy (the squared mean where fewer than 2 samples)."""
        counts = self.energy_count
        return np.where(counts > 1, self.energy_m2 / np.maximum(counts - 1, 1), self.energy_mean**2)


class LagrangianBandit(BaseAgent):
    """Primal-dual routing on the Lagrangian reward ``λ·quality − energy/s`` (see module docstring).

    Subclasses choose the quality term of the index; the action is
    ``argmax_m λ·quality_index_m − energy_index_m``.

    Args:
        eta: dual step size η.
        lambda_init: λ at the start of an episode.
        lambda_max: upper bound on λ (keeps the reward bounded when α is out of reach).
        alpha: overrides the task's SLA.
    """

    name = "lagrangian"

    def __init__(self, eta: float = 0.1, lambda_init: float = 1.0, lambda_max: float = 100.0, alpha: float | None = None):
        super().__init__(alpha)
        if eta <= 0:
            raise ValueError(f"{self.name}: eta must be > 0, got {eta}")
        if not 0 <= lambda_init <= lambda_max:
            raise ValueError(f"{self.name}: need 0 <= lambda_init <= lambda_max, got {lambda_init}, {lambda_max}")
        self.eta, self.lambda_init, self.lambda_max = float(eta), float(lambda_init), float(lambda_max)
        self.lam = self.lambda_init
        self.stats = ArmStatistics(2)
        self.pending = PendingRequests()
        self.latency_slo: LatencySLO | None = None
        self.mu = 0.0
        self.latency_cost = np.zeros(0)
        self.all_revealed = False  # every model's quality revealed at least once (skips the check)

    def reset(self, spec: TaskSpec, seed: int) -> None:
        """Fresh λ, statistics and energy scale."""
        super().reset(spec, seed)
        self.lam = self.lambda_init
        self.stats = ArmStatistics(spec.n_models)
        self.pending = PendingRequests(spec.feedback_delayed)
        self.latency_slo = spec.latency_slo
        self.mu = 0.0
        self.latency_cost = np.zeros(spec.n_models)
        self.all_revealed = False

    # ------------------------------------------------------------------ policy
    def act(self, obs: dict) -> int:
        """An arm whose quality was never revealed, else the best Lagrangian index (among the
        models the action mask allows, when the zoo changes)."""
        allowed = allowed_models(obs, self.n_models)
        if allowed is not None or not self.all_revealed:
            never = self.stats.quality_count == 0
            unseen = np.flatnonzero(never if allowed is None else never & allowed)
            if unseen.size:
                return int(unseen[0])
            # Counts only grow within an episode: with the whole zoo allowed, no arm is unseen again.
            self.all_revealed = allowed is None
        index = self.lam * self.quality_index(obs) - self.energy_index()
        if self.latency_slo is not None:
            index = index - self.mu * self.latency_cost
        return int((index if allowed is None else np.where(allowed, index, -np.inf)).argmax())

    def quality_index(self, obs: dict) -> np.ndarray:
        """The quality term per model; subclasses add optimism, sampling or context."""
        raise NotImplementedError

    def energy_index(self) -> np.ndarray:
        """Each model's mean observed energy divided by the running energy scale."""
        return self.stats.energy_mean / self.scale()

    def scale(self) -> float:
        """The largest per-model mean energy observed so far (1.0 while that is 0)."""
        largest = float(self.stats.energy_mean.max())
        return largest if largest > 0 else 1.0

    # ------------------------------------------------------------------ learning
    def update(self, obs: dict, action: int, reward: float, info: dict) -> None:
        """Energy statistics always; quality statistics, λ and the learner when a quality is revealed,
        on this step or, under delayed feedback, when it arrives (with the request it belongs to)."""
        self.stats.add_energy(action, float(info["energy_j"]))
        if self.latency_slo is not None:
            self.observe_latency(action, float(info["latency_s"]))
        quality = info["quality"]
        if quality is not None:
            self.reveal(obs, action, quality)
        for earlier, entry in self.pending.arrivals(obs, info):
            self.reveal(earlier, entry["action"], entry["quality"])

    def observe_latency(self, action: int, latency_s: float) -> None:
        """Fold the step's normalised latency cost into the arm's mean and take a dual step on μ."""
        slo = self.latency_slo
        scale, bound = (slo.mean_s, 1.0) if slo.mean_s is not None else (1.0, slo.max_late_share)
        cost = slo.cost(latency_s) / scale
        self.latency_cost[action] += (cost - self.latency_cost[action]) / self.stats.energy_count[action]
        self.mu = min(self.lambda_max, max(0.0, self.mu + self.eta * (cost - bound)))

    def reveal(self, obs: dict, action: int, quality: float) -> None:
        """Fold one revealed quality of the request ``obs`` (served by ``action``) into the statistics."""
        self.stats.add_quality(action, quality)
        self.lam = min(self.lambda_max, max(0.0, self.lam + self.eta * (self.alpha - quality)))
        self.learn(obs, action, quality)

    def learn(self, obs: dict, action: int, quality: float) -> None:
        """Hook for learners with a model of their own (LinUCB); default: nothing."""

    def diagnostics(self) -> dict[str, float]:
        """The dual variable λ and the energy scale (and μ under a latency SLO)."""
        latency = {} if self.latency_slo is None else {"latency_dual": self.mu}
        return {"lambda": self.lam, "energy_scale": self.scale(), **latency}
