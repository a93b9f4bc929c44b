"""The reference solutions on a run's request stream: the hindsight oracle and the best static mix.

The stream is the env's own: resetting it with the run's seed draws exactly the requests the
agent is then served (``run_episode`` resets with the same seed), and
:func:`messenv.harness.scenario_outcomes` reads every model's outcome on them as the env's
scenario presents them (a drift's stream included). On a scenario track the references face the
same scenario: under a latency SLO, a windowed SLA or a changing zoo the oracle is the constrained
LP of :mod:`messenv.scenario_oracle` (a second constraint, one constraint per window;
unavailable models bounded to 0), as is the static mix, and under a changing zoo there is no static
mix (one fixed mixture over models that come and go is not defined): its figures are ``None``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import gymnasium as gym

from messenv.harness import scenario_outcomes
from messenv.oracle import reference_rows
from messenv.scenario_oracle import scenario_reference_rows


@dataclass(frozen=True)
class References:
    """The stream's length and the two references on it (see :mod:`messenv.oracle`); the static
    mix's figures are ``None`` where it is not defined (a changing zoo)."""

    n_requests: int
    stream_sha256: str
    oracle_energy_j: float
    oracle_quality: float
    static_mix_energy_j: float | None
    static_mix_quality: float | None
    static_mix_feasible: bool | None


def stream_fingerprint(env: gym.Env) -> str:
    """sha256 of the current stream: its requests' doc ids, in order.

    A run's stream is a function of the recording, the benchmark and the seed; results.json records
    this hash so that ``verify`` (and ``build``, across submissions) can tell a run played on another
    stream than the protocol's seed draws.
    """
    base = env.unwrapped
    return hashlib.sha256("\x1f".join(base.recording.doc_ids[base.stream_rows].tolist()).encode()).hexdigest()


def stream_references(env: gym.Env, seed: int) -> References:
    """Reset ``env`` with ``seed`` and solve both references on that stream under the env's α and scenario.

    Raises:
        ValueError: the oracle is infeasible there (α, or the scenario's other constraints, beyond
            what any routing achieves), which makes the run unscorable for every agent: the
            protocol must not ask for it.
    """
    env.reset(seed=seed)
    quality, energy_j, latency_s, available = scenario_outcomes(env)
    base = env.unwrapped
    alpha, scenario = base.task.alpha, base.scenario
    if scenario.needs_lp:
        oracle, *mixes = scenario_reference_rows(quality, energy_j, latency_s, alpha, scenario, available)
    else:
        oracle, *mixes = reference_rows(quality, energy_j, alpha)
    if not oracle["feasible"]:
        raise ValueError(f"alpha={alpha:g} is unattainable on this stream: {oracle['note']}")
    mix = mixes[0] if mixes else dict.fromkeys(("total_energy_j", "mean_quality", "feasible"))
    return References(
        n_requests=len(quality),
        stream_sha256=stream_fingerprint(env),
        oracle_energy_j=oracle["total_energy_j"],
        oracle_quality=oracle["mean_quality"],
        static_mix_energy_j=mix["total_energy_j"],
        static_mix_quality=mix["mean_quality"],
        static_mix_feasible=None if mix["feasible"] is None else bool(mix["feasible"]),
    )
