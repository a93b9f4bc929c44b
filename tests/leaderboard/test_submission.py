"""submission.yaml: malformed files are rejected with the file and field named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from messenv.leaderboard import __main__ as leaderboard_main
from messenv.leaderboard.__main__ import main
from messenv.leaderboard.schema import LeaderboardError
from messenv.leaderboard.evaluate import evaluate_submission
from messenv.leaderboard.protocol import Protocol
from messenv.leaderboard.submission import check_target, load_submission
from tests.leaderboard.conftest import LEADERBOARD, PARSER_BOMB, write_submission


def _write(tmp_path: Path, name: str, data: object) -> Path:
    directory = tmp_path / name
    directory.mkdir()
    (directory / "submission.yaml").write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return directory


VALID = {
    "format": "messenv-submission/1", "name": "ok", "title": "t", "authors": ["a"], "description": "d",
    "agent": {"target": "messenv_agents.fixed.CheapestFirstAgent", "params": {}},
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"authors": []}, "authors: List should have at least 1 item"),
        ({"agent": {"target": "no_dots", "params": {}}}, "agent.target: String should match pattern"),
        ({"agent": {"target": "a.B", "paramz": {}}}, "agent.paramz: Extra inputs are not permitted"),
        ({"link": "not a url"}, "link: String should match pattern"),
        ({"format": "messenv-submission/2"}, "format: Input should be 'messenv-submission/1'"),
        ({"title": None}, "title: Input should be a valid string"),
    ],
)
def test_malformed_submission_names_file_and_field(tmp_path: Path, change: dict, message: str) -> None:
    directory = _write(tmp_path, "ok", {**VALID, **change})
    with pytest.raises(LeaderboardError) as error:
        load_submission(directory)
    assert f"{directory / 'submission.yaml'}: " in str(error.value) and message in str(error.value)


def test_missing_field_and_bad_yaml(tmp_path: Path) -> None:
    data = dict(VALID)
    del data["description"]
    with pytest.raises(LeaderboardError, match="description: Field required"):
        load_submission(_write(tmp_path, "ok", data))
    with pytest.raises(LeaderboardError, match="not valid YAML"):
        load_submission(_write(tmp_path, "bad", "agent: [unclosed"))
    with pytest.raises(LeaderboardError, match="no such file"):
        load_submission(tmp_path / "absent")


def test_name_must_match_directory(tmp_path: Path) -> None:
    with pytest.raises(LeaderboardError, match="name 'ok' must be the submission directory's name 'other'"):
        load_submission(_write(tmp_path, "other", VALID))


def test_unimportable_and_missing_targets(tmp_path: Path) -> None:
    missing = write_submission(tmp_path, "missing", "not_installed_module.Agent")
    with pytest.raises(LeaderboardError, match="module 'not_installed_module' is not beside submission.yaml"):
        check_target(missing)
    uninstalled = write_submission(tmp_path, "uninstalled", "router.Agent", package="not-installed-router")
    with pytest.raises(LeaderboardError, match=r"the declared package 'not-installed-router' provides \[\]"):
        check_target(uninstalled)
    no_class = write_submission(tmp_path, "noclass", "messenv_agents.fixed.NoSuchAgent")
    with pytest.raises(LeaderboardError, match="fixed.py defines no class 'NoSuchAgent'"):
        check_target(no_class)


REQUIRED_PARAMETER_AGENT = """
    from messenv_agents.base import BaseAgent

    class Needs(BaseAgent):
        name = "needs"

        def __init__(self, eta: float) -> None:
            super().__init__()
            self.eta = eta

        def act(self, obs):
            return 0
