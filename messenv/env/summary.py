"""Episode statistics: running totals while an episode plays and the summary at its end.

The totals count the TRUE quality of every answer, also on steps whose quality was withheld from
the agent (sparse feedback): the SLA is judged on what users received, not on what the agent saw.
The same arithmetic serves the single env (scalars) and the vector env (arrays over sub-envs).
"""

from __future__ import annotations

from typing import Any, Sequence

import gymnasium as gym
import numpy as np


class EpisodeTotals:
    """Running totals of one episode (scalars) or of a batch of episodes (arrays of length n).

    Args:
        n_actions: number of actions A (models, plus the explore action if any).
        batch: number of parallel episodes; ``None`` for a single episode.
    """

    def __init__(self, n_actions: int, batch: int | None = None) -> None:
        # Plain floats for a single episode: numpy 0-d arithmetic would double the env's step time.
        def zeros() -> Any:
            return 0.0 if batch is None else np.zeros(batch)

        self.steps = 0
        self.quality = zeros()
        self.energy_j = zeros()
        self.latency_s = zeros()
        self.feedback = zeros()
        self.explore_energy_j = zeros()
        # A list for a single episode, like the floats: a list item increments ~5x faster than a numpy one.
        self.action_counts: Any = [0] * n_actions if batch is None else np.zeros((batch, n_actions), dtype=np.int64)
        # Flat index of (episode i, action 0): one 1-D increment per step instead of a 2-D one.
        self._offsets = None if batch is None else np.arange(batch) * n_actions

    def add(self, action: Any, quality: Any, energy_j: Any, latency_s: Any, feedback: Any, explored: Any) -> None:
        """Count one step (one request per episode)."""
        self.steps += 1
        self.explore_energy_j += energy_j * explored
        self.quality += quality
        self.energy_j += energy_j
        self.latency_s += latency_s
        self.feedback += feedback
        if self._offsets is None:
            self.action_counts[action] += 1
        else:
            # Each episode takes one action per step: the flat indices are distinct, so a plain
            # fancy-index increment counts them all (np.add.at is only needed for repeats).
            self.action_counts.reshape(-1)[self._offsets + action] += 1

    def running_quality(self) -> Any:
        """Mean true quality so far (0 before the first step)."""
        return self.quality / max(self.steps, 1)

    def summary(self, alpha: float, models: Sequence[str]) -> dict[str, Any]:
        """The episode summary (``info["episode_summary"]``): energy, quality, SLA outcome, model shares.

        Args:
            alpha: the SLA.
            models: model labels; action ``len(models)``, if counted, is the explore action.
        """
        n = max(self.steps, 1)
        m = len(models)
        mean_quality = self.quality / n
        share = np.asarray(self.action_counts, dtype=np.int64) / n
        return {
            "n_requests": self.steps,
            "alpha": alpha,
            "models": list(models),
            "total_energy_j": self.energy_j,
            "mean_energy_j": self.energy_j / n,
            "mean_quality": mean_quality,
            "sla_met": mean_quality >= alpha,
            "sla_violation": np.maximum(0.0, alpha - mean_quality),
            "total_latency_s": self.latency_s,
            "model_share": share[..., :m].copy(),
            "exploration_share": share[..., m] if share.shape[-1] > m else 0.0 * mean_quality,
            "exploration_energy_j": self.explore_energy_j,
            "feedback_share": self.feedback / n,
        }


def to_builtin(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary with numpy scalars and arrays turned into Python numbers and lists (JSON-ready)."""
    return {k: (v.tolist() if isinstance(v, (np.ndarray, np.generic)) else v) for k, v in summary.items()}


class RecordEpisodeSummaries(gym.Wrapper):
    """Keeps every finished episode's summary (``info["episode_summary"]``) in :attr:`summaries`.

    Like Gymnasium's ``RecordEpisodeStatistics``, but for the MESS+ metrics (energy, quality, SLA).

    Example:
        >>> env = RecordEpisodeSummaries(gym.make("messenv/MessEnv-v0"))  # doctest: +SKIP
        >>> ...  # play episodes
        >>> env.summaries[-1]["sla_met"]  # doctest: +SKIP
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.summaries: list[dict[str, Any]] = []

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        if "episode_summary" in info:
            self.summaries.append(info["episode_summary"])
        return obs, reward, terminated, truncated, info
