"""The schema of ``python -m messenv.run``'s configuration, registered in Hydra's ConfigStore.

The YAML files in ``conf/`` (package ``messenv_conf``) fill these dataclasses. Because Hydra
composes the YAML *into* the typed schema and puts the result in struct mode, a misspelt key
(``env.alpah=0.6``, ``seeed=1``, ``agent.cc=0.1``) or a value of the wrong type
(``env.alpha=high``) fails while the config is composed, before any data is loaded. What a type
cannot express (ranges, names that must exist) is checked by :func:`validate_config`.
"""

# OmegaConf reads these annotations to type the config: it understands ``Optional[X]`` but not
# the ``X | None`` spelling, so the dataclasses keep ``Optional``.
# ruff: noqa: UP045
from __future__ import annotations

import dataclasses
import inspect
import logging
import numbers
import sys
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Optional

import numpy as np
from hydra.core.config_store import ConfigStore
from hydra.utils import get_class
from omegaconf import MISSING, DictConfig, OmegaConf

from messenv.env.mess_env import DEFAULT_ALPHA
from messenv.env.scenario import Scenario

CONFIG_PACKAGE = "messenv_conf"
BASELINES = ["random", "cheapest_first", "largest_only", "ucb1", "thompson", "linucb", "primal_dual"]


class ConfigError(ValueError):
    """A configuration that composes but cannot run (a value out of range, an unknown agent)."""


@dataclass
class EnvConfig:
    """Which requests are replayed and under which SLA (see :class:`messenv.env.MessEnv`).

    Attributes:
        recording: catalogue name (``messplus-llama3``), local name (``python -m messenv.recordings
            import FILE --name NAME``), or a path: a ``.parquet`` recording or a MESS+ CSV, tarball
            or JSON, converted once and cached by content (:mod:`messenv.recordings.local`).
        benchmarks: benchmarks to draw requests from; ``None`` = all of the recording's.
        alpha: the SLA, the mean quality the episode must reach, in [0, 1]; the default is
            ``gym.make``'s (:data:`messenv.env.mess_env.DEFAULT_ALPHA`, where its source is given).
        n_requests: stream length T; ``None`` = every selected request once.
        feedback_rate: probability that a step's quality is revealed to the agent, in (0, 1].
        explore_action: offer the "query every model" action (MESS+ needs it).
        replace: draw requests with replacement.
        features: prompt features the agent observes: ``auto`` (MiniLM if installed, else hashed
            n-grams), ``minilm``, ``hashed``, or ``None`` (the recording's own).
    """

    recording: str = "synthetic-llama3"
    benchmarks: Optional[list[str]] = None
    alpha: float = DEFAULT_ALPHA
    n_requests: Optional[int] = None
    feedback_rate: float = 1.0
    explore_action: bool = True
    replace: bool = False
    features: Optional[str] = "auto"


@dataclass
class LatencyConfig:
    """A latency SLO (see :class:`messenv.env.scenario.LatencySLO`): ``mean_s``, or
    ``deadline_s`` with ``max_late_share``."""

    mean_s: Optional[float] = None
    deadline_s: Optional[float] = None
    max_late_share: Optional[float] = None


@dataclass
class DelayConfig:
    """Delayed feedback (see :class:`messenv.env.scenario.DelayedFeedback`)."""

    steps: int = 1
    distribution: str = "fixed"


@dataclass
class PhaseConfig:
    """One phase of a drift: ``n_requests`` requests from ``benchmarks``."""

    benchmarks: list[str] = MISSING
    n_requests: int = MISSING


@dataclass
class DriftConfig:
    """Drift in the request mix (see :mod:`messenv.env.drift`): ``phases``, or a smooth drift
    from the ``start`` benchmarks to the ``end`` ones over ``n_requests``."""

    phases: list[PhaseConfig] = field(default_factory=list)
    start: Optional[list[str]] = None
    end: Optional[list[str]] = None
    n_requests: Optional[int] = None


@dataclass
class UpdateConfig:
    """A silent model update: from ``step`` on, ``model``'s slot returns ``source``'s outcomes."""

    model: str = MISSING
    step: int = MISSING
    source: str = MISSING


@dataclass
class ZooConfig:
    """A changing zoo (see :mod:`messenv.env.zoo_change`): model -> step it joins / leaves, and updates."""

    joins: dict[str, int] = field(default_factory=dict)
    leaves: dict[str, int] = field(default_factory=dict)
    updates: list[UpdateConfig] = field(default_factory=list)


