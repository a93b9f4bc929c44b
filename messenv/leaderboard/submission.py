"""Submissions: ``leaderboard/submissions/<name>/submission.yaml`` and the agent it names.

A submission names an agent class and its constructor parameters. The class lives in a module
beside the YAML file or in an installed package named under ``package``. The evaluator never
imports it: :func:`check_target` checks the target from the source files alone, and the agent is
imported, built from those parameters and played only inside its worker process
(:mod:`messenv.leaderboard.worker`; threat model in leaderboard/README.md).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.machinery
import importlib.metadata
import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, JsonValue

from messenv.env.vector import OBSERVATION_KEYS
from messenv.leaderboard.protocol import NAME_PATTERN, Protocol
from messenv.leaderboard.remote_agent import WorkerSpec
from messenv.leaderboard.schema import (
    RESULTS_FILE, LeaderboardError, PrintableLine, StrictModel, parse, read_bytes, read_yaml,
)
from messenv.leaderboard.source_files import refuse_hidden_code

SUBMISSION_FILE = "submission.yaml"
SUBMISSION_FORMAT = "messenv-submission/1"


class AgentSpec(StrictModel):
    """The agent to evaluate: ``target`` is ``module.Class``; ``params`` its keyword arguments;
    ``observation_keys`` the observation keys it reads (all when absent: fewer is faster; ``step``
    and ``action_mask`` always come, see :data:`~messenv.leaderboard.remote_agent.ALWAYS_OBSERVED`)."""

    target: Annotated[str, Field(pattern=r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$")]
    params: dict[str, JsonValue] = Field(default_factory=dict)
    observation_keys: list[Literal["prompt", "features", "benchmark", "step"]] | None = None


class Submission(StrictModel):
    """The content of a submission.yaml."""

    format: Literal["messenv-submission/1"]
    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    title: Annotated[PrintableLine, Field(max_length=120)]  # one line: it is a cell of the board's table
    authors: Annotated[list[PrintableLine], Field(min_length=1)]
    # a link holds nothing that would end a markdown link or cell
    link: Annotated[PrintableLine, Field(pattern=r"^https?://[^\s|()<>\[\]\"'`]+$")] | None = None
    package: str | None = None
    description: Annotated[str, Field(min_length=1)]
    agent: AgentSpec


@dataclass(frozen=True)
class LoadedSubmission:
    """A validated submission and where it lives."""

    directory: Path
    spec: Submission
    sha256: str

    @property
    def results_path(self) -> Path:
        """Where ``evaluate`` writes and ``verify``/``build`` read the results."""
        return self.directory / RESULTS_FILE


def load_submission(directory: str | Path) -> LoadedSubmission:
    """Read and validate ``directory/submission.yaml``.

    Raises:
        LeaderboardError: a missing or malformed file (the field is named), a ``name`` that
            differs from the directory's name, or a directory that is a symbolic link.
    """
    directory = Path(directory)
    path = directory / SUBMISSION_FILE
    if directory.is_symlink():  # its files would be read, and the board would link, outside the submissions folder
        raise LeaderboardError(f"{directory}: a submission folder must be a folder, not a symbolic link")
    spec = parse(Submission, read_yaml(path), str(path))
    if spec.name != directory.resolve().name:
        raise LeaderboardError(f"{path}: name {spec.name!r} must be the submission directory's name {directory.name!r}")
    return LoadedSubmission(directory, spec, hashlib.sha256(read_bytes(path)).hexdigest())


def _normalise(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def declared_modules(submission: LoadedSubmission) -> tuple[str, ...]:
    """The top-level import names of the distribution named under ``package`` (none if not declared)."""
    package = submission.spec.package
    if package is None:
        return ()
    wanted = _normalise(package)
    return tuple(sorted(
        name for name, distributions in importlib.metadata.packages_distributions().items()
        if any(_normalise(d) == wanted for d in distributions)
    ))


def _module_name_of(entry: Path) -> str | None:
    """The module name a file or folder of the submission would be imported as, if any: a folder
    without ``__init__.py`` too, as a portion of a namespace package (a ``mpl_toolkits/`` folder
    put its own ``art3d.py`` in place of matplotlib's, attack4)."""
    if entry.is_dir():
        return None if entry.name == "__pycache__" else entry.name  # a cache, never a module
    for suffix in importlib.machinery.all_suffixes():
        if entry.name.endswith(suffix):
            return entry.name[: -len(suffix)].partition(".")[0]
    return None


def _refuse_shadowing(directory: Path, where: str) -> None:
    """Refuse a module of the submission named like a standard-library or installed module.

    Only names an ``import`` statement can spell are looked up, and only as top-level modules:
    ``find_spec`` of a dotted name imports its parent packages, so a folder named
    ``leaderboard.submissions.<name>.x`` ran the submission's own ``__init__.py`` in the
    evaluator's process (the repository root is on ``sys.path`` under ``python -m``)."""
    for entry in sorted(directory.iterdir()):
        name = _module_name_of(entry)
        if not (name and name.isidentifier()):
            continue  # not importable under that name, so it stands in for nothing
        if name in sys.stdlib_module_names or importlib.util.find_spec(name) is not None:
            raise LeaderboardError(
                f"{where}: {entry.name} would stand in for the module {name!r} (standard library or installed); "
                "give the submission's modules unique names (e.g. after the submission)"
            )


def _find_source(top_dirs: list[Path], rest: list[str]) -> Path | None:
    """The source of submodule ``rest`` of a package living in ``top_dirs``, found without importing."""
    for folder in top_dirs:
        base = folder.joinpath(*rest)
        # A package before a module, as CPython's finder looks (refuse_hidden_code refuses both at once).
        for candidate in (base / "__init__.py", base.with_suffix(".py")) if rest else (base / "__init__.py",):
            if candidate.is_file():
                return candidate
    return None


def _defines_class(source: Path, class_name: str, submitted: bool) -> bool:
    """Whether ``source`` defines ``class_name`` at top level (or imports it under that name);
    ``submitted``: a file of the submission's folder, which must not be a symbolic link."""
    code = read_bytes(source, follow_links=not submitted)
    try:
        tree = ast.parse(code, filename=str(source))
    except (SyntaxError, ValueError) as error:  # the message could quote the file: only its line is named
        raise LeaderboardError(f"{source.name}: not valid Python (line {getattr(error, 'lineno', '?')})") from None
    except (MemoryError, RecursionError):  # "-"*200000+"1", "a"+".b"*2000000: CPython's parser gives up
        raise LeaderboardError(f"{source}: nested too deeply or too large for Python's parser") from None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            return True
        if isinstance(node, ast.ImportFrom) and any((alias.asname or alias.name) == class_name for alias in node.names):
            return True
    return False


def check_target(submission: LoadedSubmission) -> None:
    """Check ``agent.target`` statically, without running any of the submission's code.

    The module must be beside submission.yaml or in the package ``package`` declares, its file
    must define the named class at top level, and no module of the submission may share its name
    with a standard-library or installed module. The worker checks again after importing that the
    target is a class implementing ``reset``/``act``/``update`` (:mod:`messenv.leaderboard.worker`).

    Raises:
        LeaderboardError: naming the file and saying what is wrong.
    """
    where = f"{submission.directory / SUBMISSION_FILE}: agent.target"
    module_name, _, class_name = submission.spec.agent.target.rpartition(".")
    directory = submission.directory.resolve()
    _refuse_shadowing(directory, where)
    refuse_hidden_code(directory, where)
    top, *rest = module_name.split(".")
    if (directory / f"{top}.py").is_file() or (directory / top / "__init__.py").is_file():
        module = directory / f"{top}.py"
        package = directory / top / "__init__.py"
        source = module if not rest and not package.is_file() else _find_source([directory / top], rest)
    else:
        declared = declared_modules(submission)
        package = submission.spec.package
        if top not in declared:
            offered = (f"the declared package {package!r} provides {list(declared)}" if package
                       else "no package is declared")
            raise LeaderboardError(
                f"{where}: module {module_name!r} is not beside submission.yaml and {offered}; the agent class must "
                "come from the submission's folder or from the (installed) package named under 'package'"
            )
        spec = importlib.util.find_spec(top)
        if spec is not None and spec.submodule_search_locations is None:
            source = Path(spec.origin) if spec.origin and not rest else None  # a single-module distribution
        else:
            source = _find_source([Path(p) for p in spec.submodule_search_locations], rest) if spec else None
    if source is None or not source.is_file() or source.suffix != ".py":
        raise LeaderboardError(f"{where}: cannot find the source of module {module_name!r}")
    submitted = source.is_relative_to(directory)  # (holding no symbolic link: refuse_hidden_code)
    if not _defines_class(source, class_name, submitted):
        raise LeaderboardError(
            f"{where}: {source.name} defines no class {class_name!r}; a submission names an agent class "
            "with reset/act/update (not a function or another callable)"
        )


def worker_spec(submission: LoadedSubmission, protocol: Protocol) -> WorkerSpec:
    """What a worker needs to play one run of ``submission`` under ``protocol``'s limits."""
    agent = submission.spec.agent
    requested = OBSERVATION_KEYS if agent.observation_keys is None else agent.observation_keys
    keys = tuple(key for key in OBSERVATION_KEYS if key in requested)
    return WorkerSpec(
        directory=submission.directory.resolve(), target=agent.target, params=dict(agent.params),
        packages=declared_modules(submission), observation_keys=keys, run_s=protocol.time_limit_s,
        step_s=protocol.step_time_limit_s, memory_mb=protocol.memory_limit_mb,
    )
