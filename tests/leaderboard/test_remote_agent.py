"""What of a step's ``info`` crosses to the agent's worker."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

import messenv  # noqa: F401  (registers messenv/MessEnv-v0)
from messenv.leaderboard.remote_agent import public_info


def test_the_true_running_quality_never_reaches_the_agent(tiny_recording) -> None:
    """Under sparse feedback the true running mean would give each withheld quality away (the
    difference of two consecutive running means): the worker is handed neither it nor the gap."""
    env = gym.make("messenv/MessEnv-v0", recording=tiny_recording, alpha=0.5, n_requests=40, feedback_rate=0.3)
    env.reset(seed=0)
    withheld = 0
    for _ in range(40):
        *_, info = env.step(0)
        handed = public_info(info)
        assert "running_quality" in info and "running_quality" not in handed and "sla_gap" not in handed
        if not info["feedback"]:
            withheld += 1
            assert handed["quality"] is None and handed["cost"] is None
    assert withheld > 0
    assert set(handed) <= set(info) and np.isfinite(handed["energy_j"])