@dataclass
class ScenarioConfig:
    """The scenario the stream plays (``conf/scenario/<name>.yaml``; ``none`` is stationary).

    Attributes:
        name: the scenario's label in results and plots.
        latency: a latency SLO, the second constraint.
        delay: delayed quality feedback.
        drift: a schedule of the request mix (it sets the stream's length and benchmarks).
        window: a windowed SLA: the mean quality of each window of this many requests ≥ α.
        zoo: models that join, leave or are silently updated during the stream.
    """

    name: str = "none"
    latency: Optional[LatencyConfig] = None
    delay: Optional[DelayConfig] = None
    drift: Optional[DriftConfig] = None
    window: Optional[int] = None
    zoo: Optional[ZooConfig] = None


@dataclass
class GridConfig:
    """A grid run inside one process: every (benchmark, α) pair × agent parameters × seeds.

    The paper evaluates each benchmark against its own SLA, so benchmarks and α come in pairs
    rather than as a product; ``params`` are swept as a product over the agent's parameters.

    Attributes:
        alphas: benchmark -> α.
        benchmarks: run only these benchmarks of ``alphas`` (``None`` = all); a list is easier
            to override on the command line than a dict, which Hydra merges rather than replaces.
        params: agent parameter -> values to try (e.g. ``{c: [0.01, 0.1, 1.0]}``).
        seeds: the seeds every cell is run with.
        n_jobs: worker processes (forks of this one on Linux, joblib's elsewhere); 1 runs in this process.
    """

    alphas: dict[str, float] = field(default_factory=dict)
    benchmarks: Optional[list[str]] = None
    params: dict[str, list[Any]] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=lambda: [0])
    n_jobs: int = 1


@dataclass
class WandbConfig:
    """Weights & Biases logging; ``mode: offline`` writes under the run dir and needs no account."""

    enabled: bool = False
    project: str = "messenv"
    entity: Optional[str] = None
    mode: str = "offline"


@dataclass
class TensorBoardConfig:
    """TensorBoard event files under ``<run dir>/tensorboard``."""

    enabled: bool = False


@dataclass
class LoggersConfig:
    """Optional experiment trackers, all off by default."""

    wandb: WandbConfig = field(default_factory=WandbConfig)
    tensorboard: TensorBoardConfig = field(default_factory=TensorBoardConfig)
    log_every: int = 100


@dataclass
class RunConfig:
    """One ``python -m messenv.run`` invocation.

    Attributes:
        agent: the agent to evaluate: ``_target_`` (its class) plus constructor parameters, from
            ``conf/agent/<name>.yaml``; its ``name`` key says which file it came from.
        env: the request stream and SLA.
        scenario: drift, zoo changes, a latency SLO, delayed feedback (``scenario=<name>``).
        seed: seeds the stream order, the feedback mask and the agent.
        baselines: other agents (names of ``conf/agent`` files) run on the same stream and seed
            for comparison; ``[]`` runs the agent alone.
        grid: when set, run the grid instead of a single episode (``experiment=paper_grid``).
        plots: write PNG plots into the run dir.
        progress: show a progress bar on runs longer than a second.
        loggers: optional W&B / TensorBoard logging.
        overwrite: run in a folder that holds an earlier run's ``results.json`` (replacing it);
            by default such a folder is refused (see :mod:`messenv.rundir`).
    """

    agent: Any = MISSING
    env: EnvConfig = field(default_factory=EnvConfig)
    scenario: ScenarioConfig = field(default_factory=ScenarioConfig)
    seed: int = 0
    baselines: list[str] = field(default_factory=lambda: list(BASELINES))
    grid: Optional[GridConfig] = None
    plots: bool = True
    progress: bool = True
    loggers: LoggersConfig = field(default_factory=LoggersConfig)
    overwrite: bool = False


def config_groups(*groups: str) -> str:
    """``group: option, option`` lines for the named config groups of ``conf/``, for ``--help``.

    ``conf/`` holds the groups of two commands (``messenv.run``: agent, env, experiment;
    ``messenv.record``: zoo, task) in one search path, so Hydra's own help would list all of them
    under either command; each help template names its own groups through this resolver.
    """
    return "\n".join(f"{group}: {', '.join(group_options(group))}" for group in groups)


