"""The registry and the simple baselines; every registered agent plays a real episode."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from messenv.harness import run_episode
from messenv_agents import AGENTS, Agent
from messenv_agents.base import BaseAgent
from messenv_agents.fixed import CheapestFirstAgent, LargestOnlyAgent
from messenv_agents.uniform_random import RandomAgent
from tests.agents.helpers import make_obs, make_spec


def test_registry_names_match_classes():
    assert set(AGENTS) == {
        "mess_plus", "random", "cheapest_first", "largest_only", "ucb1", "thompson", "linucb", "primal_dual",
        "safe_mix", "safe_mix_contextual", "mess_plus_reference",
    }
    for name, cls in AGENTS.items():
        assert cls.name == name
        assert isinstance(cls(), Agent)
        assert cls.__module__.startswith("messenv_agents.") and cls.__doc__


def test_importing_agents_does_not_import_torch():
    code = "import sys, messenv_agents; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_fixed_baselines():
    spec = make_spec(n_models=4)
    cheapest, largest = CheapestFirstAgent(), LargestOnlyAgent()
    for agent in (cheapest, largest):
        agent.reset(spec, seed=0)
    assert cheapest.act(make_obs()) == 0
    assert largest.act(make_obs()) == 3


def test_random_is_uniform_over_models_and_never_explores():
    agent = RandomAgent()
    agent.reset(make_spec(n_models=3), seed=0)
    counts = np.bincount([agent.act(make_obs()) for _ in range(3000)], minlength=4)
    assert counts[3] == 0
    assert np.all(np.abs(counts[:3] - 1000) < 5 * np.sqrt(3000 * (1 / 3) * (2 / 3)))


def test_base_agent_needs_reset_and_act():
    agent = BaseAgent()
    with pytest.raises(NotImplementedError, match="does not implement act"):
        agent.act(make_obs())
    with pytest.raises(RuntimeError, match="call reset"):
        LargestOnlyAgent().act(make_obs())


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_every_agent_plays_deterministically(make_env, name):
    env = make_env(feedback_rate=0.5, n_requests=200)
    first = run_episode(env, AGENTS[name](), seed=7)
    again = run_episode(env, AGENTS[name](), seed=7)
    other = run_episode(env, AGENTS[name](), seed=8)
    assert first.same_as(again)
    assert not first.same_as(other)
    assert first.n_requests == 200
