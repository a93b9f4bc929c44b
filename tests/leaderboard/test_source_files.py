"""source_files: a submission folder holding code its readers do not see is refused from its files
alone (attack4), and the worker's loader reads sources as UTF-8 only."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from messenv.leaderboard.schema import LeaderboardError
from messenv.leaderboard.source_files import refuse_hidden_code, source_encoding_problem
from messenv.leaderboard.submission import check_target
from messenv.leaderboard.worker import import_sources_only
from tests.leaderboard.conftest import write_submission

HONEST = "class Router:\n    def act(self, obs):\n        return 0  # the cheapest model\n"
UTF7_HIDDEN = (
    "# coding: utf-7\n"
    "class Router:\n"
    "    def act(self, obs):\n"
    "        # the cheapest model+AAo-        return 2\n"
    "        return 0\n"
)
"""What every editor shows as a comment; under UTF-7 ``+AAo-`` is a line break and ``return 2`` runs."""
TROJAN_SOURCE = (
    "class Router:\n"
    "    def act(self, obs):\n"
    "        model = 0\n"
    "        model = 2  # \u202e0 = ledom\n"
    "        return model\n"
)
"""Line 4 holds the right-to-left override U+202E: an editor shows what follows it reversed, here
``model = 0``, in a comment; Python reads the line in order (the Trojan Source class of attacks)."""


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"router.cpython-311-x86_64-linux-gnu.so": b"\x7fELF"}, "router.cpython-311-x86_64-linux-gnu.so is a compiled "
                                                                   "extension module"),
        ({"lib/fast.abi3.so": b"\x7fELF"}, "lib/fast.abi3.so is a compiled extension module"),
        ({"router.py": UTF7_HIDDEN.encode()}, "router.py declares the source encoding 'utf-7'"),
        ({"router.py": "# -*- coding: latin-1 -*-\nNAME = 'caf\xe9'\n".encode("latin-1")}, "encoding 'iso-8859-1'"),
        ({"router.py": b"NAME = '\xe9'\n"}, "router.py is not UTF-8 (byte 8)"),
        ({"router.py": HONEST.encode(), "router/__init__.py": b"X = 1\n"}, "router.py stands beside a folder router/"),
        ({"router.py": TROJAN_SOURCE.encode()}, "router.py holds the bidirectional control U+202E on line 4"),
    ],
    ids=["extension", "nested-extension", "utf-7", "latin-1", "not-utf-8", "module-beside-package", "trojan-source"],
)
def test_code_its_readers_do_not_see_is_refused(tmp_path: Path, files: dict[str, bytes], expected: str) -> None:
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(content)
    with pytest.raises(LeaderboardError, match="agent.target") as error:
        refuse_hidden_code(tmp_path, "submission.yaml: agent.target")
    assert expected in str(error.value)


def test_plain_sources_data_and_caches_pass(tmp_path: Path) -> None:
    (tmp_path / "router.py").write_text("# coding: utf-8\n" + HONEST + "NAME = 'café'\n", encoding="utf-8")
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "table.npz").write_bytes(b"PK")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "router.cpython-311.pyc").write_bytes(b"\x00")  # never read by the worker
    refuse_hidden_code(tmp_path, "where")
    assert source_encoding_problem(b"\xef\xbb\xbfX = 1\n") is None  # a byte-order mark is UTF-8


def test_a_folder_standing_in_for_an_installed_namespace_package_is_refused(tmp_path: Path) -> None:
    """A folder without ``__init__.py`` named like an installed namespace package put its own
    module first on that package's path, where check_target read the installed one (attack4)."""
    submission = write_submission(tmp_path, "namespace", "mpl_toolkits.mplot3d.art3d.Line3D", package="matplotlib")
    (submission.directory / "mpl_toolkits" / "mplot3d").mkdir(parents=True)
    (submission.directory / "mpl_toolkits" / "mplot3d" / "art3d.py").write_text("class Line3D: pass\n")
    with pytest.raises(LeaderboardError, match="mpl_toolkits would stand in for the module 'mpl_toolkits'"):
        check_target(submission)


def test_the_worker_imports_sources_as_utf_8_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "hidden_utf7.py").write_bytes(UTF7_HIDDEN.encode())
    (tmp_path / "hidden_native.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\x7fELF")
    (tmp_path / "hidden_native.py").write_text(HONEST, encoding="utf-8")
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "path_hooks", list(sys.path_hooks))
    import_sources_only(tmp_path)
    with pytest.raises(ImportError, match="hidden_utf7.py: declares the source encoding 'utf-7'"):
        importlib.import_module("hidden_utf7")
    native = importlib.import_module("hidden_native")  # the source, not the extension module beside it
    assert native.__file__ == str(tmp_path / "hidden_native.py") and native.Router().act(None) == 0
    sys.modules.pop("hidden_native", None)
