"""The MESS+ predictor head: numpy gradients are right, match torch's, and the head learns."""

from __future__ import annotations

import numpy as np
import pytest

from messenv_agents.mlp_head import HeadConfig, NumpyMLPHead, bce_with_logits, sigmoid
from messenv_agents.predictors import make_predictor

D, M = 6, 3


def head(seed: int = 0, **config) -> NumpyMLPHead:
    return NumpyMLPHead(D, M, np.random.default_rng(seed), HeadConfig(**config))


def example(seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=D).astype(np.float32)
    target = np.array([0.0, 1.0, 1.0], dtype=np.float32)
    mask = np.array([2.0, 0.0, 2.0, 2.0, 2.0, 0.0], dtype=np.float32)  # dropout p=0.5, two dropped
    return x, target, mask


def loss64(params: dict[str, np.ndarray], x: np.ndarray, target: np.ndarray, mask: np.ndarray) -> float:
    """The head's loss written independently, in float64, for finite differences."""
    z = params["0.weight"] @ x + params["0.bias"]
    z_hat = (z - z.mean()) / np.sqrt(z.var() + 1e-5)
    hidden = np.maximum(z_hat * params["1.weight"] + params["1.bias"], 0.0) * mask
    logits = params["4.weight"] @ hidden + params["4.bias"]
    return float(np.mean(np.logaddexp(0.0, logits) - target * logits))


def test_gradients_match_finite_differences():
    model = head()
    x, target, mask = example()
    _, grads = model.gradients(x, target, mask)
    params = {name: value.astype(np.float64) for name, value in model.state_dict().items()}
    rng = np.random.default_rng(2)
    for name, value in params.items():
        for index in rng.choice(value.size, size=min(5, value.size), replace=False):
            shifted_up, shifted_down = dict(params), dict(params)
            up, down = value.copy(), value.copy()
            up.flat[index] += 1e-6
            down.flat[index] -= 1e-6
            shifted_up[name], shifted_down[name] = up, down
            numeric = (loss64(shifted_up, x, target, mask) - loss64(shifted_down, x, target, mask)) / 2e-6
            assert grads[name].flat[index] == pytest.approx(numeric, rel=1e-3, abs=1e-5), (name, index)


def test_loss_and_sigmoid_are_stable():
    logits = np.array([-1000.0, 0.0, 1000.0])
    assert np.isfinite(bce_with_logits(logits, np.array([0.0, 1.0, 1.0])))
    np.testing.assert_allclose(sigmoid(logits), [0.0, 0.5, 1.0])


def test_clipping_bounds_the_update():
    model = head(learning_rate=1.0, momentum=0.0, weight_decay=0.0, grad_clip=1e-3)
    before = model.state_dict()
    x, target, mask = example()
    model.train_step(x, target, mask)
    change = np.sqrt(sum(np.sum((model.params[n] - before[n]) ** 2) for n in before))
    assert change == pytest.approx(1e-3, rel=1e-3)  # lr · clipped global norm


def test_dropout_masks_come_from_the_seed():
    masks = [head(seed=5, dropout=0.5).dropout_mask() for _ in range(2)]
    np.testing.assert_array_equal(*masks)
    assert set(np.unique(masks[0])) <= {0.0, 2.0}


def test_learns_a_separable_toy_problem():
    """Model m is right iff feature m is positive (10 more features are noise): after online
    training with the default settings the head must say so on fresh examples."""
    dim = 16
    rng = np.random.default_rng(0)
    model = NumpyMLPHead(dim, M, np.random.default_rng(0))
    for _ in range(3000):
        x = rng.normal(size=dim).astype(np.float32)
        model.train_step(x, (x[:M] > 0).astype(np.float32))
    test = rng.normal(size=(500, dim)).astype(np.float32)
    predicted = np.array([model.predict(x) for x in test]) > 0.5
    accuracy = (predicted == (test[:, :M] > 0)).mean()
    assert accuracy > 0.9


def test_state_dict_round_trip_and_shape_check():
    model, other = head(seed=0), head(seed=1)
    other.load_state_dict(model.state_dict())
    x, _, _ = example()
    np.testing.assert_array_equal(model.predict(x), other.predict(x))
    bad = model.state_dict()
    bad["4.weight"] = bad["4.weight"][:1]
    with pytest.raises(ValueError, match="'4.weight'"):
        other.load_state_dict(bad)


@pytest.mark.parametrize(
    "field, value", [("learning_rate", 0.0), ("momentum", 1.0), ("weight_decay", -1.0), ("dropout", 1.0), ("grad_clip", 0.0)]
)
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        HeadConfig(**{field: value})


