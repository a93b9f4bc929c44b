"""source_files: a submission folder holding code its readers do not see is refused from its files
alone (attack4), and the worker's loader reads sources as UTF-8 only."""

from __future__ import annotations

import importlib
import importlib.util
import py_compile
import sys
import zipfile
from pathlib import Path

import pytest

from messenv.leaderboard.schema import LeaderboardError
from messenv.leaderboard.source_files import refuse_hidden_code, source_problem
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
        ({"vendor/__pycache__/tables.cpython-311-x86_64-linux-gnu.so": b"\x7fELF"}, "is a compiled extension module"),
        ({"tools/__pycache__.py": b"X = 1\n", "tools/__pycache__/__init__.py": b"X = 2\n"},
         "tools/__pycache__.py stands beside a folder __pycache__/"),
        ({"router.py": b"if DEBUG:\n    x = 1\n    \f    raise SystemExit\n"}, "a form feed within line 3"),
        ({"router.py": b"x = 1  # fine\rraise SystemExit\n"}, "a carriage return without a line feed on line 1"),
        ({"router.py": "x = 1  # a comment\u2028raise SystemExit\n".encode()}, "control character U+2028 on line 1"),
        ({"router.py": b"x = '\x1b[2K'\n"}, "control character U+001B on line 1"),
        ({"router.py": "def act(self, obs, \u3164=2):\n    return \u3164\n".encode()}, "names '\u3164' on line 1"),
        ({"router.py": "\u212fxec('x = 1')\n".encode()}, "names '\u212fxec' on line 1: identifiers are ASCII"),
        ({"router.py": "choice = 0\nchoice\ufe0f = 2\n".encode()}, "on line 2: identifiers are ASCII"),
        ({"router.py": "if True:\n    pass\n  \\\n\n\u212fxec('x = 1')\n".encode()},
         "cannot be read by Python's tokenize module"),
        ({"router.py": "x = 1  # \x9bG\n".encode()}, "invisible or control character U+009B on line 1"),
        ({"router.py": "NAME = 'a\u200bb'\n".encode()}, "invisible or control character U+200B on line 1"),
    ],
    ids=["extension", "nested-extension", "utf-7", "latin-1", "not-utf-8", "module-beside-package", "trojan-source",
         "extension-in-pycache", "module-beside-pycache", "form-feed", "lone-cr", "line-separator", "escape",
         "invisible-identifier", "nfkc-exec", "variation-selector", "tokenize-skip", "c1-csi", "zero-width"],
)
def test_code_its_readers_do_not_see_is_refused(tmp_path: Path, files: dict[str, bytes], expected: str) -> None:
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(content)
    with pytest.raises(LeaderboardError, match="agent.target") as error:
        refuse_hidden_code(tmp_path, "submission.yaml: agent.target")
    assert expected in str(error.value)


def test_a_symbolic_link_is_refused(tmp_path: Path) -> None:
    """``features.py`` linking to a 20,000-line CSV, one line of it code, ran (attack5)."""
    (tmp_path / "weights.csv").write_text("0.1, 0.2\n", encoding="utf-8")
    (tmp_path / "features.py").symlink_to(tmp_path / "weights.csv")
    with pytest.raises(LeaderboardError, match="features.py is a symbolic link; a submission ships plain files"):
        refuse_hidden_code(tmp_path, "where")


def test_plain_sources_data_and_caches_pass(tmp_path: Path) -> None:
    text = "# coding: utf-8\n" + HONEST + "NAME = 'café'  # non-ASCII text in strings and comments is fine\n\f\n"
    (tmp_path / "router.py").write_bytes(text.replace("\n", "\r\n").encode())  # Windows line ends too
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "table.npz").write_bytes(b"PK")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "router.cpython-311.pyc").write_bytes(b"\x00")  # never read by the worker
    refuse_hidden_code(tmp_path, "where")
    assert source_problem(b"\xef\xbb\xbfX = 1\n") is None  # a byte-order mark is UTF-8


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


def test_the_worker_applies_the_rule_to_any_spelling_of_the_folder_and_opens_no_zip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``//submission/vendor`` (a ``.pkg`` file's entry for ``pkgutil.extend_path``) took the default
    loaders, which ran a pyc in its ``__pycache__``; a zip under the folder was opened by zipimport
    (attack5)."""
    vendor = tmp_path / "vendor"
    vendor.mkdir()
    (vendor / "spelled.py").write_text(HONEST, encoding="utf-8")
    pyc = Path(importlib.util.cache_from_source(str(vendor / "spelled.py")))
    pyc.parent.mkdir()
    source = tmp_path / "elsewhere.py"
    source.write_text(HONEST.replace("return 0", "return 2"), encoding="utf-8")
    py_compile.compile(str(source), cfile=str(pyc), doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    with zipfile.ZipFile(tmp_path / "lib.zip", "w") as archive:
        archive.writestr("zipped.py", HONEST)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "path_hooks", list(sys.path_hooks))
    monkeypatch.setattr(sys, "path_importer_cache", dict(sys.path_importer_cache))
    import_sources_only(tmp_path)
    sys.path += ["/" + str(vendor), str(tmp_path / "lib.zip")]
    try:
        assert importlib.import_module("spelled").Router().act(None) == 0  # the source, not the pyc
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module("zipped")
    finally:
        sys.modules.pop("spelled", None)
