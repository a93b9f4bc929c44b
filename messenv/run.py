"""``python -m messenv.run`` (console script ``messenv-run``): evaluate an agent, print, save, plot.

    python -m messenv.run agent=mess_plus                       # synthetic zoo, vs every baseline
    python -m messenv.run env=messplus_llama3 'env.benchmarks=[arc_easy]' env.alpha=0.75
    python -m messenv.run -m agent=mess_plus,ucb1 seed=0,1,2    # a Hydra sweep
    python -m messenv.run experiment=paper_grid                 # the MESS+ paper grid in one run, 2 workers

One run plays the agent, and the baselines, on the same request stream (same seed), solves the
hindsight oracle and the best static mix on that stream, prints a table (energy, × oracle, quality,
SLA, model shares, exploration) and writes ``results.json`` and PNG plots into the Hydra run dir.
With ``grid`` set (``experiment=paper_grid``) it runs the whole grid in one run instead, on
``grid.n_jobs`` worker processes (2 in ``experiment=paper_grid``; see :mod:`messenv.grid`). The
config is shipped inside the package (``messenv_conf``), so the command works from any directory.

A config that cannot run (unknown agent, α outside [0, 1], a recording that is not there, a
misspelt key) ends with ONE line on stderr and exit status 2; an agent that plays an invalid or
masked action ends with one line naming the agent, the step and the reason, and exit status 1.
``HYDRA_FULL_ERROR=1`` shows the full traceback instead. Such a config leaves no run folder
behind in a single run: the one Hydra made for it (``.hydra/`` and an empty log) is removed again
(:func:`remove_unstarted_run`). A multirun (``-m``) keeps its sweep folder and its jobs' folders.
"""

from __future__ import annotations

import gc
import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import hydra
import numpy as np
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException, MissingConfigException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    OmegaConfBaseException,
)
from rich.console import Console

from messenv.config import (
    ConfigError,
    load_agent_node,
    register_configs,
    scenario_of,
    validate_config,
)
from messenv.env.scenario import STATIONARY, Scenario
from messenv.evaluate import Evaluation, TaskSettings, evaluate
from messenv.grid import RecordingSource, cells_of, parameter_sets, run_grid
from messenv.harness import ACTION_ERRORS
from messenv.loggers import make_loggers
from messenv.progress import DelayedProgress
from messenv.recordings import Recording, RecordingError
from messenv.recordings.catalogue import load
from messenv.report import aggregate, print_tables
from messenv.rundir import CREATED, LOCK_NAME
from messenv.results import (
    AGENT,
    BASELINE,
    ResultRow,
    RunResults,
    recording_identity,
    write_results,
)

if TYPE_CHECKING:
    from messenv.plots import RunCaption  # matplotlib loads only when a plot is drawn

PROGRAM = "messenv-run"
EXIT_BAD_CONFIG = 2
EXIT_AGENT_FAILED = 1


def load_recording(cfg: DictConfig) -> Recording:
    """The recording of ``env.recording`` with its prompt features (computed once and cached)."""
    return load(cfg.env.recording, features=cfg.env.features)


def comparison_agents(cfg: DictConfig) -> list[tuple[dict, str]]:
    """The evaluated agent, then each baseline that is not that same agent."""
    agent = OmegaConf.to_container(cfg.agent, resolve=True)
    baselines = [name for name in cfg.baselines if name != agent.get("name")]
    return [(agent, AGENT)] + [(OmegaConf.to_container(load_agent_node(name)), BASELINE) for name in baselines]


def reference_running_quality(
    quality: np.ndarray, choices: Mapping[str, np.ndarray], scenario: Scenario
) -> dict[str, np.ndarray]:
    """Running mean quality, on a stream's ``quality[T, M]``, of the hindsight oracle's allocation
    ``choices["oracle"]`` (``x[T, M]``, facing the scenario) and, on a stationary stream, of the
    best static mix's weights ``choices["static_mix"]`` (its expected quality ``w·a_t`` per request).
    ``choices`` are :attr:`~messenv.evaluate.Evaluation.reference_choices`."""
    steps = np.arange(1, len(quality) + 1)
    references = {"oracle": np.cumsum(np.nansum(choices["oracle"] * quality, axis=1)) / steps}
    if scenario.stationary:
        references["static_mix"] = np.cumsum(quality @ choices["static_mix"]) / steps
    return references


