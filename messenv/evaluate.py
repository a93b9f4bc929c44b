"""Play agents on one task and score them against the hindsight oracle on the same stream.

A *task* is one request stream under one SLA: a recording, optionally restricted to some
benchmarks, with an α. Every agent of a comparison plays the same stream (same seed), and the
oracle and the best static mix are solved on exactly the requests that stream replayed, so that
"× oracle" compares like with like. This module knows nothing of Hydra or files: the runner
(:mod:`messenv.run`) and the grid (:mod:`messenv.grid`) both build on it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from messenv.config import ConfigError, agent_parameters
from messenv.env import MessEnv
from messenv.env.scenario import STATIONARY, Scenario
from messenv.harness import EpisodeResult, run_episode, scenario_outcomes
from messenv.oracle import energy_ratio, reference_rows
from messenv.progress import Callback
from messenv.recordings import Recording
from messenv.results import ORACLE, STATIC_MIX, ResultRow
from messenv.scenario_oracle import scenario_reference_rows


@dataclass(frozen=True)
class TaskSettings:
    """The stream and SLA of a task (the ``env`` config, with benchmarks and α possibly overridden),
    and the scenario it plays (:class:`~messenv.env.scenario.Scenario`; stationary by default)."""

    alpha: float
    benchmarks: tuple[str, ...] | None = None
    n_requests: int | None = None
    feedback_rate: float = 1.0
    explore_action: bool = True
    replace: bool = False
    scenario: Scenario = STATIONARY

    @classmethod
    def from_config(cls, env: Mapping[str, Any] | DictConfig, **overrides: Any) -> TaskSettings:
        """From an ``env`` config node; ``overrides`` (e.g. ``benchmarks``, ``alpha``) win."""
        values = {
            key: env[key] for key in ("alpha", "benchmarks", "n_requests", "feedback_rate", "explore_action", "replace")
        }
        values.update(overrides)
        if values["benchmarks"] is not None:
            values["benchmarks"] = tuple(values["benchmarks"])
        return cls(**values)


@dataclass(frozen=True)
class Played:
    """One agent's episode on a task, with what is needed to score and show it."""

    label: str
    kind: str
    params: dict[str, Any]
    episode: EpisodeResult
    wall_s: float


@dataclass(frozen=True)
class Evaluation:
    """Everything one task evaluation produced.

    Attributes:
        played: each agent's episode, in the order given.
        quality: ``[T, M]`` quality of every model on the stream's requests (the same stream for
            every agent), in stream order.
        energy_j: ``[T, M]`` energy of every model on those requests (J).
        rows: result rows: the agents', then the oracle's and the best static mix's.
        reference_choices: the allocation behind each reference row, by label: the oracle's
            ``x[T, M]``, the static mix's weights ``w[M]`` (none under a changing zoo); the
            plots draw them without solving again.
        latency_s: ``[T, M]`` latency of every model on those requests (s).
        available: ``[T, M]`` which model could serve each request (a changing zoo), else ``None``.
    """

    played: list[Played]
    quality: np.ndarray
    energy_j: np.ndarray
    rows: list[ResultRow]
    reference_choices: dict[str, np.ndarray]
    latency_s: np.ndarray | None = None
    available: np.ndarray | None = None


def make_env(recording: Recording, task: TaskSettings) -> MessEnv:
    """The env of a task (``recording`` must already carry its prompt features).

    Raises:
        ConfigError: the env rejects the settings (α, an unknown benchmark, too many requests).
    """
    try:
        return MessEnv(
            recording=recording,
            alpha=task.alpha,
            explore_action=task.explore_action,
            n_requests=task.n_requests,
            benchmarks=task.benchmarks,
            replace=task.replace,
            feedback_rate=task.feedback_rate,
            features=None,
            scenario=task.scenario,
        )
    except ValueError as exc:
        raise ConfigError(f"env: {exc}") from exc


def agent_container(node: Mapping[str, Any] | DictConfig) -> dict[str, Any]:
    """An agent node as a plain dict (interpolations resolved)."""
    if isinstance(node, DictConfig):
        return OmegaConf.to_container(node, resolve=True)  # type: ignore[return-value]
    return dict(node)


def build_agent(node: Mapping[str, Any] | DictConfig) -> Any:
    """Instantiate an agent node (``_target_`` + parameters; its ``name`` key is not passed).

    Raises:
        ConfigError: the constructor rejects a parameter value (``ValueError``/``TypeError``);
            any other error is a bug and propagates with its traceback.
    """
    container = agent_container(node)
    try:
        return instantiate({"_target_": container["_target_"], **agent_parameters(container)})
    except InstantiationException as exc:  # wraps the constructor's own error
        if not isinstance(exc.__cause__, (ValueError, TypeError)):
            raise
        raise ConfigError(f"agent {container.get('name', container['_target_'])!r}: {exc.__cause__}") from exc


