"""LinUCB's in-place Sherman-Morrison inverses against textbook LinUCB with explicit inverses.

The agent keeps ``A_m⁻¹`` by rank-one updates and, for sparse contexts, reads only the rows of it
where ``x`` is non-zero. The reference below recomputes ``θ_m = A_m⁻¹b_m`` and ``xᵀA_m⁻¹x`` with
``np.linalg.solve`` from ``A_m = ridge·I + Σ x xᵀ`` (Li et al., WWW 2010, Algorithm 1), so the
two must give the same indices up to float error and the same decisions on a stream.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from messenv.env.task import TaskSpec
from messenv_agents.linucb import LinUCBAgent
from tests.agents.helpers import make_info, make_obs, make_spec


class ExplicitLinUCB:
    """Disjoint LinUCB with ``A_m`` kept as matrices and solved at every decision."""

    def __init__(self, n_models: int, dim: int, beta: float, ridge: float) -> None:
        self.a = np.tile(np.eye(dim + 1) * ridge, (n_models, 1, 1))
        self.b = np.zeros((n_models, dim + 1))
        self.beta = beta

    def quality_index(self, features: np.ndarray) -> np.ndarray:
        x = np.append(features.astype(np.float32).astype(np.float64), 1.0)
        a_inv_x = np.stack([np.linalg.solve(a, x) for a in self.a])
        return np.einsum("md,md->m", self.b, a_inv_x) + self.beta * np.sqrt(a_inv_x @ x)

    def learn(self, features: np.ndarray, action: int, quality: float) -> None:
        x = np.append(features.astype(np.float32).astype(np.float64), 1.0)
        self.a[action] += np.outer(x, x)
        self.b[action] += quality * x


def sparse_features(rng: np.random.Generator, dim: int) -> np.ndarray:
    """A hashed-word-like vector: a few non-zeros, unit norm."""
    x = np.zeros(dim)
    x[rng.choice(dim, size=5, replace=False)] = rng.normal(size=5)
    return x / np.linalg.norm(x)


def spec_of_kind(features_kind: str, n_models: int, dim: int) -> TaskSpec:
    return replace(make_spec(n_models=n_models, explore=False, feature_dim=dim), features_kind=features_kind)


@pytest.mark.parametrize(
    ("features_kind", "kind"),
    [("hashed-ngram", "sparse"), ("hashed-ngram", "dense"), ("minilm", "dense"), ("minilm", "sparse")],
)
def test_linucb_matches_explicit_inverses_on_a_stream(features_kind: str, kind: str) -> None:
    """Whole matrices with row gathers (hashed features), or one triangle (dense kinds), on
    sparse and dense contexts alike."""
    dim, n_models, steps = 32, 3, 400
    rng = np.random.default_rng(7)
    agent = LinUCBAgent(beta=0.8, ridge=1.0)
    agent.reset(spec_of_kind(features_kind, n_models, dim), seed=0)
    reference = ExplicitLinUCB(n_models, dim, beta=0.8, ridge=1.0)
    energy = np.array([1.0, 3.0, 9.0])
    weights = rng.normal(size=(n_models, dim))
    for _ in range(steps):
        features = sparse_features(rng, dim) if kind == "sparse" else rng.normal(size=dim)
        obs = make_obs(features, feature_dim=dim)
        action = agent.act(obs)
        if agent.stats.quality_count.min() > 0:  # past the round of unseen arms, indices decide
            np.testing.assert_allclose(agent.quality_index(obs), reference.quality_index(features), rtol=1e-9)
        quality = float(rng.random() < 1 / (1 + np.exp(-weights[action] @ features)))
        agent.update(obs, action, -energy[action], make_info(action, quality, energy[action], n_models=n_models))
        reference.learn(features, action, quality)
    np.testing.assert_allclose(agent.inverses(), np.linalg.inv(reference.a), atol=1e-10)


def test_linucb_recomputes_when_the_observation_changes_between_act_and_learn() -> None:
    """The cached ``A⁻¹x`` of the last decision is only reused for the same features."""
    dim = 8
    agent = LinUCBAgent(beta=1.0)
    agent.reset(spec_of_kind("hashed-ngram", 2, dim), seed=0)
    reference = ExplicitLinUCB(2, dim, beta=1.0, ridge=1.0)
    rng = np.random.default_rng(1)
    first, second = rng.normal(size=dim), rng.normal(size=dim)
    agent.quality_index(make_obs(first, feature_dim=dim))
    agent.learn(make_obs(second, feature_dim=dim), 1, 1.0)
    reference.learn(second, 1, 1.0)
    np.testing.assert_allclose(agent.inverses(), np.linalg.inv(reference.a), atol=1e-12)


def test_a_features_buffer_refilled_in_place_is_read_afresh_for_the_next_request():
    """act then update of one request may reuse ``A⁻¹x`` by the features array's identity; an env
    that refills that array in place for the next request (no quality revealed in between, so
    ``A⁻¹`` did not change) must still be read anew."""
    agent = LinUCBAgent(beta=1.0)
    agent.reset(make_spec(feature_dim=4), seed=0)
    agent.all_revealed = True  # skip the first plays of each arm: the index decides
    buffer = np.array([1.0, 0.0, 0.0, 0.0], dtype=np.float32)
    obs = make_obs(buffer)
    obs["features"] = buffer
    agent.act(obs)
    agent.update(obs, 0, -1.0, make_info(0, None, 10.0))
    buffer[:] = [0.0, 0.0, 3.0, 0.0]
    agent.act(obs)
    np.testing.assert_array_equal(agent._x, [0.0, 0.0, 3.0, 0.0, 1.0])
