"""The files of a submission's folder that could run code its readers do not see, refused up front.

A submission is reviewed by reading its Python sources, and the worker imports only those
(:class:`messenv.leaderboard.worker.SourceOnlyLoader`). The attacker audit (attack4) ran other code
than the sources show in three ways, each checked here from the files alone, before any run:

- a compiled extension module (``router.cpython-311-x86_64-linux-gnu.so``) beside ``router.py``,
  which CPython imports in preference to the source;
- a source encoding other than UTF-8: under ``# coding: utf-7`` the ``+AAo-`` in what an editor
  shows as a comment is a line break, and the code after it runs;
- a module ``router.py`` beside a folder ``router/``: CPython imports the folder, a reader opens
  the file.

A source holding Unicode's bidirectional controls is refused too: they reorder how a line is
shown, not how Python reads it, so that a line can show code as a comment or a string ("Trojan
Source", Boucher & Anderson, USENIX Security 2023; CVE-2021-42574).
"""

from __future__ import annotations

import importlib.machinery
import io
import os
import tokenize
from pathlib import Path

from messenv.leaderboard.schema import LeaderboardError

UTF8 = ("utf-8", "utf-8-sig")
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Unicode's bidirectional formatting characters (UAX #9: the embeddings, overrides, isolates and
marks): what the Trojan Source attacks reorder a line's display with."""
SKIPPED_FOLDERS = frozenset({"__pycache__", ".git"})
"""Folders never imported from (the worker reads no bytecode) or not part of the submission."""


def source_encoding_problem(source: bytes) -> str | None:
    """Why ``source`` cannot be read as the UTF-8 that every editor shows, as Python reads it (a
    phrase to follow the file's name), or ``None``."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
    except SyntaxError as error:  # an unknown declaration, or undeclared bytes that are not UTF-8
        encoding, declaration = None, error.msg
    if encoding is not None and encoding not in UTF8:
        return f"declares the source encoding {encoding!r}; a submission's sources are read as UTF-8"
    try:
        text = source.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return f"is not UTF-8 (byte {error.start})"
    if encoding is None:
        return f"has a source encoding declaration Python cannot read ({declaration})"
    control = next((character for character in text if character in BIDI_CONTROLS), None)
    if control is not None:
        line = text.count("\n", 0, text.index(control)) + 1
        return (f"holds the bidirectional control U+{ord(control):04X} on line {line}, which shows the line in "
                "another order than Python reads it")
    return None


def refuse_hidden_code(directory: Path, where: str) -> None:
    """Refuse a submission folder holding code that its readers do not see (see the module doc).

    Raises:
        LeaderboardError: one line naming the file and what to do instead.
    """
    extensions = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    for folder, subfolders, files in os.walk(directory):  # symbolic links to folders are not followed
        subfolders[:] = sorted(name for name in subfolders if name not in SKIPPED_FOLDERS)
        here = Path(folder)
        for name in sorted(files):
            path = here / name
            shown = path.relative_to(directory)
            if name.endswith(extensions):
                raise LeaderboardError(
                    f"{where}: {shown} is a compiled extension module, code no reader can check; a submission "
                    "ships Python sources (native code comes from the installed package it declares)"
                )
            if name.endswith(".py"):
                if name[:-3] in subfolders:
                    raise LeaderboardError(
                        f"{where}: {shown} stands beside a folder {name[:-3]}/ of the same name, which Python "
                        "imports instead; rename one of them"
                    )
                if path.is_file() and not path.is_symlink():
                    problem = source_encoding_problem(path.read_bytes())
                    if problem is not None:
                        raise LeaderboardError(f"{where}: {shown} {problem}")
