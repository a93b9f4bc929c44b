"""MESS+'s accuracy predictor head in plain numpy: forward, manual backward, SGD with momentum.

The head maps a prompt's frozen-encoder features ``x`` (length ``h``) to one logit per model:
``Linear(h, h) -> LayerNorm(h) -> ReLU -> Dropout(p) -> Linear(h, M)``, trained online with
BCE-with-logits (mean over the M outputs), global-norm gradient clipping and SGD with momentum and
weight decay, one example at a time. ``sigmoid(logit_m)`` estimates the probability that model
``m`` answers the prompt correctly.

Why numpy and not torch: the benchmark's main job must run on a plain install without torch, and
MESS+ has to decide in tens of microseconds per request (``benchmarks/test_agents_speed.py``); for
a single example of a few hundred features, a handful of numpy calls on preallocated float32
arrays is several times cheaper than torch's per-op dispatch and autograd bookkeeping. The torch
version (:mod:`messenv_agents.torch_head`) computes the same update; a test checks both agree.

Defaults follow the MESS+ reference (laminair/mess-plus at 9a55bc6, ``config/llama3/*.yaml``,
``classifier_model``): learning rate 0.0606 (arc_challenge's), momentum 0.9, dropout 0.1, and
``clip_grad_norm_(..., 1.0)`` in its classifier training loop (``classifier/model.py``). The
reference trains that head on ModernBERT features; here ``h`` is the observation's feature length.
Weight decay defaults to 0, not the configs' 0.01: the reference applies that 0.01 through
``optim.SGD`` (coupled), which with momentum 0.9 shrinks the weights by about 0.6% per step and cut
the head's accuracy on the separable toy problem of ``tests/agents/test_predictors.py`` from 0.95
to 0.75 (16 features, 3000 steps). ``conf/agent/mess_plus_reference.yaml`` sets 0.01 as the
reference does.
Parameter names follow ``torch.nn.Sequential`` indices (``0`` Linear, ``1`` LayerNorm, ``4``
Linear) so a state dict loads into the torch head unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from messenv_agents.blas_threads import single_threaded_blas

PARAM_NAMES = ("0.weight", "0.bias", "1.weight", "1.bias", "4.weight", "4.bias")
LAYER_NORM_EPS = 1e-5
CLIP_EPS = 1e-6  # torch.nn.utils.clip_grad_norm_ divides by (total_norm + 1e-6)


@dataclass(frozen=True)
class HeadConfig:
    """Hyperparameters of the predictor head and its optimiser (defaults: the MESS+ reference)."""

    learning_rate: float = 0.0606
    momentum: float = 0.9
    weight_decay: float = 0.0
    dropout: float = 0.1
    grad_clip: float = 1.0

    def __post_init__(self) -> None:
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.grad_clip <= 0:
            raise ValueError(f"grad_clip must be > 0, got {self.grad_clip}")


def init_head_params(feature_dim: int, n_models: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Fresh parameters with torch's default init: Linear weights and biases ~ U(±1/sqrt(fan_in))."""
    if feature_dim < 1 or n_models < 1:
        raise ValueError(f"the head needs feature_dim >= 1 and n_models >= 1, got {feature_dim}, {n_models}")
    bound = 1.0 / np.sqrt(feature_dim)

    def uniform(*shape: int) -> np.ndarray:
        return rng.uniform(-bound, bound, size=shape).astype(np.float32)

    return {
        "0.weight": uniform(feature_dim, feature_dim),
        "0.bias": uniform(feature_dim),
        "1.weight": np.ones(feature_dim, dtype=np.float32),
        "1.bias": np.zeros(feature_dim, dtype=np.float32),
        "4.weight": uniform(n_models, feature_dim),
        "4.bias": uniform(n_models),
    }


