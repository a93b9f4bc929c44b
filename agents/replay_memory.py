"""A bounded memory of explored requests that MESS+'s predictor replays in mini-batches.

Why: trained one example per explored request (the reference's online loop), the predictor head
moves every prediction by a large step towards the latest label, and with ``clip_grad_norm_(1.0)``
nearly always active the steps have a fixed length whatever the error, so the head drifts towards
each model's MAJORITY label instead of its accuracy (on the real Llama-3 recordings its held-out
Brier score was worse than predicting the running mean; see ``MessPlusAgent``). Averaging the
gradient over a mini-batch drawn from the explored requests seen so far fixes both. The reference
configs name this option (laminair/mess-plus ``config/llama3/online/*.yaml``, ``classifier_model``:
``memory_size`` — 0 there —, ``memory_strategy: random``, ``batch_size``).

The memory keeps a uniform random sample of everything added (reservoir sampling), so its
content does not depend on when in the stream a request arrived.
"""

from __future__ import annotations

import numpy as np


class ReplayMemory:
    """Up to ``capacity`` (features, target) pairs, a uniform sample of all that were added.

    Args:
        capacity: the most examples kept.
        feature_dim: length of a feature vector.
        n_models: length of a target (one quality per model).
        rng: the agent's generator (which slot a new example replaces, which examples a batch takes).
    """

    def __init__(self, capacity: int, feature_dim: int, n_models: int, rng: np.random.Generator) -> None:
        if capacity < 1:
            raise ValueError(f"replay memory capacity must be >= 1, got {capacity}")
        self.features = np.empty((capacity, feature_dim), dtype=np.float32)
        self.targets = np.empty((capacity, n_models), dtype=np.float32)
        self.rng = rng
        self.size = 0
        self.seen = 0
        self._batch_features: np.ndarray | None = None
        self._batch_targets: np.ndarray | None = None

    def add(self, features: np.ndarray, target: np.ndarray) -> None:
        """Keep the example (reservoir sampling: once full, it replaces a random slot with
        probability ``capacity / seen``)."""
        self.seen += 1
        capacity = len(self.features)
        if self.size < capacity:
            slot = self.size
            self.size += 1
        else:
            slot = int(self.rng.integers(self.seen))
            if slot >= capacity:
                return
        self.features[slot] = features
        self.targets[slot] = target

    def batch_with(self, features: np.ndarray, target: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """The new example plus up to ``batch_size − 1`` distinct examples drawn from the memory.

        The arrays returned are views of buffers reused by the next call (no allocation per step).
        """
        n_others = min(batch_size - 1, self.size)
        if self._batch_features is None or len(self._batch_features) < batch_size:
            self._batch_features = np.empty((batch_size, self.features.shape[1]), dtype=np.float32)
            self._batch_targets = np.empty((batch_size, self.targets.shape[1]), dtype=np.float32)
        batch_features, batch_targets = self._batch_features[: n_others + 1], self._batch_targets[: n_others + 1]
        batch_features[0], batch_targets[0] = features, target
        if n_others:
            others = self.rng.choice(self.size, size=n_others, replace=False)
            # mode="clip": the indices are in range by construction, and numpy buffers an ``out``
            # under the default mode="raise" (a second copy that cost 4x the gather)
            np.take(self.features, others, axis=0, out=batch_features[1:], mode="clip")
            np.take(self.targets, others, axis=0, out=batch_targets[1:], mode="clip")
        return batch_features, batch_targets
