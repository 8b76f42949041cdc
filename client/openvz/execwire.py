"""The local exec channel's wire: what `ovzsh exec` and openvzd say to each other on
a local unix socket when the exec does not go through gRPC (docs/sessions.md).

A connection starts with PREAMBLE, and the daemon answers PREAMBLE too: anything
the client reads before it is the gRPC server's greeting (HTTP/2 SETTINGS, sent
before the daemon saw the client's preamble), at most MAX_GREETING bytes, skipped.
Then frames both ways, each
[1-byte type][4-byte big-endian length][payload], the payload at most MAX_PAYLOAD.
This module imports only the standard library's cheapest parts: the client's fast
path must not pay for grpc or protobuf.
"""

from __future__ import annotations

import struct

PREAMBLE = b"OPENVZD-EXEC/1\n"
HEADER = struct.Struct(">cI")
# The gRPC path's frames are as big; a command line is at most 128 KiB.
MAX_PAYLOAD = 256 * 1024
MAX_GREETING = 4096

# client -> daemon
REQUEST = b"R"  # JSON: domain, argv, env, cwd, tty, rows, columns; the first frame only
STDIN = b"I"  # bytes for the command's stdin
STDIN_EOF = b"E"  # empty: the command's stdin is over
RESIZE = b"W"  # two 4-byte big-endian numbers: rows, columns
SIGNAL = b"S"  # one 4-byte big-endian signal number
# daemon -> client
STARTED = b"s"  # empty: the command runs; or ERROR instead
STDOUT = b"o"
STDERR = b"e"
EXIT = b"x"  # JSON: {"status": int, "reason": str}, the last frame
ERROR = b"!"  # JSON: {"status": gRPC status name, "message": str}, the last frame

REQUEST_KEYS = frozenset({"domain", "argv", "env", "cwd", "tty", "rows", "columns"})
PAIR = struct.Struct(">II")
NUMBER = struct.Struct(">I")


def frame(kind: bytes, payload: bytes = b"") -> bytes:
    return HEADER.pack(kind, len(payload)) + payload
