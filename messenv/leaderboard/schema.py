"""Validation shared by the leaderboard's three files: protocol.yaml, submission.yaml, results.json.

Every file is parsed into a pydantic model that forbids unknown keys, so a typo (``paramz:``) or a
tampered field is an error that names the file and the field path (``runs.3.mean_quality: Input
should be a valid number``), never a silently ignored value.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

Model = TypeVar("Model", bound=BaseModel)
RESULTS_FILE = "results.json"
"""A submission's results, beside its submission.yaml."""


class LeaderboardError(ValueError):
    """A leaderboard file is missing or malformed, or a track cannot be evaluated (the file or field is named)."""


def _printable_line(text: str) -> str:
    """``text`` if it is one non-empty line of printable characters (no control, bidi override or
    line separator characters, which reorder or break a board row); else a ValueError naming the first."""
    if not (text and text.isprintable()):
        found = next((f"U+{ord(c):04X}" for c in text if not c.isprintable()), "an empty string")
        raise ValueError(f"must be one line of printable characters (found {found})")
    return text


def printable(text: str) -> str:
    """``text`` with each character that is not printable (:meth:`str.isprintable`: a line break, a
    control, a bidirectional override) shown as ``?``: text an agent chose, safe to print on one line."""
    return "".join(character if character.isprintable() else "?" for character in text)


PrintableLine = Annotated[str, AfterValidator(_printable_line)]
"""A non-empty line of printable characters (:meth:`str.isprintable`), for text the board shows in
one cell: no control character, line or paragraph separator (U+2028, U+0085), bidirectional
override (U+202E reverses the text after it) or other invisible format character that would make
a cell read otherwise than it is written."""


class StrictModel(BaseModel):
    """A frozen model that rejects unknown keys and does not coerce between types."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


MAX_DESCRIBED_ERRORS = 20
"""The most problems :func:`describe` lists; the rest are counted. A hostile 16 MiB file can hold
a million invalid fields, whose full description ran to 79 MB of output."""


def describe(error: ValidationError, where: str) -> str:
    """One line per problem (``where: field.path: message``), at most :data:`MAX_DESCRIBED_ERRORS`
    of them and then how many more there are."""
    lines = []
    for problem in error.errors(include_url=False, include_input=False)[:MAX_DESCRIBED_ERRORS]:
        field = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        lines.append(f"{where}: {field}: {problem['msg']}")
    if error.error_count() > MAX_DESCRIBED_ERRORS:
        lines.append(f"{where}: ... and {error.error_count() - MAX_DESCRIBED_ERRORS} more problems")
    return "\n".join(lines)


def parse(model: type[Model], data: Any, where: str) -> Model:
    """``data`` validated as ``model``; a :class:`LeaderboardError` naming ``where`` otherwise."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise LeaderboardError(describe(error, where)) from error


MAX_FILE_BYTES = 16 << 20
"""The largest protocol.yaml, submission.yaml, results.json or agent source file read (the
committed board's largest results.json is about 150 kB)."""


def read_bytes(path: Path, missing: str = "no such file", follow_links: bool = False) -> bytes:
    """The bytes of the regular file ``path``, at most :data:`MAX_FILE_BYTES`; a
    :class:`LeaderboardError` naming ``path`` if it does not exist, is too large, is not a regular
    file (``/dev/zero``, a FIFO) or, unless ``follow_links``, is a symbolic link: a submission's
    link could make the evaluator read any file of the host."""
    flags = os.O_RDONLY | (0 if follow_links else os.O_NOFOLLOW) | os.O_NONBLOCK
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError as error:
        raise LeaderboardError(f"{path}: {missing}") from error
    except OSError as error:  # ELOOP: O_NOFOLLOW met a link
        raise LeaderboardError(f"{path}: cannot be read ({error.strerror}); a submitted file must be a regular file, "
                               "not a symbolic link") from error
    with os.fdopen(descriptor, "rb") as file:
        status = os.fstat(file.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise LeaderboardError(f"{path}: not a regular file")
        data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise LeaderboardError(f"{path}: larger than {MAX_FILE_BYTES >> 20} MiB")
    return data


def read_text(path: Path, missing: str = "no such file", follow_links: bool = False) -> str:
    """The UTF-8 text of ``path`` (see :func:`read_bytes`)."""
    try:
        return read_bytes(path, missing, follow_links).decode("utf-8")
    except UnicodeDecodeError as error:
        raise LeaderboardError(f"{path}: not UTF-8 text (byte {error.start})") from error


class _NoAliasLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing aliases: nested aliases of aliases (a "billion laughs" file of
    600 bytes) are shared by the parser but expanded by validation into gigabytes."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed", mark)
        return super().compose_node(parent, index)


def read_yaml(path: Path, follow_links: bool = False) -> Any:
    """The parsed YAML document at ``path`` (see :func:`read_bytes`; no aliases), or a
    :class:`LeaderboardError` naming the file."""
    text = read_text(path, follow_links=follow_links)
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise LeaderboardError(f"{path}: not valid YAML ({error})") from error
    except RecursionError:
        raise LeaderboardError(f"{path}: nested too deeply to read") from None
