"""Agents (routing policies) for messenv; imported as ``messenv_agents``.

``AGENTS`` maps the name a run config uses (``agent=mess_plus``) to the agent class; every class
is constructed with keyword parameters and implements :class:`messenv_agents.base.Agent`.
Importing this package does not import torch.
"""

from messenv_agents.base import Agent, BaseAgent
from messenv_agents.fixed import CheapestFirstAgent, LargestOnlyAgent
from messenv_agents.linucb import LinUCBAgent
from messenv_agents.mess_plus import MessPlusAgent
from messenv_agents.mess_plus_reference import MessPlusReferenceAgent
from messenv_agents.primal_dual import PrimalDualAgent
from messenv_agents.safe_mix import SafeMixAgent
from messenv_agents.safe_mix_contextual import SafeMixContextualAgent
from messenv_agents.thompson import ThompsonAgent
from messenv_agents.ucb import UCB1Agent
from messenv_agents.uniform_random import RandomAgent

AGENTS: dict[str, type] = {
    cls.name: cls
    for cls in (
        MessPlusAgent,
        MessPlusReferenceAgent,
        RandomAgent,
        CheapestFirstAgent,
        LargestOnlyAgent,
        UCB1Agent,
        ThompsonAgent,
        LinUCBAgent,
        PrimalDualAgent,
        SafeMixAgent,
        SafeMixContextualAgent,
    )
}

__all__ = ["AGENTS", "Agent", "BaseAgent"]