def test_torch_head_gives_the_same_gradients_and_updates():
    torch_head = pytest.importorskip("messenv_agents.torch_head")
    config = {"learning_rate": 0.5, "momentum": 0.9, "weight_decay": 0.01, "dropout": 0.5, "grad_clip": 0.05}
    numpy_model = head(seed=0, **config)
    torch_model = torch_head.TorchMLPHead(D, M, np.random.default_rng(9), HeadConfig(**config))
    torch_model.load_state_dict(numpy_model.state_dict())
    x, target, mask = example()
    loss_np, grads_np = numpy_model.gradients(x, target, mask)
    loss_torch, grads_torch = torch_model.gradients(x, target, mask)
    assert loss_np == pytest.approx(loss_torch, rel=1e-5)
    for name in grads_np:
        np.testing.assert_allclose(grads_np[name], grads_torch[name], rtol=1e-4, atol=1e-6, err_msg=name)
    for step in range(4):  # clipping is active (grad_clip is small), momentum accumulates
        x, target, _ = example(seed=10 + step)
        numpy_model.train_step(x, target, mask)
        torch_model.train_step(x, target, mask)
    after_np, after_torch = numpy_model.state_dict(), torch_model.state_dict()
    for name in after_np:
        np.testing.assert_allclose(after_np[name], after_torch[name], rtol=1e-4, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(numpy_model.predict(x), torch_model.predict(x), rtol=1e-5)
    xs = np.stack([example(seed)[0] for seed in (20, 21)])
    targets, masks = np.stack([target, 1 - target]), np.stack([mask, mask[::-1]])
    assert numpy_model.train_batch(xs, targets, masks) == pytest.approx(torch_model.train_batch(xs, targets, masks), rel=1e-5)
    for name, value in numpy_model.state_dict().items():
        np.testing.assert_allclose(value, torch_model.state_dict()[name], rtol=1e-4, atol=1e-6, err_msg=name)


def test_factory_builds_by_name_or_callable():
    rng = np.random.default_rng(0)
    assert isinstance(make_predictor("numpy", D, M, rng, HeadConfig()), NumpyMLPHead)
    sentinel = object()
    assert make_predictor(lambda d, m, r, c: sentinel, D, M, rng, HeadConfig()) is sentinel


def test_batch_step_is_the_mean_of_the_example_gradients():
    model = head(learning_rate=0.1, momentum=0.9, weight_decay=0.01, grad_clip=1e9)
    rng = np.random.default_rng(3)
    xs = rng.normal(size=(4, D)).astype(np.float32)
    targets = (rng.random((4, M)) < 0.5).astype(np.float32)
    masks = (rng.random((4, D)) < 0.5).astype(np.float32) * 2
    per_example = [model.gradients(x, t, m)[1] for x, t, m in zip(xs, targets, masks)]
    expected = {name: np.mean([g[name] for g in per_example], axis=0) for name in per_example[0]}
    _, batched = model._batch_backward(xs, targets, masks)
    for name, grad in expected.items():
        got = batched[name][0].T @ batched[name][1] if isinstance(batched[name], tuple) else batched[name]
        np.testing.assert_allclose(got, grad, rtol=1e-4, atol=1e-6, err_msg=name)


def test_batch_of_one_is_a_train_step():
    x, target, mask = example()
    one, batch = head(), head()
    for _ in range(3):
        assert one.train_step(x, target, mask) == pytest.approx(batch.train_batch(x[None], target[None], mask[None]), rel=1e-5)
    for name, value in one.state_dict().items():
        np.testing.assert_allclose(batch.state_dict()[name], value, rtol=1e-4, atol=1e-6, err_msg=name)


def plain_batch_gradients(model: NumpyMLPHead, x: np.ndarray, target: np.ndarray, mask: np.ndarray) -> dict:
    """The mini-batch backward pass written with numpy's operators and fresh arrays (the form the
    head had before its workspace): the oracle for bit-identity of the in-place version."""
    p = model.params
    z = x @ p["0.weight"].T
    z += p["0.bias"]
    z -= z.mean(axis=1, keepdims=True)
    inv_std = (1.0 / np.sqrt((z * z).mean(axis=1, keepdims=True) + 1e-5)).astype(np.float32)
    z_hat = z * inv_std
    y = z_hat * p["1.weight"] + p["1.bias"]
    active = y > 0
    d = np.where(active, y, np.float32(0.0)) * mask
    logits = d @ p["4.weight"].T + p["4.bias"]
    d_logits = (sigmoid(logits) - target) / np.float32(target.size)
    d_y = (d_logits @ p["4.weight"]) * mask * active
    d_z_hat = d_y * p["1.weight"]
    d_z = inv_std * (
        d_z_hat - d_z_hat.mean(axis=1, keepdims=True) - z_hat * (d_z_hat * z_hat).mean(axis=1, keepdims=True)
    )
    return {
        "0.weight": d_z.T @ x, "0.bias": d_z.sum(axis=0), "1.weight": (d_y * z_hat).sum(axis=0),
        "1.bias": d_y.sum(axis=0), "4.weight": d_logits.T @ d, "4.bias": d_logits.sum(axis=0),
    }


@pytest.mark.parametrize("batch", [1, 5, 16])
def test_batch_pass_is_bit_identical_to_the_plain_operators(batch):
    """The workspace pass (in-place ufuncs, reused buffers) computes the same bits as the operators
    (what keeps MESS+'s committed leaderboard runs reproducible), for each batch size it meets."""
    model = NumpyMLPHead(48, M, np.random.default_rng(0), HeadConfig())
    rng = np.random.default_rng(batch)
    for _ in range(3):  # reused buffers: a stale value from an earlier step would show
        x = rng.normal(size=(batch, 48)).astype(np.float32)
        target = (rng.random((batch, M)) < 0.5).astype(np.float32)
        mask = (rng.random((batch, 48)) < 0.9).astype(np.float32) / np.float32(0.9)
        expected = plain_batch_gradients(model, x, target, mask)
        _, grads = model._batch_backward(x, target, mask)
        for name, want in expected.items():
            got = grads[name][0].T @ grads[name][1] if isinstance(grads[name], tuple) else grads[name]
            assert got.tobytes() == want.tobytes(), name
        model.train_batch(x, target, mask)
    features = rng.normal(size=48).astype(np.float32)
    hidden = np.maximum(model._normalised(features)[0] * model.params["1.weight"] + model.params["1.bias"], 0.0)
    logits = model.params["4.weight"] @ hidden + model.params["4.bias"]
    assert model.predict(features).tobytes() == sigmoid(logits).tobytes()
