"""The reference solutions on a run's request stream: the hindsight oracle and the best static mix.

The stream is the env's own: resetting it with the run's seed draws exactly the requests the
agent is then served (``run_episode`` resets with the same seed), and
:func:`messenv.harness.stream_outcomes` reads every model's outcome on them.
"""

from __future__ import annotations

from dataclasses import dataclass

import hashlib

import gymnasium as gym

from messenv.harness import stream_outcomes
from messenv.oracle import reference_rows


@dataclass(frozen=True)
class References:
    """The stream's length and the two references on it (see :mod:`messenv.oracle`)."""

    n_requests: int
    stream_sha256: str
    oracle_energy_j: float
    oracle_quality: float
    static_mix_energy_j: float
    static_mix_quality: float
    static_mix_feasible: bool


def stream_fingerprint(env: gym.Env) -> str:
    """sha256 of the current stream: its requests' doc ids, in order.

    A run's stream is a function of the recording, the benchmark and the seed; results.json records
    this hash so that ``verify`` (and ``build``, across submissions) can tell a run played on another
    stream than the protocol's seed draws.
    """
    base = env.unwrapped
    return hashlib.sha256("\x1f".join(base.recording.doc_ids[base.stream_rows].tolist()).encode()).hexdigest()


def stream_references(env: gym.Env, seed: int) -> References:
    """Reset ``env`` with ``seed`` and solve both references on that stream under the env's α.

    Raises:
        ValueError: the oracle is infeasible there (α above the best achievable mean quality),
            which makes the run unscorable for every agent: the protocol must not ask for it.
    """
    env.reset(seed=seed)
    quality, energy_j = stream_outcomes(env)
    alpha = env.unwrapped.task.alpha
    oracle, mix = reference_rows(quality, energy_j, alpha)
    if not oracle["feasible"]:
        raise ValueError(f"alpha={alpha:g} is unattainable on this stream: {oracle['note']}")
    return References(
        n_requests=len(quality),
        stream_sha256=stream_fingerprint(env),
        oracle_energy_j=oracle["total_energy_j"],
        oracle_quality=oracle["mean_quality"],
        static_mix_energy_j=mix["total_energy_j"],
        static_mix_quality=mix["mean_quality"],
        static_mix_feasible=bool(mix["feasible"]),
    )