def group_options(group: str) -> list[str]:
    """The options of a config group of ``conf/`` (its ``<option>.yaml`` files), sorted."""
    folder = resources.files(CONFIG_PACKAGE).joinpath(*group.split("/"))
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def register_help_resolver() -> None:
    """Register ``${messenv_config_groups:a,b}`` (:func:`config_groups`), used by the help templates."""
    OmegaConf.register_new_resolver("messenv_config_groups", config_groups, replace=True)


def register_configs() -> None:
    """Register the schema as ``base_config`` (``conf/config.yaml`` lists it first in defaults)."""
    ConfigStore.instance().store(name="base_config", node=RunConfig)
    register_help_resolver()


def compose_config(*overrides: str) -> DictConfig:
    """The run config ``python -m messenv.run <overrides>`` would get, composed in Python.

    For notebooks and tests: ``run(compose_config("agent=ucb1", "seed=3"), out_dir)``.
    """
    from hydra import compose, initialize_config_module

    register_configs()
    with initialize_config_module(config_module=CONFIG_PACKAGE, version_base="1.3"):
        return compose("config", overrides=list(overrides))


def agent_names() -> list[str]:
    """The agents that have a config file (``conf/agent/<name>.yaml``), sorted."""
    return group_options("agent")


def load_scenario(name: str) -> Scenario:
    """The scenario of ``conf/scenario/<name>.yaml`` in the packaged config, as ``scenario=<name>``
    gives it to the runner: the file merged into the :class:`ScenarioConfig` schema, then
    :meth:`Scenario.parse <messenv.env.scenario.Scenario.parse>` (what ``Scenario.parse("zoo_change")``,
    and so ``gym.make(..., scenario="zoo_change")``, calls).

    Raises:
        ValueError: no such scenario (the known names are listed).
    """
    known = group_options("scenario")
    if name not in known:  # also keeps a name such as "../agent/random" from reading another group's file
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(known)} (conf/scenario in messenv_conf)")
    text = (resources.files(CONFIG_PACKAGE) / "scenario" / f"{name}.yaml").read_text(encoding="utf-8")
    node = OmegaConf.merge(OmegaConf.structured(ScenarioConfig), OmegaConf.create(text))
    return Scenario.parse(OmegaConf.to_container(node, resolve=True))


def load_agent_node(name: str) -> DictConfig:
    """The agent node of ``conf/agent/<name>.yaml``, as ``agent=<name>`` would compose it.

    Raises:
        ConfigError: no such agent config (the available names are listed).
    """
    path = resources.files(CONFIG_PACKAGE) / "agent" / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"unknown agent {name!r}; available: {', '.join(agent_names())}")
    return OmegaConf.create(path.read_text(encoding="utf-8"))


def agent_parameters(agent: DictConfig | dict) -> dict[str, Any]:
    """The constructor parameters of an agent node (everything but ``_target_`` and ``name``)."""
    return {k: v for k, v in dict(agent).items() if k not in ("_target_", "name")}


def _declared_parameters(cls: type) -> tuple[dict[str, type], bool]:
    """Each keyword parameter ``cls(...)`` accepts, mapped to the class whose ``__init__`` declares
    it, following ``**kwargs`` up the MRO; and whether a ``**kwargs`` reaches ``object`` (anything goes)."""
    declared: dict[str, type] = {}
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        if klass is object:
            return declared, True
        parameters = list(inspect.signature(klass.__init__).parameters.values())[1:]
        for p in parameters:
            if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                declared.setdefault(p.name, klass)
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            break
    return declared, False


def constructor_parameters(cls: type) -> list[str] | None:
    """The keyword parameters ``cls(...)`` accepts, following ``**kwargs`` up the MRO.

    A subclass that forwards ``**kwargs`` to ``super().__init__`` accepts its own parameters and
    its parent's; ``None`` means "anything" (a ``**kwargs`` that reaches ``object``).
    """
    declared, open_ended = _declared_parameters(cls)
    return None if open_ended else list(declared)


# Each checked annotation: how an error names it, and the types a non-bool value of it may have
# (an integer, numpy's too, is a number; a bool is only a bool).
_SCALARS = {
    bool: ("a bool", ()),
    int: ("an int", (numbers.Integral,)),
    float: ("a number", (numbers.Real,)),
    str: ("a string", (str,)),
}