def write_run_plots(
    evaluation: Evaluation, caption: RunCaption, out_dir: Path, scenario: Scenario = STATIONARY
) -> list[Path]:
    """Running quality (with the oracle and, on a stationary stream, the static mix), cumulative
    energy vs the oracle (both facing ``scenario``), and the agent's model share over time; each
    titled with ``caption`` and marked where the scenario changes the stream or the zoo."""
    from messenv.plots import (
        cumulative_energy_plot,
        model_share_plot,
        running_quality_plot,
    )

    choices = evaluation.reference_choices
    oracle_cumulative_j = np.cumsum(np.nansum(choices["oracle"] * evaluation.energy_j, axis=1))
    played = evaluation.played
    main = played[0]
    models = list(main.episode.summary["models"])
    labels = models + (["explore (all)"] if main.episode.explored.any() else [])
    references = reference_running_quality(evaluation.quality, choices, scenario)
    return [
        running_quality_plot(
            {p.label: p.episode.running_quality for p in played},
            caption.alpha,
            out_dir / "running_quality.png",
            references,
            caption,
            scenario.marks(len(evaluation.quality)),
        ),
        cumulative_energy_plot(
            {p.label: p.episode.energy_j for p in played},
            oracle_cumulative_j,
            out_dir / "cumulative_energy.png",
            caption,
        ),
        model_share_plot(
            main.episode.action,
            labels,
            out_dir / "model_share.png",
            f"{main.label}: model choice over time",
            caption,
            [] if scenario.zoo is None else scenario.zoo.marks(len(evaluation.quality)),
        ),
    ]


def run_single(
    cfg: DictConfig, recording: Recording, out_dir: Path, loggers: list
) -> tuple[list[ResultRow], list[Path]]:
    """One task, one seed: the agent and its baselines, the oracle and the best static mix."""
    task = TaskSettings.from_config(cfg.env, scenario=scenario_of(cfg))
    with DelayedProgress(cfg.progress) as progress:
        # No output of a run reads the agents' per-step diagnostics (results, plots, loggers' series).
        evaluation = evaluate(recording, task, comparison_agents(cfg), cfg.seed, progress, trace=False)
    for logger in loggers:
        for played in evaluation.played:
            logger.log_episode(played.label, played.episode)
    plots = []
    if cfg.plots:
        from messenv.plots import RunCaption

        caption = RunCaption(recording.name, task.benchmarks, task.alpha, cfg.seed, recording.metadata.synthetic)
        plots = write_run_plots(evaluation, caption, out_dir, task.scenario)
    return evaluation.rows, plots


def run_grid_config(cfg: DictConfig, recording: Recording, out_dir: Path) -> tuple[list[ResultRow], list[Path]]:
    """Every (benchmark, α) pair × agent parameter set × seed of ``cfg.grid``."""
    cells = cells_of(cfg.grid)
    unknown = sorted({cell.benchmark for cell in cells} - set(recording.benchmark_names))
    if unknown:
        raise ConfigError(
            f"grid.alphas: recording {recording.name!r} has no benchmark {unknown}; "
            f"it has {list(recording.benchmark_names)}"
        )
    (agent, _), *baselines = comparison_agents(cfg)
    agents = [({**agent, **params}, AGENT) for params in parameter_sets(OmegaConf.to_container(cfg.grid.params))]
    env = OmegaConf.to_container(cfg.env, resolve=True)
    with DelayedProgress(cfg.progress) as progress:
        bar = progress.bar(f"grid ({len(agents) + len(baselines)} agent(s) per cell)", len(cells), every=1)
        source = RecordingSource.here(cfg.env.recording, cfg.env.features)
        rows = run_grid(source, env, agents + baselines, cells, cfg.grid.n_jobs, bar)
    plots = []
    if cfg.plots:
        from messenv.plots import pareto_plot

        synthetic = {recording.name} if recording.metadata.synthetic else set()
        plots.append(pareto_plot(aggregate(rows), out_dir / "pareto.png", synthetic))
    return rows, plots


