"""Uniform random routing: a baseline with no knowledge at all.

Decision rule: each request goes to a model drawn uniformly from ``0..M-1`` with the agent's
seeded generator; the explore action is never played. No parameters. It answers "how much does
any learning buy?" and, since its mean quality is the zoo's average, whether a given α is
trivially reachable.
"""

from __future__ import annotations

import numpy as np

from messenv_agents.base import BaseAgent, allowed_models


class RandomAgent(BaseAgent):
    """A uniformly random model per request (never the explore action)."""

    name = "random"

    def act(self, obs: dict) -> int:
        """A model index drawn uniformly with ``self.rng`` (among the available ones when the zoo changes)."""
        allowed = allowed_models(obs, self.n_models)
        if allowed is None:
            return int(self.rng.integers(self.n_models))
        return int(self.rng.choice(np.flatnonzero(allowed)))