def _fits(value: Any, scalar: type) -> bool:
    """``value`` is a ``scalar`` (see :data:`_SCALARS`)."""
    if isinstance(value, (bool, np.bool_)):
        return scalar is bool
    return isinstance(value, _SCALARS[scalar][1])


def parameter_type_error(value: Any, annotation: Any) -> str | None:
    """What ``value`` should have been, where ``annotation`` is a scalar type (bool, int, float,
    str) or one of them made optional and ``value`` does not fit it; ``None`` if it fits or the
    annotation is anything else (not checked here: the constructor validates it)."""
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    options = [o for o in (typing.get_args(annotation) if union else (annotation,)) if o is not type(None)]
    optional = union and len(options) < len(typing.get_args(annotation))
    if not options or not all(any(o is scalar for scalar in _SCALARS) for o in options):  # o may be unhashable
        return None
    if (value is None and optional) or any(_fits(value, o) for o in options):
        return None
    return " or ".join([_SCALARS[o][0] for o in options] + (["null"] if optional else []))


def _annotations(klass: type) -> dict[str, Any]:
    """The resolved annotations of ``klass.__init__`` (none where they cannot be resolved)."""
    try:
        return typing.get_type_hints(klass.__init__)
    except Exception:  # noqa: BLE001  an annotation string is evaluated: any error leaves it to the constructor
        return {}


def check_agent_node(agent: DictConfig | dict, where: str = "agent") -> None:
    """Check an agent node names an importable class that accepts its parameters.

    Raises:
        ConfigError: no ``_target_``, a class that cannot be imported, a parameter the
            constructor does not take (named, with the ones it does take), or a value of the wrong
            type where the constructor's annotation is a scalar (``agent.V=abc`` for ``V: float``).
    """
    target = agent.get("_target_") if agent is not None else None
    if not target:
        raise ConfigError(f"{where}: no _target_ (the agent class to instantiate)")
    hydra_log = logging.getLogger("hydra.utils")
    logging_was_disabled, hydra_log.disabled = hydra_log.disabled, True  # get_class logs the error on 3 lines
    try:
        cls = get_class(target)
    except Exception as exc:  # hydra wraps ImportError/AttributeError in its own types
        raise ConfigError(f"{where}: cannot import _target_ {target!r}: {import_failure(target, exc)}") from exc
    finally:
        hydra_log.disabled = logging_was_disabled
    problem = parameter_problem(cls, agent_parameters(agent), where)
    if problem is not None:
        raise ConfigError(problem)


def import_failure(target: str, error: BaseException) -> str:
    """Why ``target`` (``module.Class``) could not be imported, in one line: the root cause
    (``ModuleNotFoundError: No module named 'my_agents'``), with where Python looks for the target's
    own module when that is what is missing; a name the module lacks as such."""
    cause = error
    while cause.__cause__ is not None:
        cause = cause.__cause__
    reason = f"{type(cause).__name__}: {cause}"
    missing = getattr(cause, "name", None) if isinstance(cause, ModuleNotFoundError) else None
    if not missing or not (target == missing or target.startswith(missing + ".")):
        return reason  # raised inside the module (a dependency it imports, a syntax error), or not an import
    parent, _, name = missing.rpartition(".")
    if parent in sys.modules:  # the parent imported: the name is not in it (Hydra tried it as a module last)
        return f"module {parent!r} has no attribute {name!r}"
    top = missing.split(".")[0]
    if any(Path(entry or ".").resolve() == Path.cwd().resolve() for entry in sys.path):
        return (
            f"{reason}; Python looks for {top}.py (or a package {top}/) in the working directory "
            f"({Path.cwd()}) and on PYTHONPATH"
        )
    return (  # the console script's sys.path starts at its own folder, not at the working directory
        f"{reason}; this command does not look in the working directory: run python -m messenv.run from the "
        f"folder of {top}.py, or add that folder to PYTHONPATH"
    )


def parameter_problem(cls: type, params: dict[str, Any], where: str = "agent") -> str | None:
    """Why ``cls(**params)`` would be refused before it runs: a parameter it does not take (named,
    with the ones it takes), or a value of the wrong type where the constructor's annotation is a
    scalar (``V=abc`` for ``V: float``); ``None`` if neither. One line, naming ``where.<param>``."""
    declared, open_ended = _declared_parameters(cls)
    unknown = sorted(set(params) - set(declared))
    if unknown and not open_ended:
        return f"{where} ({cls.__name__}): unknown parameter(s) {unknown}; it takes {list(declared)}"
    for name, value in params.items():
        if name in declared:
            expected = parameter_type_error(value, _annotations(declared[name]).get(name))
            if expected is not None:
                return f"{where}.{name} must be {expected}, got {value!r} ({type(value).__name__})"
    return None