def run(
    cfg: DictConfig, out_dir: Path, console: Console | None = None, overrides: list[str] | None = None
) -> list[ResultRow]:
    """Validate, play, then print the table and write results.json, plots and tracker logs.

    ``overrides`` (the command line's) are stored in results.json for reproduction.
    """
    console = console or Console()
    validate_config(cfg)
    recording = load_recording(cfg)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    loggers = make_loggers(cfg.loggers, out_dir, resolved)
    try:
        if cfg.grid is not None:
            rows, plots = run_grid_config(cfg, recording, out_dir)
        else:
            rows, plots = run_single(cfg, recording, out_dir, loggers)
        for logger in loggers:
            logger.log_rows(rows)
    finally:
        for logger in loggers:
            logger.close()
    results = RunResults(
        config=resolved, recording=recording_identity(recording), rows=rows, overrides=list(overrides or [])
    )
    path = write_results(out_dir, results)
    print_tables(aggregate(rows), console)
    console.print(f"results: {path}", soft_wrap=True)  # a path to copy, never broken across lines
    for plot in plots:
        console.print(f"plot: {plot}", soft_wrap=True)
    return rows


CONFIG_ERRORS = (ConfigError, RecordingError, HydraException, OmegaConfBaseException)
# False when the user asked for tracebacks (HYDRA_FULL_ERROR=1 before main() started).
fold_errors = True


@contextmanager
def exit_on_config_error() -> Iterator[None]:
    """Turn a configuration error into one line on stderr and exit status 2, and an agent's invalid
    or masked action into one line and exit status 1 (unless unfolded)."""
    try:
        yield
    except CONFIG_ERRORS as error:
        if not fold_errors:
            raise
        print(f"{PROGRAM}: error: {one_line(error)}", file=sys.stderr)
        sys.exit(EXIT_BAD_CONFIG)
    except ACTION_ERRORS as error:
        if not fold_errors:
            raise
        print(f"{PROGRAM}: error: {action_error_line(error)}", file=sys.stderr)
        sys.exit(EXIT_AGENT_FAILED)


def action_error_line(error: Exception) -> str:
    """An agent's invalid or masked action as one line: the agent, the step (request index, from 0;
    set by :func:`messenv.harness.run_episode`) and the reason. Where the agent is the user's own, its
    bug, not the config, is what to fix: the traceback would run through Hydra's internals."""
    agent, step = getattr(error, "agent", None), getattr(error, "step", None)
    where = f"agent {agent!r} failed at step {step} (request index, from 0)" if agent is not None else "an agent failed"
    return f"{where}: {type(error).__name__}: {one_line(error)}"


HYDRA_FILES = frozenset({"config.yaml", "hydra.yaml", "overrides.yaml"})
"""What Hydra writes into ``.hydra/`` before the task starts."""


def remove_unstarted_run(directory: Path, job_name: str) -> bool:
    """Remove the run folder of a run that stopped before it started (a config error), and the
    parent folders made for it (``outputs/<date>/``) once empty; returns whether it was removed.

    Only a folder this process created (:data:`messenv.rundir.CREATED`) that holds nothing but what
    Hydra writes at the start (``.hydra/``, an empty ``<job>.log``) and the run's lock goes: a
    folder that ``hydra.run.dir`` pointed at and that already existed is left as it is, and so is
    one a logger or the run has written into.
    """
    directory = directory.resolve()
    top = CREATED.get(directory)
    expected = {".hydra", LOCK_NAME, f"{job_name}.log"}
    try:
        entries = {entry.name: entry for entry in os.scandir(directory)}
        hydra_files = {entry.name for entry in os.scandir(directory / ".hydra")} if ".hydra" in entries else set()
        log = entries.get(f"{job_name}.log")
        untouched = set(entries) <= expected and hydra_files <= HYDRA_FILES and (log is None or log.stat().st_size == 0)
    except OSError:
        return False
    if top is None or not untouched:
        return False
    shutil.rmtree(directory, ignore_errors=True)
    for parent in directory.parents:
        if not parent.is_relative_to(top):
            break
        try:
            parent.rmdir()  # only if empty: a concurrent run's folder keeps it
        except OSError:
            break
    return not directory.exists()


