"""The run config: the schema catches typos and wrong types while composing, validation catches
ranges, and every shipped agent/env/experiment/launcher config composes and matches its code."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Sequence

import numpy as np
import pytest
from hydra import compose, initialize_config_module
from hydra.errors import ConfigCompositionException
from messenv_agents import AGENTS
from omegaconf import OmegaConf

from messenv.config import (
    BASELINES,
    ConfigError,
    agent_names,
    check_agent_node,
    compose_config,
    constructor_parameters,
    group_options,
    load_agent_node,
    load_scenario,
    parameter_type_error,
    register_configs,
    scenario_of,
    validate_config,
)
from messenv.env.scenario import Scenario

PAPER_ALPHAS = {
    "arc_challenge": 0.50,
    "arc_easy": 0.75,
    "boolq": 0.80,
    "logiqa": 0.40,
    "piqa": 0.78,
    "sciq": 0.96,
    "social_iqa": 0.44,
    "winogrande": 0.70,
}


def composed(*overrides: str, hydra: bool = False):
    """Like :func:`compose_config`, optionally with the ``hydra`` node (to check launchers)."""
    if not hydra:
        return compose_config(*overrides)
    register_configs()
    with initialize_config_module(config_module="messenv_conf", version_base="1.3"):
        return compose("config", overrides=list(overrides), return_hydra_config=True)


def test_default_config_is_mess_plus_on_the_synthetic_zoo_against_every_baseline():
    cfg = composed()
    assert cfg.agent.name == "mess_plus"
    assert cfg.env.recording == "synthetic-llama3"
    assert cfg.env.explore_action is True
    assert list(cfg.baselines) == BASELINES
    assert cfg.grid is None
    assert cfg.loggers.wandb.enabled is False and cfg.loggers.tensorboard.enabled is False
    validate_config(cfg)


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("env.alpah=0.6", "alpah"),  # misspelt field of a group
        ("seeed=3", "seeed"),  # misspelt top-level field
        ("agent.cc=0.1", "cc"),  # misspelt agent parameter (the agent node is in struct mode)
        ("env.alpha=high", "alpha"),  # wrong type
        ("agent=mess_pluss", "mess_pluss"),  # unknown group option
    ],
)
def test_typos_and_wrong_types_fail_while_composing(override, fragment):
    with pytest.raises(ConfigCompositionException) as error:
        composed(override)
    assert fragment in str(error.value) + str(error.value.__cause__)


@pytest.mark.parametrize(
    "override, message",
    [
        ("env.alpha=1.5", "env.alpha must be in [0, 1], got 1.5"),
        ("env.alpha=-0.1", "env.alpha must be in [0, 1]"),
        ("env.feedback_rate=0", "env.feedback_rate must be in (0, 1]"),
        ("env.n_requests=0", "env.n_requests must be positive"),
        ("baselines=[cheapest_first,nope]", "unknown agent 'nope'"),
        ("experiment=paper_grid grid.alphas.boolq=1.2", "grid.alphas.boolq must be in [0, 1]"),
        ("experiment=paper_grid grid.benchmarks=[mmlu]", "grid.benchmarks ['mmlu'] have no α"),
        ("experiment=paper_grid +grid.params.cc=[1]", "unknown parameter(s) ['cc']"),
        ("agent.V=abc", "agent.V must be a number, got 'abc' (str)"),
        ("agent.c=true", "agent.c must be a number, got True (bool)"),
        ("agent=safe_mix agent.horizon=2.5", "agent.horizon must be an int, got 2.5 (float)"),
        ("agent=safe_mix agent.alpha=high", "agent.alpha must be a number or null, got 'high'"),
        ("experiment=paper_grid grid.params.V=[1,x]", "grid.params.V must be a number, got 'x' (str)"),
    ],
)
def test_validation_rejects_what_types_cannot(override, message):
    cfg = composed(*override.split())
    with pytest.raises(ConfigError) as error:
        validate_config(cfg)
    assert message in str(error.value)


def constructor_defaults(cls: type) -> dict:
    """Default of every keyword parameter of ``cls`` and the parents it forwards ``**kwargs`` to."""
    defaults = {}
    for klass in reversed(cls.__mro__[:-1]):  # parents first, so a subclass's default wins
        if "__init__" in vars(klass):
            for parameter in list(inspect.signature(klass.__init__).parameters.values())[1:]:
                if parameter.default is not parameter.empty:
                    defaults[parameter.name] = parameter.default
    return defaults


def test_every_registered_agent_has_a_config_whose_parameters_its_constructor_takes():
    assert sorted(AGENTS) == agent_names()
    for name, cls in AGENTS.items():
        node = load_agent_node(name)
        assert node.name == name
        assert node._target_.rsplit(".", 1)[1] == cls.__name__
        check_agent_node(node, name)
        # The YAML lists every parameter, so `agent.<param>=...` overrides always find their key,
        # with the constructor's default, so `agent=<name>` means the agent as its code defines it.
        params = {k: v for k, v in node.items() if k not in ("name", "_target_")}
        assert set(params) == set(constructor_parameters(cls))
        assert params == {k: v for k, v in constructor_defaults(cls).items() if k in params}


def test_values_of_unchecked_annotations_and_null_optionals_pass_to_the_constructor():
    check_agent_node({"_target_": "messenv_agents.safe_mix.SafeMixAgent", "alpha": None, "z": 2})
    assert parameter_type_error([1, 2], Sequence[int]) is None  # not a scalar: the constructor checks it
    assert parameter_type_error(3, float) is None and parameter_type_error(3.0, int) == "an int"
    assert parameter_type_error(None, float) == "a number"
    assert parameter_type_error(np.int64(3), int) is None and parameter_type_error(np.float32(0.5), float) is None
    assert parameter_type_error(np.bool_(True), float) == "a number"
    assert parameter_type_error(1, [int]) is None  # an unhashable annotation: not checked, no crash


def test_annotations_that_cannot_be_evaluated_leave_the_check_to_the_constructor(tmp_path, monkeypatch):
    module = tmp_path / "odd_annotations.py"
    module.write_text(
        "from __future__ import annotations\n"
        "class Agent:\n"
        "    def __init__(self, eta: 'step size' = 0.1, rate: '1/0' = 1.0, n: int = 1):\n"
        "        self.eta, self.rate, self.n = eta, rate, n\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    check_agent_node({"_target_": "odd_annotations.Agent", "eta": "anything", "rate": "x"})


def test_grid_values_are_checked_resolved_and_against_their_own_name():
    cfg = composed("experiment=paper_grid", "agent.V=${seed}", "grid.params.c=[0.1,${seed}]")
    validate_config(cfg)  # interpolations resolve to numbers
    with pytest.raises(ConfigError, match=r"^grid.params.c must be a number, got 'x' \(str\)$"):
        validate_config(composed("experiment=paper_grid", "grid.params.c=[0.1,x]"))


def test_agent_parameter_check_follows_kwargs_to_the_parent_class():
    node = OmegaConf.to_container(load_agent_node("linucb"))
    check_agent_node({**node, "eta": 0.1})  # LinUCB forwards **kwargs to LagrangianBandit(eta=...)
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) \['etaa'\]"):
        check_agent_node({**node, "etaa": 0.1})
    with pytest.raises(ConfigError, match=r"agent.eta must be a number, got 'fast' \(str\)"):
        check_agent_node({**node, "eta": "fast"})  # typed by the parent's annotation
    with pytest.raises(ConfigError, match="cannot import"):
        check_agent_node({"_target_": "messenv_agents.nowhere.Agent"})


def test_an_agent_that_cannot_be_imported_is_named_with_its_cause_and_where_python_looks(
    tmp_path, monkeypatch, capsys
):
    """The cause, not only its type: the user's own module missing (and where Python looks for it), a
    class the module lacks, or a module the agent's module itself imports; and no Hydra log lines."""
    (tmp_path / "has_no_class.py").write_text("x = 1\n", encoding="utf-8")
    (tmp_path / "imports_a_missing_module.py").write_text("import no_such_dependency\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # as python -m puts the working directory on sys.path
    cases = {
        "my_agents.SlaGuard": "ModuleNotFoundError: No module named 'my_agents'; Python looks for my_agents.py "
        f"(or a package my_agents/) in the working directory ({tmp_path}) and on PYTHONPATH",
        "has_no_class.SlaGuard": "module 'has_no_class' has no attribute 'SlaGuard'",
        "imports_a_missing_module.SlaGuard": "ModuleNotFoundError: No module named 'no_such_dependency'",
    }
    for target, cause in cases.items():
        with pytest.raises(ConfigError) as error:
            check_agent_node({"_target_": target})
        assert str(error.value) == f"agent: cannot import _target_ {target!r}: {cause}"
    assert capsys.readouterr().err == ""  # hydra.utils.get_class logs each failure on three lines
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    with pytest.raises(ConfigError, match=r"this command does not look in the working directory: run python -m "
                       r"messenv.run from the folder of my_agents.py, or add that folder to PYTHONPATH$"):
        check_agent_node({"_target_": "my_agents.SlaGuard"})  # the messenv-run console script's sys.path


@pytest.mark.parametrize("env", ["synthetic_llama3", "messplus_llama3", "messplus_qwen2"])
def test_env_configs_compose(env):
    cfg = composed(f"env={env}")
    assert cfg.env.recording == env.replace("_", "-")
    validate_config(cfg)


def test_paper_grid_has_the_papers_alphas_c_v_and_three_seeds():
    cfg = composed("experiment=paper_grid")
    assert cfg.env.recording == "messplus-llama3"
    assert cfg.agent.name == "mess_plus"
    assert dict(cfg.grid.alphas) == PAPER_ALPHAS
    assert list(cfg.grid.params.c) == [0.01, 0.1, 1.0]
    assert list(cfg.grid.params.V) == [1e-5, 1e-3, 1e-2]
    assert list(cfg.grid.seeds) == [0, 1, 2]
    validate_config(cfg)


@pytest.mark.parametrize("launcher, target", [("local", "JoblibLauncher"), ("slurm", "SlurmLauncher")])
def test_launcher_configs_compose(launcher, target):
    pytest.importorskip(
        "hydra_plugins.hydra_submitit_launcher" if launcher == "slurm" else "hydra_plugins.hydra_joblib_launcher"
    )
    cfg = composed(f"hydra/launcher={launcher}", hydra=True)
    assert cfg.hydra.launcher._target_.endswith(target)


@pytest.mark.parametrize(
    ("override", "unknown"),
    [
        ("+env.sampler=counter", "'env.sampler' in env"),
        ("+foo=1", "'foo'"),
        ("+loggers.wandb.x=1", "'loggers.wandb.x'"),
    ],
)
def test_a_key_appended_with_plus_that_the_schema_lacks_is_refused(override: str, unknown: str) -> None:
    """Hydra's ``+key=value`` gets past struct mode on purpose: the run would record the key in
    results.json and ignore it."""
    cfg = compose_config("agent=cheapest_first", override)
    with pytest.raises(ConfigError, match=f"unknown config key {unknown}"):
        validate_config(cfg)


@pytest.mark.parametrize("name", group_options("scenario"))
def test_a_scenario_name_in_python_is_what_scenario_name_gives_the_runner(name: str) -> None:
    """``gym.make(..., scenario="zoo_change")`` plays what ``python -m messenv.run scenario=zoo_change`` plays."""
    runner = scenario_of(compose_config(f"scenario={name}"))
    assert load_scenario(name) == runner == Scenario.parse(name)
    assert runner.name == name


@pytest.mark.parametrize("name", ["zoo_chnage", "../agent/random", "", "none.yaml"])
def test_an_unknown_scenario_name_is_one_line_listing_the_known_ones(name: str) -> None:
    with pytest.raises(ValueError, match=r"unknown scenario .*; known: delayed_feedback, .*zoo_change") as error:
        load_scenario(name)
    assert "\n" not in str(error.value)