def bce_with_logits(logits: np.ndarray, target: np.ndarray) -> float:
    """Mean binary cross-entropy on logits, computed stably (as ``nn.BCEWithLogitsLoss``):
    ``mean(log(1 + e^l) − t·l)``."""
    return (float(np.logaddexp(0.0, logits).sum()) - float(np.vdot(target, logits))) / logits.size


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function, stable for large ``|z|`` (scipy's ``expit``: one ufunc call)."""
    return expit(z)


class NumpyMLPHead:
    """The MESS+ predictor head, trained one example at a time (see the module docstring).

    Args:
        feature_dim: length ``h`` of the feature vector (the hidden width is ``h`` too).
        n_models: number of outputs ``M``.
        rng: generator for the initial weights and the dropout masks (the agent's, so that a
            seed fixes the whole trajectory).
        config: optimiser and dropout settings.
    """

    def __init__(self, feature_dim: int, n_models: int, rng: np.random.Generator, config: HeadConfig | None = None):
        self.config = config or HeadConfig()
        self.rng = rng
        initial = init_head_params(feature_dim, n_models, rng)
        # All parameters live in one flat float32 array (``self.params`` holds views into it), and
        # so do their gradients and momentum buffers: an SGD step is then three whole-array
        # operations instead of four per parameter, which matters at one example per step.
        self._weights, self.params = _flat_views(initial)
        self._grads, self._grad_views = _flat_views(initial)
        self._velocity = np.zeros_like(self._weights)  # u = lr·v, see train_step
        self.steps = 0
        # The forward pass of predict(): parameter views (updated in place by every step) and
        # its two intermediate vectors, so that a decision allocates only its result.
        p = self.params
        self._w1, self._b1, self._gamma, self._beta = p["0.weight"], p["0.bias"], p["1.weight"], p["1.bias"]
        self._w2, self._b2 = p["4.weight"], p["4.bias"]
        self._width = np.float32(feature_dim)
        self._zero = np.zeros((), dtype=np.float32)  # a 0-d array: no scalar conversion per call
        self._hidden = np.empty(feature_dim, dtype=np.float32)
        self._logits = np.empty(n_models, dtype=np.float32)
        self._workspaces: dict[int, BatchWorkspace] = {}  # by batch size, see _batch_backward

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the parameters under torch ``nn.Sequential`` names."""
        return {name: value.copy() for name, value in self.params.items()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Replace the parameters (shapes must match); resets the momentum buffers."""
        for name in PARAM_NAMES:
            value = np.asarray(state[name], dtype=np.float32)
            if value.shape != self.params[name].shape:
                raise ValueError(f"parameter {name!r}: shape {value.shape}, expected {self.params[name].shape}")
        for name in PARAM_NAMES:
            np.copyto(self.params[name], state[name])
        self._velocity[:] = 0.0
        self.steps = 0

    # ------------------------------------------------------------------ maths
    def _normalised(self, x: np.ndarray, out: np.ndarray | None = None) -> tuple[np.ndarray, float]:
        """LayerNorm's normalised pre-activations ``(z − mean) / std`` of ``W1·x + b1``, and 1/std
        (written into ``out`` when given).

        Every call below is the cheapest form of the same operation (``np.dot`` and ufuncs with a
        positional output, ``np.add.reduce`` for ``ndarray.sum``): the same BLAS and ufunc loops
        as the plain operators, so the same bits, with less per-call dispatch, which is most of
        the cost of a 384-wide vector.
        """
        z = np.dot(self._w1, x, out)
        np.add(z, self._b1, z)
        np.subtract(z, np.add.reduce(z) / self._width, z)
        inv_std = 1.0 / math.sqrt(float(np.dot(z, z)) / z.size + LAYER_NORM_EPS)  # a float: no numpy scalar
        np.multiply(z, inv_std, z)  # a Python float is cast to float32 first, as np.float32(inv_std) was
        return z, inv_std

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Estimated probability that each model answers correctly (eval mode: no dropout).

        One fused forward pass through buffers allocated once per head (the hidden layer and the
        logits), each step written in place, the same operations in the same order as the
        training pass, so predictions are bit-identical to it; only the returned probabilities
        are a fresh array.
        """
        hidden, logits = self._hidden, self._logits
        self._normalised(np.asarray(features, dtype=np.float32), hidden)
        np.multiply(hidden, self._gamma, hidden)
        np.add(hidden, self._beta, hidden)
        np.maximum(hidden, self._zero, out=hidden)
        np.dot(self._w2, hidden, logits)
        np.add(logits, self._b2, logits)
        return sigmoid(logits)

    def dropout_mask(self) -> np.ndarray:
        """An inverted-dropout mask drawn from ``self.rng`` (zeros, or ``1/(1-p)``)."""
        keep = 1.0 - self.config.dropout
        return (self.rng.random(self.params["0.bias"].size) < keep).astype(np.float32) / np.float32(keep)

    def _backward(self, features: np.ndarray, target: np.ndarray, mask: np.ndarray | None) -> tuple[float, dict]:
        """Loss and the gradient of each parameter, the two weight matrices' as rank-1 factors.

        Backward pass of ``mean(BCEWithLogits(W2·drop(relu(LN(W1·x + b1))) + b2, target))`` for one
        example: ``∂/∂W1 = d_z ⊗ x`` and ``∂/∂W2 = d_logits ⊗ d`` are returned as ``(column, row)``
        pairs, since a step never needs them as matrices (their norms are products of norms).
        """
        p = self.params
        x = np.asarray(features, dtype=np.float32)
        target = np.asarray(target, dtype=np.float32)
        mask = self.dropout_mask() if mask is None else np.asarray(mask, dtype=np.float32)
        z_hat, inv_std = self._normalised(x)
        y = z_hat * p["1.weight"]
        y += p["1.bias"]
        active = y > 0
        d = np.where(active, y, np.float32(0.0)) * mask
        logits = p["4.weight"] @ d + p["4.bias"]
        loss = bce_with_logits(logits, target)
        d_logits = (sigmoid(logits) - target) / np.float32(target.size)
        d_y = (d_logits @ p["4.weight"]) * mask * active
        d_z_hat = d_y * p["1.weight"]
        size = np.float32(z_hat.size)
        d_z = np.float32(inv_std) * (d_z_hat - d_z_hat.sum() / size - z_hat * (np.dot(d_z_hat, z_hat) / size))
        grads = {
            "0.weight": (d_z, x),
            "0.bias": d_z,
            "1.weight": d_y * z_hat,
            "1.bias": d_y,
            "4.weight": (d_logits, d),
            "4.bias": d_logits,
        }
        return loss, grads

    def gradients(
        self, features: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None
    ) -> tuple[float, dict[str, np.ndarray]]:
        """Loss and parameter gradients for one example in train mode (dropout ``mask`` if given)."""
        loss, grads = self._backward(features, target, mask)
        return loss, {name: np.outer(*g) if isinstance(g, tuple) else g for name, g in grads.items()}

    def train_step(self, features: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
        """One SGD step on one example; returns the loss before the step.

        Order as in torch: gradients, ``clip_grad_norm_`` over all parameters, then
        ``SGD(momentum, weight_decay)``: ``v = μ·v + g + wd·w``, ``w -= lr·v``. The momentum buffer
        is kept pre-multiplied by the learning rate, ``u = lr·v``: ``u = μ·u + lr·(g + wd·w)``,
        ``w -= u`` — the same arithmetic with one pass fewer.
        """
        loss, grads = self._backward(features, target, mask)
        squared = 0.0
        for grad in grads.values():
            if isinstance(grad, tuple):
                squared += float(np.dot(grad[0], grad[0])) * float(np.dot(grad[1], grad[1]))
            else:
                squared += float(np.dot(grad, grad))
        rate = self._clipped_rate(squared)
        for name, grad in grads.items():  # write lr·clip·g into the flat gradient buffer
            if isinstance(grad, tuple):
                np.multiply((grad[0] * rate)[:, None], grad[1], out=self._grad_views[name])  # outer product
            else:
                np.multiply(grad, rate, out=self._grad_views[name])
        self._sgd_step()
        return loss

    def train_batch(self, features: np.ndarray, targets: np.ndarray, masks: np.ndarray | None = None) -> float:
        """One SGD step on a mini-batch (``features[B, h]``, ``targets[B, M]``); returns the loss before it.

        The loss is ``BCEWithLogitsLoss`` averaged over the batch and the models, as in the
        reference's batched classifier training; clipping and the optimiser are those of
        :meth:`train_step` (which is this with ``B = 1``). ``masks[B, h]``: dropout masks (drawn
        from ``self.rng`` if omitted).
        """
        with single_threaded_blas():
            loss, grads = self._batch_backward(features, targets, masks)
            squared = 0.0
            for grad in grads.values():
                if isinstance(grad, tuple):  # ‖aᵀb‖² = Σ (a·aᵀ) ⊙ (b·bᵀ): B×B Gram matrices, no h×h product
                    squared += float(np.vdot(grad[0] @ grad[0].T, grad[1] @ grad[1].T))
                else:
                    squared += float(np.dot(grad, grad))
            rate = self._clipped_rate(squared)
            scaled = self._workspaces[len(grads["0.weight"][0])].scaled
            for name, grad in grads.items():  # write lr·clip·g into the flat gradient buffer
                if isinstance(grad, tuple):
                    # into the preallocated view: a fresh h×h result costs more than the product itself
                    factor = np.multiply(grad[0], rate, scaled[: grad[0].size].reshape(grad[0].shape))
                    np.matmul(factor.T, grad[1], out=self._grad_views[name])
                else:
                    np.multiply(grad, rate, self._grad_views[name])
        self._sgd_step()
        return loss

    def _batch_backward(self, features: np.ndarray, targets: np.ndarray, masks: np.ndarray | None) -> tuple[float, dict]:
        """The backward pass of :meth:`_backward` for a batch, rows as examples; the two weight
        matrices' gradients are returned as factor pairs ``(a, b)`` meaning ``aᵀ·b``.

        Written into a :class:`BatchWorkspace` kept per batch size (the returned gradients are views
        of it, valid until the next step): each operation is the plain operator's ufunc or BLAS
        call with a preallocated output, in the same order, so the same bits without an
        allocation per intermediate; a row mean is ``np.add.reduce`` then a division by the row
        length, with the bits of ``ndarray.mean``.
        """
        x = np.atleast_2d(np.asarray(features, dtype=np.float32))
        target = np.atleast_2d(np.asarray(targets, dtype=np.float32))
        w = self._workspace(len(x))
        if masks is None:
            self.rng.random(out=w.uniform)
            np.less(w.uniform, w.keep, w.kept)
            mask = np.divide(w.kept, w.keep32, w.mask)  # 0 or 1/keep, as (u < keep).astype(f32) / f32(keep)
        else:
            mask = np.asarray(masks, dtype=np.float32)
        z = np.matmul(x, self._w1.T, out=w.z)
        np.add(z, self._b1, z)
        np.subtract(z, w.row_mean(z), z)
        variance = w.row_mean(np.multiply(z, z, w.tmp))
        np.add(variance, LAYER_NORM_EPS, variance)
        inv_std = np.divide(1.0, np.sqrt(variance, variance), w.inv_std)
        z_hat = np.multiply(z, inv_std, z)
        y = np.multiply(z_hat, self._gamma, w.y)
        np.add(y, self._beta, y)
        active = np.greater(y, 0.0, w.active)
        # np.where(active, y, 0) * mask: max(y, +0) is the same for every y but NaN, as y is never
        # −0 (β starts at +0 and a sum is −0 only when both terms are); one plain loop, no masked one
        d = np.multiply(np.maximum(y, self._zero, out=w.d), mask, w.d)
        logits = np.matmul(d, self._w2.T, out=w.logits)
        np.add(logits, self._b2, logits)
        loss = bce_with_logits(logits, target)
        d_logits = np.subtract(sigmoid(logits), target, w.d_logits)
        np.divide(d_logits, np.float32(target.size), d_logits)
        d_y = np.matmul(d_logits, self._w2, out=w.d_y)
        np.multiply(d_y, mask, d_y)
        np.multiply(d_y, active, d_y)
        d_z_hat = np.multiply(d_y, self._gamma, w.d_z_hat)
        d_z = np.subtract(d_z_hat, w.row_mean(d_z_hat), w.d_z)
        correction = np.multiply(z_hat, w.row_mean(np.multiply(d_z_hat, z_hat, w.tmp)), w.tmp)
        np.subtract(d_z, correction, d_z)
        np.multiply(inv_std, d_z, d_z)
        grads = {
            "0.weight": (d_z, x),
            "0.bias": np.add.reduce(d_z, 0, None, w.grad_b1),
            "1.weight": np.add.reduce(np.multiply(d_y, z_hat, w.tmp), 0, None, w.grad_gamma),
            "1.bias": np.add.reduce(d_y, 0, None, w.grad_beta),
            "4.weight": (d_logits, d),
            "4.bias": np.add.reduce(d_logits, 0, None, w.grad_b2),
        }
        return loss, grads

    def _workspace(self, batch: int) -> BatchWorkspace:
        """The buffers of a ``batch``-row step, made on first use (a replay memory's batch grows to
        its size over the first explored requests, then keeps it)."""
        workspace = self._workspaces.get(batch)
        if workspace is None:
            workspace = BatchWorkspace(batch, self._b1.size, self._b2.size, 1.0 - self.config.dropout)
            self._workspaces[batch] = workspace
        return workspace

    def _clipped_rate(self, squared_norm: float) -> np.float32:
        """``lr · min(1, clip / (‖g‖ + 1e-6))``: the step size after ``clip_grad_norm_``."""
        config = self.config
        return np.float32(config.learning_rate * min(1.0, config.grad_clip / (np.sqrt(squared_norm) + CLIP_EPS)))

    def _sgd_step(self) -> None:
        """Momentum SGD from the flat buffer holding ``lr·clip·g`` (see :meth:`train_step`)."""
        config = self.config
        velocity, weights = self._velocity, self._weights
        velocity *= np.float32(config.momentum)
        velocity += self._grads
        if config.weight_decay:
            velocity += np.float32(config.learning_rate * config.weight_decay) * weights
        weights -= velocity
        self.steps += 1


class BatchWorkspace:
    """Preallocated intermediates of one mini-batch step of ``batch`` rows (see ``_batch_backward``)."""

    def __init__(self, batch: int, width: int, n_models: int, keep: float) -> None:
        rows, column = (batch, width), (batch, 1)
        self.keep, self.keep32 = keep, np.float32(keep)  # the dropout mask's threshold and scale
        # ndarray.mean divides the float32 sums by the count as an intp, in float64, then rounds to
        # float32: the same bits as a float32 division (a correctly rounded float64 quotient of two
        # float32 numbers rounds to the correctly rounded float32 one, as 53 >= 2·24 + 2), which
        # skips the casting loop
        self.width = np.float32(width)
        self.uniform = np.empty(rows)
        self.kept = np.empty(rows, dtype=bool)
        self.active = np.empty(rows, dtype=bool)
        self.mask, self.z, self.tmp, self.y, self.d, self.d_y, self.d_z_hat, self.d_z = (
            np.empty(rows, dtype=np.float32) for _ in range(8)
        )
        self.scaled = np.empty(batch * width, dtype=np.float32)  # lr·clip times a gradient factor, flat
        self.mean, self.inv_std = (np.empty(column, dtype=np.float32) for _ in range(2))
        self.logits, self.d_logits = (np.empty((batch, n_models), dtype=np.float32) for _ in range(2))
        self.grad_b1, self.grad_gamma, self.grad_beta = (np.empty(width, dtype=np.float32) for _ in range(3))
        self.grad_b2 = np.empty(n_models, dtype=np.float32)

    def row_mean(self, rows: np.ndarray) -> np.ndarray:
        """``rows.mean(axis=1, keepdims=True)`` into ``self.mean``: the same reduction, and a division
        with the same result (see ``width``)."""
        np.add.reduce(rows, 1, None, self.mean, True)
        return np.divide(self.mean, self.width, self.mean)


def _flat_views(arrays: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """One flat float32 array holding copies of ``arrays``, and views of it shaped like them."""
    flat = np.concatenate([np.asarray(value, dtype=np.float32).ravel() for value in arrays.values()])
    views, start = {}, 0
    for name, value in arrays.items():
        views[name] = flat[start : start + value.size].reshape(value.shape)
        start += value.size
    return flat, views