@contextmanager
def no_folder_left_on_config_error(directory: Path, job_name: str) -> Iterator[None]:
    """Remove the run folder (:func:`remove_unstarted_run`) when the block raises a config error."""
    try:
        yield
    except CONFIG_ERRORS:
        remove_unstarted_run(directory, job_name)
        raise


@hydra.main(version_base="1.3", config_path="pkg://messenv_conf", config_name="config")
def hydra_entry(cfg: DictConfig) -> None:
    """The Hydra task: one run (or one job of a multirun) in its own output directory.

    Errors are folded here, inside the task: Hydra would otherwise print its own
    "Error executing job" line before re-raising.
    """
    # The objects made before the run (imports, the config) outlive it: frozen, the garbage collector
    # does not walk them again; its full pass while matplotlib was imported cost ~0.06 s more CPU
    # without. Unfrozen after, so that a multirun's later jobs can collect this job's leftovers.
    gc.freeze()
    try:
        with exit_on_config_error():
            hydra_config = HydraConfig.get()
            out_dir = Path(hydra_config.runtime.output_dir)
            with no_folder_left_on_config_error(out_dir, hydra_config.job.name):
                run(cfg, out_dir, overrides=list(hydra_config.overrides.task))
    finally:
        gc.unfreeze()


def one_line(error: BaseException) -> str:
    """An error as one line: Hydra's and OmegaConf's multi-line messages folded into a sentence
    that names the key, and the valid keys or options where they are known."""
    if isinstance(error, MissingConfigException) and error.options:
        head = str(error).strip().splitlines()[0]
        return f"{head}; available: {', '.join(error.options)}"
    cause = error.__cause__ if isinstance(error.__cause__, OmegaConfBaseException) else error
    full_key = getattr(cause, "full_key", None)
    if isinstance(cause, OmegaConfBaseException) and full_key:
        if isinstance(cause, (ConfigKeyError, ConfigAttributeError)):
            schema = getattr(cause, "object_type", None)
            valid = f"; valid keys: {', '.join(f.name for f in fields(schema))}" if is_dataclass(schema) else ""
            return f"unknown key '{full_key}' (misspelt?){valid}"
        return f"{full_key}: {str(cause).strip().splitlines()[0]}"
    return " ".join(line.strip() for line in str(error).splitlines() if line.strip())


def main() -> None:
    """Entry point of ``python -m messenv.run`` and the ``messenv-run`` console script.

    Hydra prints composition errors (a misspelt key, an unknown option) as several lines and
    exits 1, unless ``HYDRA_FULL_ERROR`` is set, in which case it re-raises them; it is set here
    for the duration so they can be caught and folded into one line. A user who set
    ``HYDRA_FULL_ERROR=1`` themselves gets Hydra's full traceback, untouched.
    """
    global fold_errors
    overrides = [argument.lstrip("+~") for argument in sys.argv[1:]]
    # A config of the user's own (--config-name/-dir/-path) may set the grid itself.
    options = ("-cn", "--config-name", "-cd", "--config-dir", "-cp", "--config-path")
    own_config = any(argument.split("=")[0] in options for argument in sys.argv[1:])
    grid_set = any(o.startswith("grid.") for o in overrides)
    if grid_set and not own_config and not any(o.startswith("experiment=") for o in overrides):
        # OmegaConf cannot set a key under the grid node, which is None without an experiment: it
        # would raise a bare AssertionError from deep inside Hydra.
        print(f"{PROGRAM}: error: grid.* settings need a grid: add experiment=paper_grid", file=sys.stderr)
        sys.exit(EXIT_BAD_CONFIG)
    register_configs()
    fold_errors = os.environ.get("HYDRA_FULL_ERROR") != "1"
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        with exit_on_config_error():
            hydra_entry()
    finally:
        if fold_errors:
            os.environ.pop("HYDRA_FULL_ERROR", None)


if __name__ == "__main__":
    main()
