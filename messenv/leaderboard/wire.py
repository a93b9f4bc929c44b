"""The pipe between the evaluator and an agent's worker process: length-prefixed frames.

Direction matters, because only one side is trusted:

* evaluator → worker: a pickled tuple ``(op, *args)``. The evaluator is the trusted side, so the
  worker may unpickle what it receives, and the agent gets exactly the Python objects
  (``TaskSpec``, numpy arrays, tuples) the in-process harness handed it.
* worker → evaluator: a small JSON object, read with a size cap and a deadline and validated key by
  key (:func:`parse_reply`). The evaluator never unpickles anything the worker sends: the worker
  runs the submission's code, so every byte from it is hostile.
"""

from __future__ import annotations

import json
import os
import pickle
import select
import struct
import time
from dataclasses import dataclass
from typing import Any, BinaryIO

LENGTH = struct.Struct("!I")
MAX_REPLY_BYTES = 4096
"""A reply is an action, an error text or a handshake: anything longer is malformed."""
MAX_TEXT = 500
REPLY_KINDS = ("ready", "action", "ok", "error")


class WireError(Exception):
    """The worker broke the pipe protocol: it closed the pipe, sent a malformed or oversized reply."""


class WireTimeout(Exception):
    """No complete reply arrived before the deadline."""


@dataclass(frozen=True)
class Reply:
    """One validated reply: ``kind`` in :data:`REPLY_KINDS`; ``action`` for ``"action"``, ``text`` for
    ``"error"`` (the agent's exception) and ``"ready"`` (the agent's name)."""

    kind: str
    action: int | None = None
    text: str | None = None


def encode_message(op: str, *args: Any) -> bytes:
    """One evaluator → worker frame."""
    payload = pickle.dumps((op, *args), protocol=pickle.HIGHEST_PROTOCOL)
    return LENGTH.pack(len(payload)) + payload


def encode_reply(kind: str, value: Any = None) -> bytes:
    """One worker → evaluator frame: ``{"<kind>": value}`` as JSON."""
    payload = json.dumps({kind: value}).encode()
    return LENGTH.pack(len(payload)) + payload


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd`` (a pipe may accept a frame in pieces)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def write_before(fd: int, data: bytes, deadline: float) -> None:
    """Write every byte of ``data`` to the non-blocking ``fd`` (evaluator side), never waiting past
    ``deadline``: a worker that stops reading cannot block the evaluator.

    Raises:
        WireTimeout: the pipe stayed full until the deadline.
        WireError: the worker closed its end.
    """
    view = memoryview(data)
    poller = None
    while view:
        try:
            view = view[os.write(fd, view):]
            continue
        except BlockingIOError:
            pass
        except BrokenPipeError:
            raise WireError("closed the pipe") from None
        if poller is None:
            poller = select.poll()
            poller.register(fd, select.POLLOUT)
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not poller.poll(remaining * 1000.0):
            raise WireTimeout()


def read_message(stream: BinaryIO) -> tuple:
    """The next evaluator → worker message (worker side; ``EOFError`` when the evaluator closed the pipe)."""
    header = stream.read(LENGTH.size)
    if len(header) < LENGTH.size:
        raise EOFError("the evaluator closed the pipe")
    (size,) = LENGTH.unpack(header)
    return pickle.loads(stream.read(size))


def parse_reply(payload: bytes) -> Reply:
    """Validate one reply: a JSON object with exactly one known key and a value of that key's type.

    Raises:
        WireError: anything else, described briefly (never echoing more than a few bytes).
    """
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise WireError(f"sent a malformed reply (not JSON: {error})") from None
    if not isinstance(data, dict) or len(data) != 1 or next(iter(data)) not in REPLY_KINDS:
        raise WireError(f"sent a malformed reply (expected one of {list(REPLY_KINDS)} as its only key)")
    kind, value = next(iter(data.items()))
    if kind == "action":
        if type(value) is not int:
            raise WireError(f"sent a malformed reply (an action of JSON type {type(value).__name__}, not an integer)")
        return Reply(kind, action=value)
    if kind in ("error", "ready"):
        if not isinstance(value, str):
            raise WireError(f"sent a malformed reply ({kind} is not a string)")
        return Reply(kind, text=value[:MAX_TEXT])
    if value is not None:
        raise WireError("sent a malformed reply (ok carries no value)")
    return Reply(kind)


class ReplyReader:
    """Reads the worker's replies on the evaluator side, never waiting past a deadline."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        os.set_blocking(fd, False)
        self.buffer = bytearray()
        self.poller = select.poll()
        self.poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)

    def _fill(self, needed: int, deadline: float) -> None:
        while len(self.buffer) < needed:
            try:
                chunk = os.read(self.fd, 65536)  # often ready already: the worker shares our CPU
            except BlockingIOError:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self.poller.poll(remaining * 1000.0):
                    raise WireTimeout() from None
                continue
            if not chunk:
                raise WireError("closed the pipe")
            self.buffer += chunk

    def read(self, deadline: float) -> Reply:
        """The next reply, validated (see :func:`parse_reply`).

        Raises:
            WireTimeout: the deadline (a ``time.monotonic()`` value) passed first.
            WireError: the pipe closed, or the reply is oversized or malformed.
        """
        self._fill(LENGTH.size, deadline)
        (size,) = LENGTH.unpack(self.buffer[: LENGTH.size])
        if size > MAX_REPLY_BYTES:
            raise WireError(f"sent an oversized reply ({size} bytes; at most {MAX_REPLY_BYTES})")
        self._fill(LENGTH.size + size, deadline)
        payload = bytes(self.buffer[LENGTH.size: LENGTH.size + size])
        del self.buffer[: LENGTH.size + size]
        return parse_reply(payload)