def _check_alpha(alpha: float, where: str) -> None:
    if not 0.0 <= float(alpha) <= 1.0:
        raise ConfigError(f"{where} must be in [0, 1], got {alpha}")


def scenario_of(cfg: DictConfig) -> Scenario:
    """The run's :class:`~messenv.env.scenario.Scenario` (stationary when the config has none).

    Raises:
        ConfigError: a value the scenario refuses (named: ``scenario.latency.mean_s must be ...``).
    """
    node = cfg.get("scenario")
    try:
        return Scenario.parse(None if node is None else OmegaConf.to_container(node, resolve=True))
    except (ValueError, TypeError) as exc:
        raise ConfigError(str(exc)) from exc


def unknown_key(node: DictConfig, schema: type, where: str = "") -> str | None:
    """The first key of ``node`` that its dataclass ``schema`` (and the dataclasses of its fields,
    recursively) does not declare, as a dotted path; None if there is none.

    Struct mode refuses a misspelt key while the config is composed, but Hydra's ``+key=value``
    appends one on purpose: without this check ``+env.sampler=counter`` would be recorded in
    results.json and do nothing.
    """
    hints = typing.get_type_hints(schema)
    for key in node:
        path = f"{where}{key}"
        if key not in hints:
            return path
        field_type = hints[key]
        if typing.get_origin(field_type) in (typing.Union, types.UnionType):  # Optional[X]
            field_type = next(arg for arg in typing.get_args(field_type) if arg is not type(None))
        child = node.get(key)
        if dataclasses.is_dataclass(field_type) and isinstance(child, DictConfig):
            found = unknown_key(child, field_type, f"{path}.")
            if found is not None:
                return found
    return None


def validate_config(cfg: DictConfig) -> None:
    """Check what the schema's types cannot: ranges, and that the agent can be built.

    Raises:
        ConfigError: with one line naming the field and the allowed values.
    """
    unknown = unknown_key(cfg, RunConfig)
    if unknown is not None:
        parent, _, _ = unknown.rpartition(".")
        raise ConfigError(f"unknown config key {unknown!r}" + (f" in {parent}" if parent else "") + ": see --help")
    _check_alpha(cfg.env.alpha, "env.alpha")
    if not 0.0 < float(cfg.env.feedback_rate) <= 1.0:
        raise ConfigError(f"env.feedback_rate must be in (0, 1], got {cfg.env.feedback_rate}")
    if cfg.env.n_requests is not None and cfg.env.n_requests <= 0:
        raise ConfigError(f"env.n_requests must be positive, got {cfg.env.n_requests}")
    scenario = scenario_of(cfg)
    if cfg.grid is not None and not scenario.stationary:
        raise ConfigError(
            f"scenario={scenario.name} runs one task at a time: drop grid (experiment=...) or use scenario=none"
        )
    check_agent_node(cfg.agent)
    for name in cfg.baselines:
        check_agent_node(load_agent_node(name), f"baselines: {name}")
    if cfg.grid is not None:
        if not cfg.grid.alphas:
            raise ConfigError("grid.alphas is empty: give at least one benchmark: alpha pair")
        for benchmark, alpha in cfg.grid.alphas.items():
            _check_alpha(alpha, f"grid.alphas.{benchmark}")
        missing = sorted(set(cfg.grid.benchmarks or []) - set(cfg.grid.alphas))
        if missing:
            raise ConfigError(f"grid.benchmarks {missing} have no α in grid.alphas ({', '.join(cfg.grid.alphas)})")
        target = cfg.agent.get("_target_")  # the agent's own values were checked above
        for name, values in OmegaConf.to_container(cfg.grid.params, resolve=True).items():
            for value in values if isinstance(values, list) else [values]:
                check_agent_node({"_target_": target, name: value}, "grid.params")
        if cfg.grid.n_jobs < 1:
            raise ConfigError(f"grid.n_jobs must be at least 1, got {cfg.grid.n_jobs}")
