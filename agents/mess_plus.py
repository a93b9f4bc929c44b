"""MESS+: energy-optimal model selection under a quality SLA (Lyapunov drift-plus-penalty).

Source: Woisetschläger, Zhang et al., "MESS+: Energy-Optimal Inferencing in Language Model Zoos
with Service Level Guarantees" (arXiv 2411.00889; NeurIPS 2025 version arXiv 2505.19947) and its
reference code (laminair/mess-plus at 9a55bc6: ``simulator.py``, ``classifier/model.py``,
``config/llama3/*.yaml``; ``conf/agent/mess_plus_reference.yaml`` holds its settings).

Decision rule, for request t = 1, 2, ... of the stream:

1. Explore with probability ``p_t = min(1, c / t**k)``: play ``spec.explore_action`` (the env
   queries EVERY model, pays all their energy and answers with the largest). From
   ``info["outcomes"]`` the agent updates its per-model energy estimate ``ē`` and, if the
   qualities are revealed, takes one SGD step of the accuracy predictor on
   ``(features, quality[M])`` — by default on a mini-batch that adds remembered explored
   requests (see "Predictor training" below); the reference steps on this example alone.
   While no energy estimate exists yet (only possible with ``c < 1``) the agent explores, since
   the rule below is undefined without ``ē``.
2. Otherwise exploit: play ``argmin_m V·ē_m + Q·(α − p̂_m(x_t))``, with ``p̂`` the predictor's
   probability that model m answers correctly.
3. Virtual queue: ``Q ← max(0, Q + α − a_t)`` with ``a_t = info["quality"]``, the revealed
   quality of the answer that was served (the largest model's on an explored request).

Sparse feedback (``feedback_rate < 1``): when ``info["quality"] is None`` the true step quality
is unknown to the agent, so the queue it would need — the true-progress queue, driven by every
``a_t`` — cannot be computed online. The agent therefore keeps and DECIDES WITH the tracked queue,
which moves only on steps whose quality is revealed (withheld steps leave it unchanged; explored
steps without feedback still update ``ē`` but not the predictor). The true-progress queue is
recorded alongside by :func:`messenv.harness.run_episode` (``EpisodeResult.sla_queue``), which
sees the true qualities, so the two can be compared in plots.

Predictor training. The reference takes ONE SGD step on each explored request alone. On the real
Llama-3 recordings that head, after a typical episode's ~30–100 explored requests, predicted worse
than a constant (held-out Brier 0.33 against 0.215 for each model's running mean accuracy; MiniLM
features, c=0.3, k=1/4): with ``clip_grad_norm_(1.0)`` active on nearly every one-example step
the steps have a fixed length, so the head drifts to each model's MAJORITY label (boolq: 0.98
predicted for the small model, whose accuracy is 0.69). Here, by default, each explored request
is added to a replay memory (``replay_size``, reservoir sampled) and the step is taken on a
mini-batch of it plus ``batch_size − 1`` remembered requests, with ``learning_rate=0.003``; this
brought the Brier score to 0.226 (0.220 at 0.001; constant: 0.2165) — near calibrated (0.003 is
the default as it tracks the running accuracy faster early in a stream), while the features carry
almost no signal on these benchmarks (offline 5-fold logistic regression on ALL requests: AUC
0.48–0.58). The reference configs name these options (``classifier_model``: ``memory_size``,
``memory_strategy: random``, ``batch_size``; learning rates 0.0272–0.0606) but leave the memory
off. ``replay_size=0, learning_rate=0.0606`` restores the reference's one-example steps.

Defaults (``V=2e-4, c=0.5, k=0.25``) were chosen by a sweep on the real Llama-3 recordings at the
paper's α per benchmark (8 benchmarks × 3 seeds, MiniLM and hashed features; V in 1.5e-4..3e-4,
c in 0.3..1, k=1/4, learning rate 0.001/0.003, batch 16/32): they met α on 7 of 8 benchmarks
(not sciq, as in the paper) with MiniLM and with the hashed features of that time (character
n-grams; the hashed features are word unigrams since, not re-swept: the leaderboard's llama3-paper
track, which uses them, gives the current figures). ``V`` is in 1/J since ``ē`` is in raw
joules, as in the reference's ``cost_fn = V * energy + Q * (alpha - probs)``; with
``energy_scale="relative"`` ``ē`` is divided by its mean over the models (the zoo's energy of an
average request, :func:`messenv_agents.energy_estimates.scale_energy`), so V is unit-free and
means the same on a zoo at 5 J or 5 kJ per request.

Parameters: ``V`` (energy weight; reference configs 0.001), ``c`` (exploration scale; reference
0.1), ``k`` (exploration exponent: 0.25 as the NeurIPS version and the reference code; 0.5 in the
first paper), ``alpha`` (overrides the task's SLA), ``energy_estimator`` (``"last"``: reference;
``"mean"``), ``energy_scale`` (``"raw"`` joules: reference; ``"relative"``), ``predictor``
(``"numpy"`` default, ``"torch"``, or a factory) and the head's optimiser settings (see
:class:`messenv_agents.mlp_head.HeadConfig`; the learning rate defaults to 0.003 here, see above),
``replay_size`` (0: no memory, one-example steps as the reference) and ``batch_size``. A custom
predictor needs ``train_batch`` when ``replay_size > 0``. The reference counts requests from 0 and treats
t=0 as 1; here t starts at 1, which gives the same schedule shifted by one request.

Scenarios (:mod:`messenv.env.scenario`). With ``constraint_queues=True`` (default) a task with a
latency SLO adds a second virtual queue and the term ``Z·(ĉ_m − L)`` to the rule
(:mod:`messenv_agents.latency_queue`); without a latency SLO nothing changes. Under delayed
feedback the predictor learns from, and the queue moves by, each quality when it arrives
(:class:`messenv_agents.base.PendingRequests`).
"""