def play(
    env: MessEnv,
    node: Mapping[str, Any] | DictConfig,
    kind: str,
    seed: int,
    progress: Callback | None = None,
    trace: bool = True,
) -> Played:
    """Build the agent of ``node`` and play one episode with ``seed`` (``trace``: record the agent's
    diagnostics per step, see :func:`~messenv.harness.run_episode`)."""
    container = agent_container(node)
    agent = build_agent(container)
    started = time.perf_counter()
    episode = run_episode(env, agent, seed, progress, trace)
    label = str(container.get("name", episode.agent))
    return Played(label, kind, agent_parameters(container), episode, time.perf_counter() - started)


def episode_row(played: Played, recording: Recording, task: TaskSettings, oracle_energy_j: float) -> ResultRow:
    """The result row of one played episode."""
    features = recording.metadata.features_kind
    summary = played.episode.summary
    return ResultRow(
        label=played.label,
        kind=played.kind,
        params=played.params,
        recording=recording.name,
        benchmarks=None if task.benchmarks is None else list(task.benchmarks),
        alpha=task.alpha,
        seed=played.episode.seed,
        n_requests=int(summary["n_requests"]),
        total_energy_j=float(summary["total_energy_j"]),
        mean_quality=float(summary["mean_quality"]),
        sla_met=bool(summary["sla_met"]),
        sla_violation=float(summary["sla_violation"]),
        energy_ratio=float(energy_ratio(summary["total_energy_j"], oracle_energy_j)),
        model_share=dict(zip(summary["models"], map(float, summary["model_share"]))),
        exploration_share=float(summary["exploration_share"]),
        exploration_energy_j=float(summary["exploration_energy_j"]),
        wall_s=played.wall_s,
        feedback_rate=task.feedback_rate,
        features=features,
        scenario=task.scenario.name,
        constraints_met=summary.get("constraints_met"),
        latency_violation=summary.get("latency_violation"),
        worst_window_quality=summary.get("worst_window_quality"),
    )


def reference_results(
    recording: Recording,
    quality: np.ndarray,
    energy_j: np.ndarray,
    task: TaskSettings,
    seed: int,
    latency_s: np.ndarray | None = None,
    available: np.ndarray | None = None,
) -> tuple[list[ResultRow], dict[str, np.ndarray]]:
    """The hindsight oracle's and the best static mix's rows on a stream's ``[T, M]`` outcomes,
    and the allocation behind each row by label (the oracle's ``x[T, M]``, the mix's ``w[M]``).

    Under a scenario that adds constraints (a latency SLO, a windowed SLA; ``latency_s`` then
    required) both face them; under a changing zoo (``available[T, M]``, the outcomes as the zoo
    presented them) the oracle routes only to available models and there is no static mix.
    """
    made = []
    if task.scenario.needs_lp:
        references = scenario_reference_rows(quality, energy_j, latency_s, task.alpha, task.scenario, available)
    else:
        references = reference_rows(quality, energy_j, task.alpha)
    for reference in references:
        mean_quality = reference["mean_quality"]
        made.append(
            ResultRow(
                label=reference["agent"],
                kind=ORACLE if reference["agent"] == "oracle" else STATIC_MIX,
                params={},
                recording=recording.name,
                benchmarks=None if task.benchmarks is None else list(task.benchmarks),
                alpha=task.alpha,
                seed=seed,
                n_requests=len(quality),
                total_energy_j=reference["total_energy_j"],
                mean_quality=mean_quality,
                # ``feasible``: the LP met α up to its tolerance (its ``sla_met`` can read False
                # when the mean lands a rounding error below α).
                sla_met=bool(reference["feasible"]),
                sla_violation=max(0.0, task.alpha - mean_quality),
                energy_ratio=reference["energy_ratio"],
                model_share=dict(zip(recording.models, reference["model_share"])),
                feedback_rate=task.feedback_rate,
                features=recording.metadata.features_kind,
                scenario=task.scenario.name,
                constraints_met=reference.get("constraints_met"),
                latency_violation=reference.get("latency_violation"),
                worst_window_quality=reference.get("worst_window_quality"),
            )
        )
    return made, {reference["agent"]: reference["choice"] for reference in references}


def evaluate(
    recording: Recording,
    task: TaskSettings,
    agents: list[tuple[Mapping[str, Any] | DictConfig, str]],
    seed: int,
    progress: Any = None,
    trace: bool = True,
) -> Evaluation:
    """Play every ``(agent node, kind)`` on the task's stream of ``seed`` and score them.

    ``progress``, if given, is a :class:`~messenv.progress.DelayedProgress` (one bar per agent).
    ``trace=False`` skips recording the agents' per-step diagnostics (each episode's ``trace``
    stays empty), for a caller that does not read them.
    """
    env = make_env(recording, task)
    played = []
    for node, kind in agents:
        callback = progress.bar(str(node.get("name", "agent")), env.task.n_requests) if progress else None
        played.append(play(env, node, kind, seed, callback, trace))
    # Every agent replayed this same stream (same seed); outcomes as the scenario presented them.
    quality, energy_j, latency_s, available = scenario_outcomes(env)
    references, choices = reference_results(recording, quality, energy_j, task, seed, latency_s, available)
    oracle_energy_j = references[0].total_energy_j
    rows = [episode_row(p, recording, task, oracle_energy_j) for p in played]
    return Evaluation(played, quality, energy_j, rows + references, choices, latency_s, available)
