"""The files of a submission's folder that could run code its readers do not see, refused up front.

A submission is reviewed by reading its Python sources, and the worker imports only those
(:class:`messenv.leaderboard.worker.SourceOnlyLoader`). Two attacker audits ran other code than
the sources show; what they used is refused here, from the files alone, before any run:

- a compiled extension module (``router.cpython-311-x86_64-linux-gnu.so``) beside ``router.py``,
  which CPython imports in preference to the source, anywhere in the folder (``__pycache__``
  included: a ``.pkg`` file for ``pkgutil.extend_path`` can put any subfolder on a path);
- a symbolic link: ``features.py`` linking to a 20,000-line CSV of numbers, one line of it code;
- a module ``router.py`` beside a folder ``router/`` (``__pycache__`` too): CPython imports the
  folder, a reader opens the file;
- a source that does not show what Python reads (:func:`source_problem`): another encoding than
  UTF-8 (under ``# coding: utf-7`` the ``+AAo-`` in what editors show as a comment is a line
  break); Unicode's bidirectional controls, which reorder how a line is shown ("Trojan Source",
  Boucher & Anderson, USENIX Security 2023; CVE-2021-42574); a form feed within a line, which
  resets the indentation Python reads but not the one shown; a carriage return without a line
  feed, a line break to Python that terminals draw over; U+2028, U+2029 and U+0085, which editors
  may break a line at and Python does not; other control and format characters; identifiers that
  are not ASCII (look-alike letters, an invisible U+3164 as a parameter, ``ℯxec`` that Python reads
  as ``exec``, a variation selector that makes ``choice`` another variable); and a source that
  Python's ``tokenize`` cannot read, which would escape the identifier check.
"""

from __future__ import annotations

import importlib.machinery
import io
import os
import tokenize
import unicodedata
from pathlib import Path

from messenv.leaderboard.schema import LeaderboardError

UTF8 = ("utf-8", "utf-8-sig")
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Unicode's bidirectional formatting characters (UAX #9: the embeddings, overrides, isolates and
marks): what the Trojan Source attacks reorder a line's display with."""
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
"""Unicode's control and format characters and its line and paragraph separators: invisible, or
drawn by some terminals and editors as something else (a line break at U+2028, a cursor move at
the 8-bit CSI U+009B), while Python reads them as plain characters (attack5, attack6)."""
ALLOWED_CONTROLS = frozenset("\t\n\r\f")
"""The control characters a source may hold (``\\r`` only before ``\\n``, ``\\f`` only on a line of its own)."""


def _display_problem(text: str) -> str | None:
    """What in ``text`` shows otherwise than Python reads it (see the module doc), or ``None``."""
    for number, line in enumerate(text.split("\n"), start=1):
        body = line.removesuffix("\r")
        for character in body:
            if character in BIDI_CONTROLS:
                return (f"holds the bidirectional control U+{ord(character):04X} on line {number}, which shows "
                        "the line in another order than Python reads it")
            if unicodedata.category(character) in INVISIBLE_CATEGORIES and character not in ALLOWED_CONTROLS:
                return f"holds the invisible or control character U+{ord(character):04X} on line {number}"
        if "\r" in body:
            return (f"holds a carriage return without a line feed on line {number}: a line break to Python "
                    "that terminals draw over")
        if "\f" in body and body.strip():
            return f"holds a form feed within line {number}: it resets the indentation Python reads, not the shown one"
    return None


def _identifier_problem(text: str) -> str | None:
    """The first character outside a string literal or comment that is not ASCII, or why
    ``tokenize`` cannot read ``text``; ``None`` if neither.

    Every token is looked at, not only ``NAME`` tokens: Python 3.11's ``tokenize`` reads a name as
    ``\\w+``, and CPython's identifiers also hold combining marks, variation selectors and the
    like, which ``tokenize`` then yields as ``ERRORTOKEN`` (``choice\\ufe0f`` shows as ``choice``
    and is another variable, attack6). A source that ``tokenize`` rejects and CPython compiles
    (``'  \\\\'`` then a blank line after an indented block) is refused: it skipped the check.
    """
    ignored = {tokenize.STRING, tokenize.COMMENT, getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)}
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type not in ignored and not token.string.isascii():
                return (f"names {token.string!r} on line {token.start[0]}: identifiers are ASCII in a submission "
                        "(look-alike or invisible letters read as other names than they show)")
    except (tokenize.TokenError, SyntaxError) as error:
        line = error.lineno if isinstance(error, SyntaxError) else error.args[1][0]
        return f"cannot be read by Python's tokenize module (line {line}), so it is not checked"
    return None


def source_problem(source: bytes) -> str | None:
    """Why ``source`` does not show what Python reads, or cannot be read as UTF-8 (a phrase to
    follow the file's name), or ``None``."""
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
    return _display_problem(text) or _identifier_problem(text)


def refuse_hidden_code(directory: Path, where: str) -> None:
    """Refuse a submission folder holding code that its readers do not see (see the module doc).

    Raises:
        LeaderboardError: one line naming the file and what to do instead.
    """
    extensions = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    for folder, subfolders, files in os.walk(directory):  # symbolic links are listed, never followed
        here = Path(folder)
        subfolders.sort()
        for name in sorted(subfolders + files):
            path = here / name
            shown = path.relative_to(directory)
            if path.is_symlink():
                raise LeaderboardError(
                    f"{where}: {shown} is a symbolic link; a submission ships plain files (what a link shows is "
                    "not what it holds)"
                )
            if name.endswith(extensions):
                raise LeaderboardError(
                    f"{where}: {shown} is a compiled extension module, code no reader can check; a submission "
                    "ships Python sources (native code comes from the installed package it declares)"
                )
            if name.endswith(".py") and name[:-3] in subfolders:
                raise LeaderboardError(
                    f"{where}: {shown} stands beside a folder {name[:-3]}/ of the same name, which Python imports "
                    "instead; rename one of them"
                )
            if name.endswith(".py") and name in files:
                problem = source_problem(path.read_bytes())
                if problem is not None:
                    raise LeaderboardError(f"{where}: {shown} {problem}")
