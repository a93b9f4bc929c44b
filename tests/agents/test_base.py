"""messenv_agents.base: what every agent shares; here, the error for an observation an agent needs."""

from __future__ import annotations

import gymnasium as gym
import pytest
from gymnasium.wrappers import FilterObservation

import messenv  # noqa: F401  (registers messenv/MessEnv-v0)
from messenv.harness import run_episode
from messenv_agents import LinUCBAgent, MessPlusAgent
from messenv_agents.base import MissingObservationError


@pytest.mark.parametrize("agent", [MessPlusAgent, LinUCBAgent], ids=["mess_plus", "linucb"])
def test_an_agent_whose_observation_lost_its_features_says_which_key_and_how_to_keep_it(tiny_recording, agent):
    env = gym.make("messenv/MessEnv-v0", recording=tiny_recording, alpha=0.6, explore_action=agent is MessPlusAgent)
    with pytest.raises(MissingObservationError) as error:
        run_episode(FilterObservation(env, ["benchmark", "step"]), agent(), seed=0)
    assert isinstance(error.value, KeyError)
    assert str(error.value).startswith("this agent reads obs['features'], which the observation does not hold "
                                       "(it has ['benchmark', 'step']): keep 'features' in the env's observation_keys")
