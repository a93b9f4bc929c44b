"""The agent protocol: what a routing policy implements to be run by messenv.

An agent sees only what a deployed router would see: the public :class:`~messenv.env.task.TaskSpec`
(the zoo, the SLA, the stream length), one observation per request, and the reward and ``info``
of the step it chose. It never receives the environment or the recording, so no agent can read a
label, an energy figure or a quality figure it has not paid for (:func:`messenv.harness.run_episode`
enforces this by construction: it only ever passes those three things).

A minimal agent::

    from messenv_agents.base import BaseAgent

    class Smallest(BaseAgent):
        name = "smallest"

        def act(self, obs: dict) -> int:
            return 0
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from messenv.env.task import TaskSpec


@runtime_checkable
class Agent(Protocol):
    """A routing policy: pick a model (or the explore action) for each request.

    ``reset`` starts an episode; ``act`` returns an action in ``range(spec.n_actions)``;
    ``update`` is called once after every step with the observation the action was taken on.
    """

    name: str

    def reset(self, spec: TaskSpec, seed: int) -> None:
        """Start an episode of the task ``spec``; all randomness must come from ``seed``."""

    def act(self, obs: dict) -> int:
        """The action for the request in ``obs`` (model index cheapest first, or the explore action)."""

    def update(self, obs: dict, action: int, reward: float, info: dict) -> None:
        """Learn from the step taken on ``obs``: ``reward = -energy_j``, ``info`` as the env's."""


class BaseAgent:
    """Sensible defaults for the :class:`Agent` protocol.

    ``reset`` stores the spec, the SLA and a seeded ``np.random.Generator`` in ``self.rng``;
    ``update`` does nothing; ``diagnostics`` reports no internal state. Subclasses override
    what they need and must draw every random number from ``self.rng`` so that the same seed
    gives the same trajectory.
    """

    name = "base"

    def __init__(self, alpha: float | None = None) -> None:
        """``alpha`` overrides the SLA of the task (``None``: use ``spec.alpha``)."""
        self.alpha_override = alpha
        self.spec: TaskSpec | None = None
        self.alpha = float("nan")
        self.rng = np.random.default_rng(0)

    def reset(self, spec: TaskSpec, seed: int) -> None:
        """Remember the task and reseed: ``self.spec``, ``self.alpha``, ``self.rng``."""
        self.spec = spec
        self.alpha = float(spec.alpha if self.alpha_override is None else self.alpha_override)
        self.rng = np.random.default_rng(seed)

    def act(self, obs: dict) -> int:
        """Subclasses decide; the base class has no policy."""
        raise NotImplementedError(f"agent {self.name!r} does not implement act()")

    def update(self, obs: dict, action: int, reward: float, info: dict) -> None:
        """Default: learn nothing."""

    def diagnostics(self) -> dict[str, float]:
        """Internal state worth plotting per step (e.g. a virtual queue); empty by default."""
        return {}

    @property
    def n_models(self) -> int:
        """Number of models M of the current task."""
        return self._require_spec().n_models

    def _require_spec(self) -> TaskSpec:
        if self.spec is None:
            raise RuntimeError(f"agent {self.name!r}: call reset(spec, seed) before act()")
        return self.spec

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def allowed_models(obs: dict[str, Any], n_models: int) -> np.ndarray | None:
    """Which models the observation's ``action_mask`` allows (a changing zoo, see
    :mod:`messenv.env.zoo_change`), as a bool ``[M]``; ``None`` when the env has no mask."""
    mask = obs.get("action_mask")
    return None if mask is None else np.asarray(mask, dtype=bool)[:n_models]


class MissingObservationError(KeyError):
    """An agent reads an observation key that its env does not give: the env was made without it
    (``observation_keys``) or a wrapper dropped it (``FilterObservation``). A KeyError, as a dict
    lookup would raise, whose text says what to change instead of quoting the bare key."""

    def __str__(self) -> str:
        return str(self.args[0])


def observed(obs: dict[str, Any], key: str) -> Any:
    """``obs[key]``, or :class:`MissingObservationError` naming the key and how to keep it."""
    try:
        return obs[key]
    except KeyError:
        raise MissingObservationError(
            f"this agent reads obs[{key!r}], which the observation does not hold (it has {sorted(obs)}): keep "
            f"{key!r} in the env's observation_keys, or in the keys a FilterObservation wrapper keeps"
        ) from None


def feature_vector(obs: dict[str, Any]) -> np.ndarray:
    """The observation's ``features`` as a float32 vector (one place that knows the key)."""
    return np.asarray(observed(obs, "features"), dtype=np.float32)


class PendingRequests:
    """Requests whose quality is still due, so that a late quality finds the request it belongs to.

    With delayed feedback (``spec.feedback_delayed``, see :mod:`messenv.env.scenario`) a step's
    own ``info["quality"]`` is ``None`` and the qualities of earlier requests arrive in
    ``info["delayed_feedback"]``, each naming its request by ``step`` (the request's ``step``
    observation). An agent calls :meth:`arrivals` once per ``update``: it remembers the current
    request's observation and returns ``(observation, entry)`` for each quality that arrived, the
    entry holding ``action``, ``quality``, ``cost`` and ``outcomes`` (every model's quality when
    that request explored, else ``None``). Without delayed feedback it remembers nothing and
    returns ``[]``, so agents keep their immediate-feedback path unchanged.
    """

    def __init__(self, delayed: bool = False) -> None:
        self.delayed = delayed
        self._observations: dict[int, dict] = {}

    def arrivals(self, obs: dict, info: dict) -> list[tuple[dict, dict]]:
        """Remember ``obs`` until its quality arrives; the earlier requests whose quality did."""
        if not self.delayed:
            return []
        self._observations[int(observed(obs, "step"))] = obs
        return [(self._observations.pop(entry["step"]), entry) for entry in info.get("delayed_feedback", ())]
