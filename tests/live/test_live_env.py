"""LiveBackend and LiveMessEnv: each step runs the chosen model(s) for real on the tiny zoo."""

from __future__ import annotations

import math

import numpy as np
import pytest

from messenv.live.backend import LiveBackend
from messenv.live.energy import EstimateMeter
from messenv.live.env import LiveMessEnv
from messenv.live.runner import ModelFailure, RunSettings
from messenv.live.taskfile import TaskItem
from messenv.live.zoo import ZooSpec, zoo_from_config
from tests.live.conftest import shipped_zoo_config
from tests.live.fakes import FakeEngine, fake_factory


@pytest.fixture(scope="module")
def backend(tiny_zoo: ZooSpec, sample_tasks: list[TaskItem]):
    with LiveBackend.open(tiny_zoo, sample_tasks, EstimateMeter(20.0)) as backend:
        yield backend


def test_backend_runs_the_chosen_models_and_scores_like_the_engine(
    backend: LiveBackend, sample_tasks: list[TaskItem]
) -> None:
    quality, energy, latency = backend.run(3, [2, 0])
    assert quality.shape == energy.shape == latency.shape == (2,)
    assert set(quality) <= {0.0, 1.0} and (energy > 0).all()
    np.testing.assert_allclose(energy, latency * 20.0)
    item = sample_tasks[3]
    engine = backend.engines[backend.models[2]]
    logliks = engine.loglikelihoods(item.prompt, [" " + c for c in item.choices])
    assert quality[0] == float(int(np.argmax(logliks)) == item.answer)
    assert backend.benchmark_names == ("sample-reasoning", "sample-science")
    assert backend.benchmark_names[backend.benchmark_index[0]] == "sample-science"


def test_backend_rejects_bad_indices(backend: LiveBackend) -> None:
    with pytest.raises(IndexError, match="request index 99"):
        backend.run(99, [0])
    with pytest.raises(IndexError, match=r"model indices \[3\]"):
        backend.run(0, [3])


def test_live_env_episode_with_explore_action(backend: LiveBackend) -> None:
    env = LiveMessEnv(backend, alpha=0.4, explore_action=True, n_requests=5)
    observation, _ = env.reset(seed=1)
    assert env.task.models == backend.models and env.task.n_actions == 4
    assert observation["prompt"] in set(backend.prompts)
    total = 0.0
    for t in range(5):
        action = 3 if t % 2 == 0 else 1
        _, reward, terminated, _, info = env.step(action)
        total -= reward
        assert reward < 0 and math.isfinite(info["quality"])
        if action == 3:
            outcomes = info["outcomes"]
            assert outcomes["energy_j"].shape == (3,) and reward == pytest.approx(-outcomes["energy_j"].sum())
            assert info["quality"] == outcomes["quality"][-1] and info["answer_model"] == 2
        else:
            assert "outcomes" not in info and info["models"] == (1,)
    assert terminated
    assert info["episode_summary"]["total_energy_j"] == pytest.approx(total)


def test_live_env_failure_is_a_clear_error(sample_tasks: list[TaskItem]) -> None:
    zoo = zoo_from_config(shipped_zoo_config("tiny-random", root="/unused"))
    backend = LiveBackend.open(
        zoo,
        sample_tasks,
        EstimateMeter(20.0),
        RunSettings(on_error="record"),
        fake_factory(fail_on=[t.prompt for t in sample_tasks]),
    )
    assert backend.settings.on_error == "raise"  # an episode cannot continue without a quality
    env = LiveMessEnv(backend, alpha=0.5)
    env.reset(seed=0)
    with pytest.raises(ModelFailure, match="model 'tiny-a' failed on request .*CUDA out of memory"):
        env.step(0)
    backend.close()
    assert backend.engines == {}


def test_live_env_refuses_a_recording(backend: LiveBackend) -> None:
    with pytest.raises(TypeError, match="takes a backend, not a recording"):
        LiveMessEnv(backend, recording="synthetic-llama3")


def test_a_model_that_fails_to_load_frees_the_ones_loaded_before(sample_tasks: list[TaskItem]) -> None:
    zoo = zoo_from_config(shipped_zoo_config("tiny-random", root="/unused"))
    loaded: list[FakeEngine] = []

    def factory(spec, seed):
        if spec.label == "tiny-b":
            raise RuntimeError("CUDA out of memory while loading tiny-b")
        loaded.append(FakeEngine(spec.label))
        return loaded[-1]

    with pytest.raises(RuntimeError, match="while loading tiny-b"):
        LiveBackend.open(zoo, sample_tasks, EstimateMeter(20.0), engine_factory=factory)
    assert [engine.closed for engine in loaded] == [True]
