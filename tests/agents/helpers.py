"""Helpers for agent and harness tests: a small learnable zoo, task specs, obs and info dicts, and
BLAS libraries held at two threads.

The zoo is made here (no data files): each request has a hidden difficulty that is a linear
function of its features, and model m answers correctly with probability
``sigmoid(skill_m − difficulty)``; energies grow with the model index. A router that reads the
features can therefore beat any prompt-blind mix, which is what MESS+ and LinUCB exploit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest

from messenv.env.task import TaskSpec
from messenv.recordings.recording import Recording, RecordingMetadata
from messenv_agents.blas_threads import blas_libraries

SKILLS = np.array([-0.5, 0.5, 1.5])
ENERGY_J = np.array([10.0, 40.0, 150.0])


def make_learnable_zoo(n: int = 600, feature_dim: int = 16, seed: int = 0) -> Recording:
    """A 3-model zoo of ``n`` requests whose correctness depends on the features."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, feature_dim)).astype(np.float32)
    difficulty = features @ rng.normal(size=feature_dim) / np.sqrt(feature_dim)
    p_correct = 1.0 / (1.0 + np.exp(-(SKILLS[None, :] - difficulty[:, None])))
    quality = (rng.random((n, 3)) < p_correct).astype(float)
    energy = ENERGY_J[None, :] * rng.uniform(0.8, 1.2, size=(n, 3))
    return Recording.build(
        name="learnable-toy",
        models=["small", "medium", "large"],
        doc_ids=range(n),
        prompts=[f"request {i}" for i in range(n)],
        benchmarks=["toy" if i % 2 else "toy2" for i in range(n)],
        quality=quality,
        energy_j=energy,
        latency_s=energy / 100.0,
        features=features,
        metadata=RecordingMetadata(synthetic=True, features_kind="toy-gaussian"),
    )


def make_spec(n_models: int = 3, alpha: float = 0.7, explore: bool = True, feature_dim: int = 4) -> TaskSpec:
    """A TaskSpec for agents tested without an env."""
    return TaskSpec(
        models=tuple(f"m{i}" for i in range(n_models)),
        alpha=alpha,
        n_requests=1000,
        explore_action=n_models if explore else None,
        feature_dim=feature_dim,
        features_kind="test",
        benchmark_names=("b",),
    )


def make_obs(features: np.ndarray | None = None, step: int = 0, feature_dim: int = 4) -> dict:
    """An observation dict shaped like MessEnv's."""
    if features is None:
        features = np.zeros(feature_dim, dtype=np.float32)
    return {"prompt": "p", "features": np.asarray(features, dtype=np.float32), "benchmark": 0, "step": np.int64(step)}


def make_info(
    action: int, quality: float | None, energy_j: float, outcomes: dict | None = None, n_models: int = 3
) -> dict:
    """A step info dict shaped like MessEnv's (``outcomes`` marks an explored step)."""
    info = {
        "models": tuple(range(n_models)) if outcomes else (action,),
        "answer_model": n_models - 1 if outcomes else action,
        "explored": outcomes is not None,
        "feedback": quality is not None,
        "quality": quality,
        "cost": None if quality is None else 1.0 - quality,
        "energy_j": energy_j,
        "latency_s": 0.1,
        "running_quality": 0.5,
        "sla_gap": 0.2,
    }
    if outcomes is not None:
        info["outcomes"] = outcomes
    return info


@contextmanager
def two_blas_threads() -> Iterator[tuple]:
    """Every BLAS library threadpoolctl controls at two threads inside (the test is skipped if there
    is none), the caller's counts restored after; yields the libraries' controllers."""
    libraries = blas_libraries()
    if not libraries:
        pytest.skip("no BLAS library that threadpoolctl can control")
    previous = [library.num_threads for library in libraries]
    for library in libraries:
        library.set_num_threads(2)
    try:
        yield libraries
    finally:
        for library, threads in zip(libraries, previous):
            library.set_num_threads(threads)