"""


@pytest.mark.parametrize(
    "target, params, code, reason",
    [
        ("messenv_agents.primal_dual.PrimalDualAgent", {"etaa": 0.1}, None,
         r"agent\.params \(PrimalDualAgent\): unknown parameter\(s\) \['etaa'\]; it takes \['c', .*'eta'"),
        ("messenv_agents.primal_dual.PrimalDualAgent", {"eta": "fast"}, None,
         r"agent\.params\.eta must be a number, got 'fast'"),
        ("needs_agent_for_tests.Needs", {}, REQUIRED_PARAMETER_AGENT,
         r"agent\.params \(Needs\): missing a required argument: 'eta'; it takes \['eta'\]"),
    ],
)
def test_a_parameter_the_agent_does_not_take_stops_the_submission_before_any_run(
    tmp_path: Path, tiny_protocol: Protocol, target: str, params: dict, code: str | None, reason: str
) -> None:
    """Checking parameters needs the class, which only the sandboxed worker imports: it builds the
    agent once before the first run, and the evaluator stops the submission with one line naming
    submission.yaml, the key and the parameters the agent takes; no results.json is written."""
    typo = write_submission(tmp_path, "typo", target, params, code=code)
    with pytest.raises(LeaderboardError, match=rf"^{typo.directory}/submission\.yaml: {reason}") as error:
        evaluate_submission(typo, tiny_protocol, show_progress=False)
    assert "\n" not in str(error.value) and "worker.py" not in str(error.value)
    assert not typo.results_path.exists()


def test_parameters_the_agent_takes_are_played(tmp_path: Path, tiny_protocol: Protocol) -> None:
    """The check before the runs lets correct parameters through, and the agent gets them."""
    code = REQUIRED_PARAMETER_AGENT
    good = write_submission(tmp_path, "good", "needs_agent_for_tests.Needs", {"eta": 0.5}, code=code)
    results = evaluate_submission(good, tiny_protocol, show_progress=False)
    assert [run.status for run in results.runs] == ["ok"] * len(tiny_protocol.runs())
    assert good.results_path.is_file()


def test_evaluate_cli_names_a_mistyped_parameter_in_one_line(
    tmp_path: Path, tiny_protocol: Protocol, capsys: pytest.CaptureFixture[str]
) -> None:
    """``evaluate`` skips the submission with that line and exit status 2, as for any bad submission."""
    typo = write_submission(tmp_path, "typo", "messenv_agents.primal_dual.PrimalDualAgent", {"etaa": 0.1})
    status = main(["--protocol", str(tmp_path / "protocol.yaml"), "evaluate", "--no-progress", str(typo.directory)])
    lines = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(lines) == 1, lines
    assert "submission.yaml: agent.params (PrimalDualAgent): unknown parameter(s) ['etaa']; it takes" in lines[0]
    assert not typo.results_path.exists()


def test_agent_code_beside_the_yaml_is_accepted(tmp_path: Path) -> None:
    code = """
        from messenv_agents.base import BaseAgent

        class Beside(BaseAgent):
            name = "beside"

            def act(self, obs):
                return 0
    """
    check_target(write_submission(tmp_path, "beside", "beside_agent_for_tests.Beside", code=code))


def test_evaluate_cli_reports_a_malformed_submission(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = _write(tmp_path, "ok", {**VALID, "authors": "me"})
    status = main(["--protocol", str(LEADERBOARD / "protocol.yaml"), "evaluate", str(directory)])
    assert status == 2
    assert "authors: Input should be a valid list" in capsys.readouterr().err


@pytest.mark.parametrize("directory", sorted((LEADERBOARD / "submissions").glob("*/")), ids=lambda p: p.name)
def test_committed_submissions_are_valid(directory: Path) -> None:
    check_target(load_submission(directory))


def test_a_module_name_already_taken_is_refused(tmp_path: Path) -> None:
    code = "class Agent:\n    pass\n"
    submission = write_submission(tmp_path, "shadow", "json.Agent", code=code)  # ships json.py
    with pytest.raises(LeaderboardError, match="json.py would stand in for the module 'json'"):
        check_target(submission)


def test_a_dotted_folder_name_runs_none_of_the_submissions_code_on_the_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder ``<package>.x`` with an ``__init__.py``: looking its name up must not import
    ``<package>``, here a package on ``sys.path`` (as the repository root is under ``python -m``)
    whose ``__init__.py`` leaves a mark."""
    mark = tmp_path / "ran-on-the-host"
    package = tmp_path / "importable" / "hostile_parent"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(f"open({str(mark)!r}, 'w').close()\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "importable"))
    submission = write_submission(tmp_path, "dotted", "dotted_agent.Agent", code="class Agent:\n    pass\n")
    (submission.directory / "hostile_parent.x").mkdir()
    (submission.directory / "hostile_parent.x" / "__init__.py").write_text("", encoding="utf-8")
    check_target(submission)
    assert not mark.exists()


def test_a_symlinked_or_unparsable_agent_source_is_refused_without_quoting_it(tmp_path: Path) -> None:
    """check_target reads the agent's source outside the sandbox: a link could point it at any file
    of the host, and a syntax error's message would print that file's line."""
    secret = tmp_path / "credentials"
    secret.write_text("https://ada:TOKEN123@github.com\n", encoding="utf-8")
    linked = write_submission(tmp_path / "a", "linked", "linked_agent.Agent", code="class Agent: pass\n")
    (linked.directory / "linked_agent.py").unlink()
    (linked.directory / "linked_agent.py").symlink_to(secret)
    with pytest.raises(LeaderboardError, match="symbolic link") as refused:
        check_target(linked)
    garbled = write_submission(tmp_path / "b", "garbled", "garbled_agent.Agent", code="TOKEN123 = = python\n")
    with pytest.raises(LeaderboardError, match=r"garbled_agent.py: not valid Python \(line 1\)") as unparsable:
        check_target(garbled)
    assert "TOKEN123" not in str(refused.value) + str(unparsable.value)
    outside = tmp_path / "host_package"
    outside.mkdir()
    (outside / "__init__.py").write_text("", encoding="utf-8")
    (outside / "mod.py").write_text("class Agent: pass\n", encoding="utf-8")
    through = write_submission(tmp_path / "d", "through", "linked_pkg.mod.Agent", code="")
    (through.directory / "linked_pkg.mod.py").unlink()
    (through.directory / "linked_pkg").symlink_to(outside)
    with pytest.raises(LeaderboardError, match="linked_pkg is a symbolic link"):
        check_target(through)


def test_a_submission_yaml_that_is_a_link_a_device_or_an_alias_bomb_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "submissions" / "zero"
    folder.mkdir(parents=True)
    (folder / "submission.yaml").symlink_to("/dev/zero")
    with pytest.raises(LeaderboardError, match="not a symbolic link"):
        load_submission(folder)
    bomb = write_submission(tmp_path / "c", "bomb", "messenv_agents.fixed.LargestOnlyAgent")
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    text = (bomb.directory / "submission.yaml").read_text(encoding="utf-8")
    (bomb.directory / "submission.yaml").write_text(text.replace("params: {}", "params:\n    " + "\n    ".join(levels)))
    with pytest.raises(LeaderboardError, match="aliases"):
        load_submission(bomb.directory)
    (bomb.directory / "submission.yaml").write_text("[" * 20_000 + "]" * 20_000, encoding="utf-8")
    with pytest.raises(LeaderboardError, match="nested too deeply"):
        load_submission(bomb.directory)


def test_a_title_is_one_line_and_its_markup_is_escaped_on_the_board(tmp_path: Path) -> None:
    from messenv.leaderboard.render import markdown_text

    with pytest.raises(LeaderboardError, match="title"):
        write_submission(tmp_path, "inject", "messenv_agents.fixed.LargestOnlyAgent", title="ok\n| 1 | fake | 100% |")
    assert markdown_text("a | b <img> [x](y) *z*") == r"a \| b \<img\> \[x\](y) \*z\*"


@pytest.mark.parametrize("character", ["\u202e", "\u2028", "\u0085", "\u200b"], ids=["bidi", "line-sep", "nel", "zwsp"])
@pytest.mark.parametrize("field", ["title", "authors", "link"])
def test_a_field_shown_on_the_board_holds_printable_characters_only(tmp_path: Path, field: str, character: str) -> None:
    """U+202E reverses what follows it, U+2028 and U+0085 break the line, U+200B hides: a title
    like "my router\u202e%001 ,1#" would read as another rank (attack2-bidi)."""
    value = {"title": f"my router{character}%001 ,1 knar", "authors": [f"Mallory{character}"],
             "link": f"https://example.org/{character}x"}[field]
    directory = _write(tmp_path, "ok", {**VALID, field: value})
    with pytest.raises(LeaderboardError, match=rf"{field}.*printable characters \(found U\+{ord(character):04X}\)"):
        load_submission(directory)


def test_a_symlinked_submission_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A folder linked into submissions/ from elsewhere crashed build (its path is not under the root)."""
    outside = _write(tmp_path, "elsewhere", {**VALID, "name": "elsewhere"})
    (tmp_path / "board" / "submissions").mkdir(parents=True)
    (tmp_path / "board" / "submissions" / "elsewhere").symlink_to(outside)
    with pytest.raises(LeaderboardError, match="submissions/elsewhere: a submission folder must be a folder, not a"):
        load_submission(tmp_path / "board" / "submissions" / "elsewhere")
    assert main(["--root", str(tmp_path / "board"), "--protocol", str(LEADERBOARD / "protocol.yaml"), "build"]) == 2
    assert "not a symbolic link" in capsys.readouterr().err


@pytest.mark.parametrize("source", ["-" * 200_000 + "1\n", "a" + ".b" * 2_000_000 + "\n"], ids=["memory", "recursion"])
def test_agent_source_that_breaks_the_parser_is_refused_with_one_line(tmp_path: Path, source: str) -> None:
    """ast.parse raises MemoryError or RecursionError on these, which escaped check_target and
    aborted verify and evaluate for every submission (attack2-pocs/bomb)."""
    submission = write_submission(tmp_path, "bomb", "bomb_agent.Agent", code="class Agent:\n    pass\n" + source)
    with pytest.raises(LeaderboardError, match=r"bomb_agent.py: nested too deeply or too large for Python's parser$"):
        check_target(submission)


def test_evaluate_skips_a_bad_submission_and_evaluates_the_others(
    tmp_path: Path, tiny_protocol: Protocol, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write_submission(tmp_path, "bomb", "bomb_agent.Agent", code=PARSER_BOMB)
    good = write_submission(tmp_path, "cheap", "messenv_agents.fixed.CheapestFirstAgent")
    args = ["--protocol", str(tmp_path / "protocol.yaml"), "evaluate", "--no-progress", str(bad.directory),
            str(good.directory)]
    assert main(args) == 2
    assert "bomb_agent.py: nested too deeply" in capsys.readouterr().err
    assert good.results_path.is_file() and not bad.results_path.exists()


def test_evaluate_goes_on_after_an_evaluation_that_stops_with_an_error(
    tmp_path: Path, tiny_protocol: Protocol, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = write_submission(tmp_path, "first", "messenv_agents.fixed.LargestOnlyAgent")
    second = write_submission(tmp_path, "second", "messenv_agents.fixed.CheapestFirstAgent")
    evaluate = leaderboard_main.evaluate_submission

    def stops_on_first(submission, *args, **kwargs):
        if submission.spec.name == "first":
            raise LeaderboardError("first: the agent sandbox does not start")
        return evaluate(submission, *args, **kwargs)

    monkeypatch.setattr(leaderboard_main, "evaluate_submission", stops_on_first)
    args = ["--protocol", str(tmp_path / "protocol.yaml"), "evaluate", "--no-progress", str(first.directory),
            str(second.directory)]
    assert main(args) == 2
    assert "the agent sandbox does not start (skipped; the others are still evaluated)" in capsys.readouterr().err
    assert second.results_path.is_file() and not first.results_path.exists()
