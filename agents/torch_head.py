"""The MESS+ predictor head in torch, as an alternative to :mod:`messenv_agents.mlp_head`.

Same network (``Linear -> LayerNorm -> ReLU -> Dropout -> Linear``), same loss, clipping and
optimiser as the reference MESS+ classifier (``nn.BCEWithLogitsLoss``, ``clip_grad_norm_(1.0)``,
``torch.optim.SGD(momentum=0.9, weight_decay)``), built from torch's own modules so that it can be
swapped for a larger head or run on a GPU. Needs the ``embed`` extra (``pip install torch==2.13.0``
first on CPU machines). It is much slower than the numpy head for one example at a time on CPU,
which is why it is not the default: a 2,000-request MESS+ episode on the bundled zoo took about
1 ms per request with ``torch.set_num_threads(1)`` and 10 ms with torch's default threads on a
busy 2-core machine, against about 0.1 ms with the numpy head (env and harness included). On a
CPU, set ``torch.set_num_threads(1)`` before using it. ``tests/agents/test_predictors.py`` checks
both heads give the same gradients and updates from the same weights.

Dropout masks come from a ``torch.Generator`` seeded from the agent's numpy generator, never from
torch's global RNG, so two agents never disturb each other's randomness.
"""

from __future__ import annotations

import numpy as np

from messenv_agents.mlp_head import HeadConfig, init_head_params

try:
    import torch
    from torch import nn
except ImportError as error:  # pragma: no cover - exercised only without torch
    # ModuleNotFoundError (not a plain ImportError): "torch is not installed" is what this is, and
    # pytest >= 9.1's importorskip skips only on ModuleNotFoundError.
    raise ModuleNotFoundError(
        "messenv_agents.torch_head needs torch: `pip install torch==2.13.0` then `pip install messenv[embed]`,"
        " or use the default numpy predictor (predictor='numpy')",
        name="torch",
    ) from error


class TorchMLPHead:
    """Torch twin of :class:`~messenv_agents.mlp_head.NumpyMLPHead` (same interface)."""

    def __init__(self, feature_dim: int, n_models: int, rng: np.random.Generator, config: HeadConfig | None = None):
        self.config = config or HeadConfig()
        self.net = nn.Sequential(
            nn.Linear(feature_dim, feature_dim),
            nn.LayerNorm(feature_dim),
            nn.ReLU(),
            nn.Dropout(self.config.dropout),
            nn.Linear(feature_dim, n_models),
        )
        self.generator = torch.Generator().manual_seed(int(rng.integers(2**63 - 1)))
        self.load_state_dict(init_head_params(feature_dim, n_models, rng))
        self.loss_fn = nn.BCEWithLogitsLoss()
        self.steps = 0

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Load numpy parameters (``nn.Sequential`` names); resets the optimiser's momentum."""
        self.net.load_state_dict({name: torch.as_tensor(np.asarray(value, dtype=np.float32)) for name, value in state.items()})
        config = self.config
        self.optimizer = torch.optim.SGD(
            self.net.parameters(), lr=config.learning_rate, momentum=config.momentum, weight_decay=config.weight_decay
        )

    def state_dict(self) -> dict[str, np.ndarray]:
        """The parameters as numpy arrays."""
        return {name: value.detach().numpy().copy() for name, value in self.net.state_dict().items()}

    def _logits(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        linear, norm, relu, _, out = self.net
        hidden = relu(norm(linear(x)))
        return out(hidden if mask is None else hidden * mask)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Estimated probability that each model answers correctly (eval mode: no dropout)."""
        with torch.no_grad():
            logits = self._logits(torch.as_tensor(np.asarray(features, dtype=np.float32)), None)
        return torch.sigmoid(logits).numpy().astype(np.float32)

    def dropout_mask(self, batch: tuple[int, ...] = ()) -> torch.Tensor:
        """An inverted-dropout mask (one row per example of ``batch``) from this head's own generator."""
        keep = 1.0 - self.config.dropout
        size = (*batch, self.net[0].out_features)
        return (torch.rand(size, generator=self.generator) < keep).float() / keep

    def gradients(
        self, features: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None
    ) -> tuple[float, dict[str, np.ndarray]]:
        """Loss and gradients for one example (autograd), without changing the parameters."""
        loss = self._backward(features, target, mask)
        grads = {name: param.grad.detach().numpy().copy() for name, param in self.net.named_parameters()}
        self.optimizer.zero_grad()
        return loss, grads

    def _backward(self, features: np.ndarray, target: np.ndarray, mask: np.ndarray | None) -> float:
        self.optimizer.zero_grad()
        x = torch.as_tensor(np.asarray(features, dtype=np.float32))
        drop = self.dropout_mask(tuple(x.shape[:-1])) if mask is None else torch.as_tensor(np.asarray(mask, dtype=np.float32))
        loss = self.loss_fn(self._logits(x, drop), torch.as_tensor(np.asarray(target, dtype=np.float32)))
        loss.backward()
        return float(loss.detach())

    def train_step(self, features: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
        """Backward, ``clip_grad_norm_(grad_clip)``, one SGD step; returns the loss before it."""
        loss = self._backward(features, target, mask)
        nn.utils.clip_grad_norm_(self.net.parameters(), self.config.grad_clip)
        self.optimizer.step()
        self.steps += 1
        return loss

    def train_batch(self, features: np.ndarray, targets: np.ndarray, masks: np.ndarray | None = None) -> float:
        """:meth:`train_step` on a mini-batch (``features[B, h]``, ``targets[B, M]``, ``masks[B, h]``)."""
        return self.train_step(features, targets, masks)