from __future__ import annotations

import numpy as np

from messenv.env.task import TaskSpec
from messenv_agents.base import BaseAgent, PendingRequests, allowed_models, feature_vector
from messenv_agents.energy_estimates import EnergyEstimator, check_energy_scale, make_energy_estimator, scale_energy
from messenv_agents.latency_queue import LatencyQueue
from messenv_agents.mlp_head import HeadConfig
from messenv_agents.predictors import AccuracyPredictor, PredictorFactory, make_predictor
from messenv_agents.replay_memory import ReplayMemory


def exploration_probability(t: int, c: float, k: float) -> float:
    """``p_t = min(1, c / t**k)`` for request ``t >= 1``."""
    if t < 1:
        raise ValueError(f"requests are counted from 1, got t={t}")
    return min(1.0, c / t**k)


class MessPlusAgent(BaseAgent):
    """The MESS+ reference agent (see the module docstring for the rule and its sources)."""

    name = "mess_plus"

    def __init__(
        self,
        V: float = 2e-4,
        c: float = 0.5,
        k: float = 0.25,
        alpha: float | None = None,
        energy_estimator: str = "last",
        energy_scale: str = "raw",
        predictor: str | PredictorFactory = "numpy",
        learning_rate: float = 0.003,
        momentum: float = HeadConfig.momentum,
        weight_decay: float = HeadConfig.weight_decay,
        dropout: float = HeadConfig.dropout,
        grad_clip: float = HeadConfig.grad_clip,
        replay_size: int = 1024,
        batch_size: int = 16,
        constraint_queues: bool = True,
    ) -> None:
        super().__init__(alpha)
        if V < 0:
            raise ValueError(f"mess_plus: V must be >= 0, got {V}")
        if c < 0:
            raise ValueError(f"mess_plus: c must be >= 0, got {c}")
        if k < 0:
            raise ValueError(f"mess_plus: k must be >= 0, got {k}")
        if replay_size < 0 or batch_size < 1:
            raise ValueError(f"mess_plus: need replay_size >= 0 and batch_size >= 1, got {replay_size}, {batch_size}")
        self.replay_size, self.batch_size = int(replay_size), int(batch_size)
        self.V, self.c, self.k = float(V), float(c), float(k)
        self.energy_estimator_kind = energy_estimator
        self.energy: EnergyEstimator = make_energy_estimator(energy_estimator)  # a bad name fails here
        self.energy_scale = check_energy_scale(energy_scale)
        self.predictor_kind = predictor
        self.head_config = HeadConfig(learning_rate, momentum, weight_decay, dropout, grad_clip)
        self.queue = 0.0
        self.t = 0
        self.explore_prob = 1.0
        self.explore_action = -1
        self.energy_cost: np.ndarray | None = None
        self.predictor: AccuracyPredictor | None = None
        self.memory: ReplayMemory | None = None
        self.constraint_queues = bool(constraint_queues)
        self.latency: LatencyQueue | None = None
        self.pending = PendingRequests()

    def reset(self, spec: TaskSpec, seed: int) -> None:
        """Fresh queue, counter, energy estimate and predictor, seeded by ``seed``."""
        super().reset(spec, seed)
        if spec.explore_action is None:
            raise ValueError(
                "mess_plus explores by querying every model: make the env with explore_action=True "
                f"(task {list(spec.models)} has no explore action)"
            )
        if spec.feature_dim < 1:
            raise ValueError(f"mess_plus needs prompt features; the task has feature_dim={spec.feature_dim}")
        self.explore_action = spec.explore_action
        self.queue = 0.0
        self.t = 0
        self.explore_prob = 1.0
        self.energy = make_energy_estimator(self.energy_estimator_kind)
        self.energy_cost = None
        self.predictor = make_predictor(self.predictor_kind, spec.feature_dim, spec.n_models, self.rng, self.head_config)
        self.memory = ReplayMemory(self.replay_size, spec.feature_dim, spec.n_models, self.rng) if self.replay_size else None
        slo = spec.latency_slo if self.constraint_queues else None
        self.latency = None if slo is None else LatencyQueue(slo)
        self.pending = PendingRequests(spec.feedback_delayed)

    def act(self, obs: dict) -> int:
        """Explore with probability ``p_t``, else the drift-plus-penalty argmin."""
        self.t += 1
        self.explore_prob = exploration_probability(self.t, self.c, self.k)
        if self.rng.random() < self.explore_prob or self.energy_cost is None:
            return self.explore_action
        costs = self.penalised_costs(feature_vector(obs), self.energy_cost)
        allowed = allowed_models(obs, self.n_models)
        if allowed is not None:  # a changing zoo: only available models with an estimate
            costs = np.where(allowed & ~np.isnan(costs), costs, np.inf)
            if not np.isfinite(costs).any():
                return self.explore_action
        return int(costs.argmin())

    def costs(self, obs: dict, energy: np.ndarray) -> np.ndarray:
        """``V·ē_m + Q·(α − p̂_m(x))`` per model (``+ Z·(ĉ_m − L)`` under a latency SLO)."""
        return self.penalised_costs(feature_vector(obs), self.V * energy)

    def penalised_costs(self, features: np.ndarray, energy_cost: np.ndarray) -> np.ndarray:
        """:meth:`costs` from the energy term ``V·ē`` (which :meth:`act` keeps between explored
        requests, the only steps that change ``ē``), in as few numpy calls as the same arithmetic
        allows: ``α − p̂`` and its product by ``Q`` in one buffer (float32 for the numpy head, as
        the operators gave), then the float64 sum."""
        gap = np.subtract(self.alpha, self.predictor.predict(features))
        costs = np.add(energy_cost, np.multiply(gap, self.queue, gap))
        return costs if self.latency is None else costs + self.latency.penalty()

    def update(self, obs: dict, action: int, reward: float, info: dict) -> None:
        """Learn from an explored request; move the tracked queue when quality is revealed."""
        if info["explored"]:
            outcomes = info["outcomes"]
            self.energy.observe(outcomes["energy_j"])
            self.energy_cost = self.V * scale_energy(self.energy.estimate(), self.energy_scale)
            if outcomes["quality"] is not None:
                self.learn(feature_vector(obs), outcomes["quality"])
            if self.latency is not None:
                self.latency.observe_explored(outcomes["latency_s"])
        if self.latency is not None:
            self.latency.observe_step(info["latency_s"])
        quality = info["quality"]
        if quality is not None:
            self.queue = max(0.0, self.queue + self.alpha - quality)
        for earlier, entry in self.pending.arrivals(obs, info):
            if entry["outcomes"] is not None:
                self.learn(feature_vector(earlier), entry["outcomes"]["quality"])
            self.queue = max(0.0, self.queue + self.alpha - entry["quality"])

    def learn(self, features: np.ndarray, quality: np.ndarray) -> None:
        """One predictor step on an explored request: on it alone (reference), or on it plus a
        mini-batch drawn from the replay memory, which then keeps it. A NaN quality (a model that was
        not available) is replaced by the predictor's own estimate, which leaves that output's
        gradient at zero."""
        if np.isnan(quality).any():
            quality = np.where(np.isnan(quality), self.predictor.predict(features), quality)
        if self.memory is None:
            self.predictor.train_step(features, quality)
            return
        self.predictor.train_batch(*self.memory.batch_with(features, quality, self.batch_size))
        self.memory.add(features, quality)

    def diagnostics(self) -> dict[str, float]:
        """The tracked virtual queue(s) and the exploration probability of the last request."""
        latency = {} if self.latency is None else {"latency_queue": self.latency.queue}
        return {"queue": self.queue, "explore_prob": self.explore_prob, **latency}
