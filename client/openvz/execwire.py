"""The local exec channel's wire: what `ovzsh exec` and openvzd say to each other on
a local unix socket when the exec does not go through gRPC (docs/sessions.md).

A connection starts with PREAMBLE, and the daemon answers PREAMBLE too: anything
the client reads before it is the gRPC server's greeting (HTTP/2 SETTINGS, sent
before the daemon saw the client's preamble), at most MAX_GREETING bytes, skipped.
Then frames both ways, each
[1-byte type][4-byte big-endian length][payload], the payload at most MAX_PAYLOAD.

The payloads are fixed-size numbers and NUL-separated UTF-8 strings, not JSON: a
command line can hold no NUL (execve takes C strings), and the client's fast path
must not pay for importing json (its import costs ~10 ms of the 20 allowed on the
development machine). So this module imports struct and nothing else.
"""

from __future__ import annotations

import struct

PREAMBLE = b"OPENVZD-EXEC/1\n"
HEADER = struct.Struct(">cI")
# The gRPC path's frames are as big; a command line is at most 128 KiB.
MAX_PAYLOAD = 256 * 1024
MAX_GREETING = 4096

# client -> daemon
REQUEST = b"R"  # REQUEST_HEAD, then NUL-ended strings; the first frame only
STDIN = b"I"  # bytes for the command's stdin
STDIN_EOF = b"E"  # empty: the command's stdin is over
RESIZE = b"W"  # PAIR: rows, columns
SIGNAL = b"S"  # NUMBER: a signal number
# daemon -> client
STARTED = b"s"  # empty: the command runs; or ERROR instead
STDOUT = b"o"
STDERR = b"e"
EXIT = b"x"  # STATUS, then the reason (UTF-8, may be empty); the last frame
ERROR = b"!"  # the gRPC status name, NUL, the message (UTF-8); the last frame

# tty (0 or 1), rows, columns (0: 24x80), how many argv words, how many env entries
REQUEST_HEAD = struct.Struct(">BHHII")
PAIR = struct.Struct(">II")
NUMBER = struct.Struct(">I")
STATUS = struct.Struct(">i")


class WireError(ValueError):
    """A payload that is not what its frame type says; the text says what is wrong."""


class ExecRequest:
    """What a REQUEST frame asks for. Its strings hold no NUL (encode refuses one)."""

    __slots__ = ("argv", "columns", "cwd", "domain", "env", "rows", "tty")

    def __init__(
        self,
        domain: str,
        argv: list[str],
        env: dict[str, str],
        cwd: str = "",
        tty: bool = False,
        rows: int = 0,
        columns: int = 0,
    ) -> None:
        self.domain = domain
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.tty = tty
        self.rows = rows
        self.columns = columns

    def encode(self) -> bytes:
        """The REQUEST payload; WireError names a value the wire cannot carry."""
        if not 0 <= self.rows <= 0xFFFF or not 0 <= self.columns <= 0xFFFF:
            raise WireError(f"a terminal of {self.rows}x{self.columns} is out of range")
        for name in self.env:
            if not name or "=" in name:
                raise WireError(f"{name!r} is not an environment variable's name")
        words = [
            self.domain,
            self.cwd,
            *self.argv,
            *(f"{name}={value}" for name, value in self.env.items()),
        ]
        for word in words:
            if "\0" in word:
                raise WireError(f"{word!r} holds a NUL byte, which no command line can")
        try:
            strings = "".join(word + "\0" for word in words).encode()
        except UnicodeEncodeError as err:
            raise WireError(f"{err.object!r} is not valid UTF-8 text") from None
        head = REQUEST_HEAD.pack(self.tty, self.rows, self.columns, len(self.argv), len(self.env))
        return head + strings

    @classmethod
    def decode(cls, payload: bytes) -> ExecRequest:
        """A REQUEST payload read back; WireError says what is wrong with it."""
        if len(payload) < REQUEST_HEAD.size:
            raise WireError(f"the request is {len(payload)} bytes, shorter than its head")
        tty, rows, columns, argc, envc = REQUEST_HEAD.unpack_from(payload)
        if tty > 1:
            raise WireError(f"tty must be 0 or 1, not {tty}")
        body = payload[REQUEST_HEAD.size :]
        if not body.endswith(b"\0"):
            raise WireError("the request's strings must each end with a NUL byte")
        try:
            words = body[:-1].decode().split("\0")
        except UnicodeDecodeError as err:
            raise WireError(f"the request is not UTF-8 ({err})") from None
        if len(words) != 2 + argc + envc:
            raise WireError(
                f"the request holds {len(words)} strings; its head says "
                f"2 + {argc} argv words + {envc} environment entries"
            )
        env = {}
        for entry in words[2 + argc :]:
            name, equals, value = entry.partition("=")
            if not name or not equals:
                raise WireError(f"environment entry {entry!r} is not NAME=VALUE")
            env[name] = value
        return cls(words[0], words[2 : 2 + argc], env, words[1], bool(tty), rows, columns)


def frame(kind: bytes, payload: bytes = b"") -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


def exit_payload(status: int, reason: str) -> bytes:
    return STATUS.pack(status) + reason.encode()


def exit_of(payload: bytes) -> tuple[int, str]:
    """An EXIT payload's status and reason."""
    if len(payload) < STATUS.size:
        raise WireError(f"an exit frame of {len(payload)} bytes, shorter than its status")
    return STATUS.unpack_from(payload)[0], payload[STATUS.size :].decode(errors="replace")


def error_payload(status_name: str, message: str) -> bytes:
    return f"{status_name}\0{message}".encode()


def error_of(payload: bytes) -> tuple[str, str]:
    """An ERROR payload's gRPC status name and message."""
    status_name, _, message = payload.decode(errors="replace").partition("\0")
    return status_name, message
