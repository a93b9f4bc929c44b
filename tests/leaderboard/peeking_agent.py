"""Agents for tests/leaderboard/test_peeking.py: one that searches everything the harness hands it for
a way to the recording, and one that tries to tamper with the env through the arrays it is given.

The tests copy this file into a submission folder: the agents run in their sandboxed worker."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from messenv.env.outcomes import OutcomeTable
from messenv.recordings import Recording
from messenv_agents.base import BaseAgent

ATOMS = (str, bytes, int, float, bool, type(None), np.generic)
FORBIDDEN_MODULES = ("messenv.leaderboard", "messenv.harness", "messenv.env.mess_env", "messenv.env.stream")


def reachable(root: Any) -> list[Any]:
    """Every object reachable from ``root`` through containers, attributes, slots and array bases."""
    seen: set[int] = set()
    stack, found = [root], []
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, ATOMS):
            continue
        seen.add(id(obj))
        found.append(obj)
        if isinstance(obj, np.ndarray):
            stack.append(obj.base)  # a view would expose the whole table it slices
        elif isinstance(obj, dict):
            stack += [*obj.keys(), *obj.values()]
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack += list(obj)
        else:
            stack += list(getattr(obj, "__dict__", {}).values())
            stack += [getattr(obj, slot) for slot in getattr(type(obj), "__slots__", ()) if hasattr(obj, slot)]
    return found


def leaks(root: Any, largest_row: int) -> list[str]:
    """What in ``root`` would give an agent more than one request's paid-for outcome."""
    problems = []
    for obj in reachable(root):
        if isinstance(obj, (Recording, gym.Env, OutcomeTable)) or type(obj).__module__.startswith(FORBIDDEN_MODULES):
            problems.append(f"{type(obj).__module__}.{type(obj).__name__}")
        elif isinstance(obj, np.ndarray) and (obj.ndim > 1 or obj.size > largest_row):
            problems.append(f"array of shape {obj.shape}")
    return problems


class PeekingAgent(BaseAgent):
    """Plays the explore action and fails its run, naming the leak, as soon as it finds one in
    what it is handed (its worker's copy of this file is evaluated by test_peeking.py)."""

    name = "peeking"

    def __init__(self, note: Any = None) -> None:
        super().__init__()
        if note != "hi":
            raise RuntimeError(f"constructor got note={note!r}, not the submitted 'hi'")
        self.findings = leaks(note, largest_row=0)

    def _inspect(self, *objects: Any) -> None:
        spec = self._require_spec()
        self.findings += leaks(objects, largest_row=max(spec.feature_dim, spec.n_models))
        self.findings += [f"spec.{name}" for name in ("recording", "env", "outcomes", "_rows") if hasattr(spec, name)]
        if self.findings:
            raise RuntimeError(f"leaks: {self.findings}")

    def reset(self, spec: Any, seed: int) -> None:
        super().reset(spec, seed)
        self._inspect(spec, seed)

    def act(self, obs: dict) -> int:
        self._inspect(obs)
        return self.spec.explore_action  # explore: info then carries every model's outcome row

    def update(self, obs: dict, action: int, reward: float, info: dict) -> None:
        self.findings += [f"info[{name!r}]" for name in ("env", "recording", "unwrapped") if name in info]
        self._inspect(obs, action, reward, info)


class TamperingAgent(BaseAgent):
    """Plays the largest model and overwrites every array it is handed, hoping to reach the env's data."""

    name = "tampering"

    def act(self, obs: dict) -> int:
        obs["features"][:] = 0.0
        return self.n_models - 1

    def update(self, obs: dict, action: int, reward: float, info: dict) -> None:
        obs["features"][:] = 1e9
        outcomes = info.get("outcomes") or {}
        for values in outcomes.values():
            if values is not None:
                values[:] = 0.0
