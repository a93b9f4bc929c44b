"""``python -m messenv.live.tiny_models``: on the base install, one line naming the extra."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from messenv.live import tiny_models


def test_missing_extra_is_one_line_and_exit_2(tmp_path: Path, monkeypatch, capsys) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    assert tiny_models.main([str(tmp_path / "zoo")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("python -m messenv.live.tiny_models: error: building the tiny models needs torch")
    assert 'pip install -e ".[embed]"' in lines[0]
    assert not (tmp_path / "zoo").exists()


def test_the_command_on_this_install(tmp_path: Path) -> None:
    """Without torch (the README's base install) the real command exits 2 with the one line; with it, it builds."""
    result = subprocess.run(
        [sys.executable, "-m", "messenv.live.tiny_models", str(tmp_path / "zoo")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if tiny_models.missing_modules():
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "embed" in result.stderr and "Traceback" not in result.stderr
    else:
        assert result.returncode == 0, result.stderr
        assert sorted(p.name for p in (tmp_path / "zoo").iterdir()) == sorted(tiny_models.TINY_ZOO)


def test_the_live_env_docstring_example_runs(monkeypatch, capsys) -> None:
    """The construction example in ``LiveMessEnv``'s docstring runs as written (needs the extra)."""
    for name in tiny_models.NEEDS:
        pytest.importorskip(name)
    from messenv.live.env import LiveMessEnv

    doc = LiveMessEnv.__doc__
    example = textwrap.dedent(doc[doc.index("::") + 2 : doc.index("On a GPU box")])
    exec(compile(example, "LiveMessEnv example", "exec"), {})
    assert capsys.readouterr().out.strip()
