"""Fixed-model baselines: always the cheapest model, or always the largest.

Decision rule: ``cheapest_first`` plays model 0 on every request (the energy floor, usually below
the SLA); ``largest_only`` plays model ``M - 1`` on every request (the quality ceiling at the
highest energy). They bracket every other agent and have no parameters. Source: the baselines
of MESS+ (arXiv 2411.00889, Sec. 5) that route everything to one model of the zoo.
"""

from __future__ import annotations

import numpy as np

from messenv_agents.base import BaseAgent, allowed_models


class CheapestFirstAgent(BaseAgent):
    """Always model 0, the cheapest of the zoo."""

    name = "cheapest_first"

    def act(self, obs: dict) -> int:
        """Model 0 (the cheapest available one when the zoo changes)."""
        allowed = allowed_models(obs, self.n_models)
        return 0 if allowed is None else int(np.flatnonzero(allowed)[0])


class LargestOnlyAgent(BaseAgent):
    """Always model ``M - 1``, the largest (most expensive) of the zoo."""

    name = "largest_only"

    def act(self, obs: dict) -> int:
        """The last model (the largest available one when the zoo changes)."""
        allowed = allowed_models(obs, self.n_models)
        return self.n_models - 1 if allowed is None else int(np.flatnonzero(allowed)[-1])
