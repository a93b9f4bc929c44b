"""The README's examples run as written: its Python blocks (on the bundled synthetic zoo), the output
it says they print, and the shell commands of the sections that walk a new user through a task."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.DOTALL)
PRINTS = dict(re.findall(r"```python\n(.*?)```\n\nIt prints[^\n]*\n\n```text\n(.*?)```", README, re.DOTALL))
REQUIRES = re.compile(r"# requires: ([\w, ]+)")


def bash_block_after(heading: str) -> list[str]:
    """The commands of the first ```bash block after ``heading`` in the README."""
    block = re.search(rf"{re.escape(heading)}.*?```bash\n(.*?)```", README, re.DOTALL)
    assert block, heading
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_has_python_examples():
    assert len(BLOCKS) >= 2 and PRINTS


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_example_runs(index, capsys):
    """Each block runs; a block that starts ``# requires: a, b`` is skipped where a module is missing."""
    block = BLOCKS[index]
    needs = REQUIRES.match(block)
    for module in needs.group(1).replace(",", " ").split() if needs else []:
        pytest.importorskip(module)
    exec(compile(block, f"README.md python block {index}", "exec"), {"__name__": "readme_example"})
    out = capsys.readouterr().out
    assert out.strip()  # every example prints what it shows
    if block in PRINTS:
        assert out == PRINTS[block]


OWN_AGENT = """
from messenv_agents.base import BaseAgent


class SlaGuard(BaseAgent):
    name = "sla_guard"

    def __init__(self, margin=0.01, alpha=None):
        super().__init__(alpha)
        self.margin = margin

    def act(self, obs):
        return 0
"""


def test_own_agent_in_the_runner_runs_as_written(tmp_path):
    """*Your own agent in the runner*: the README's config file and both its commands, verbatim (on 300
    requests, without plots), with a module of that shape in the working directory: the single run,
    then the sweep over ``agent.margin`` (``--multirun`` before the overrides, or argparse refuses it)."""
    config = re.search(r"\*\*Your own agent in the runner.*?```yaml\n(.*?)```", README, re.DOTALL).group(1)
    (tmp_path / "my_conf" / "agent").mkdir(parents=True)
    (tmp_path / "my_conf" / "agent" / "sla_guard.yaml").write_text(config, encoding="utf-8")
    (tmp_path / "my_agents.py").write_text(OWN_AGENT, encoding="utf-8")
    single, sweep = (shlex.split(command) for command in bash_block_after("**Your own agent in the runner"))
    extra = {"single": ["hydra.run.dir=run"], "sweep": ["hydra.sweep.dir=sweep"]}
    for name, command in (("single", single), ("sweep", sweep)):
        assert command[:3] == ["python", "-m", "messenv.run"]
        result = subprocess.run(
            [sys.executable, *command[1:], "env.n_requests=300", "plots=false", *extra[name]], cwd=tmp_path,
            env={**os.environ, "MESSENV_HOME": str(tmp_path / "home")}, capture_output=True, text=True,
            timeout=600, check=False,
        )
        assert result.returncode == 0, (name, result.stderr)
    assert '"margin": 0.02' in (tmp_path / "run" / "results.json").read_text(encoding="utf-8")
    swept = sorted((tmp_path / "sweep").glob("*/results.json"))
    margins = [json.loads(path.read_text(encoding="utf-8"))["config"]["agent"]["margin"] for path in swept]
    assert sorted(margins) == [0.01, 0.02, 0.05]


def test_own_zoo_walkthrough_runs_as_written(tmp_path):
    """*Your own zoo*: import, run, report, verbatim, from a copy of the repository's example file."""
    commands = bash_block_after("**Your own zoo**")
    assert [c.split()[2] for c in commands] == ["messenv.recordings", "messenv.run", "messenv.report"]
    example = Path(shlex.split(commands[0])[4])
    (tmp_path / example).parent.mkdir(parents=True)
    shutil.copy(REPO_ROOT / example, tmp_path / example)
    env = {**os.environ, "MESSENV_HOME": str(tmp_path / "home")}
    for command in commands:
        argv = shlex.split(command)
        assert argv[:2] == ["python", "-m"]
        result = subprocess.run(
            [sys.executable, *argv[1:]], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False
        )
        assert result.returncode == 0, (command, result.stderr)
    assert (tmp_path / "myzoo-run" / "results.json").is_file() and (tmp_path / "myzoo-run" / "pareto.png").is_file()
