"""The one error type of the daemon, with the kinds a client can act on.

OpenvzError is raised wherever a request is refused or a tool fails, from vz/
up to the core; each front-end maps its kind to a wire status in one place
(api/errors.py for gRPC). The kinds are exactly the names of common.proto's
ErrorKind (a test checks both ways). It lives in vz/, the lowest layer, so vz/
imports nothing above it.

vzctl's exit codes are the only contract worth relying on (openvz-tools.md §11.1): the
messages vary between versions. Each code maps to a kind; the tool's own message
travels with it so the person reading it learns what vzctl said.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence


class ErrorKind(enum.Enum):
    NOT_FOUND = "not found"
    WRONG_STATE = "wrong state"
    ALREADY_EXISTS = "already exists"
    BUSY = "busy"
    BAD_ARGUMENT = "bad argument"
    RESOURCE_EXHAUSTED = "resource exhausted"
    TOOL_MISSING = "tool missing"
    TIMED_OUT = "timed out"
    INTERNAL = "internal"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    NOT_SUPPORTED = "not supported"


class OpenvzError(Exception):
    """A failed or refused operation, with the kind that says what to do.

    `message` is shown to the caller as it is: whoever raises it makes sure it
    holds no secret (the runner puts the argv in redacted)."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        tool: str = "",
        argv: Sequence[str] = (),
        exit_code: int = 0,
        stderr: str = "",
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.tool = tool
        self.argv = tuple(argv)
        self.exit_code = exit_code
        self.stderr = stderr


# The name vz/ has always used; both name the one type.
VzError = OpenvzError


def bad_argument(message: str) -> OpenvzError:
    return OpenvzError(ErrorKind.BAD_ARGUMENT, message)


# Legacy vzctl exit codes (include/vzerror.h, openvz-tools.md §1.8) by the kind they mean.
_VZCTL_KINDS: dict[int, ErrorKind] = {
    5: ErrorKind.TOOL_MISSING,  # not an OpenVZ kernel: the host must change
    9: ErrorKind.BUSY,  # container locked
    10: ErrorKind.NOT_FOUND,  # global config missing
    14: ErrorKind.NOT_FOUND,  # container config missing
    20: ErrorKind.BAD_ARGUMENT,  # invalid command line
    21: ErrorKind.BAD_ARGUMENT,  # invalid parameter value
    22: ErrorKind.BAD_ARGUMENT,
    27: ErrorKind.BAD_ARGUMENT,
    29: ErrorKind.BAD_ARGUMENT,  # no OS template given
    31: ErrorKind.WRONG_STATE,  # not running
    32: ErrorKind.WRONG_STATE,  # running
    33: ErrorKind.TIMED_OUT,  # stop timed out
    40: ErrorKind.WRONG_STATE,  # not mounted
    41: ErrorKind.WRONG_STATE,  # mounted
    43: ErrorKind.NOT_FOUND,  # private area missing
    44: ErrorKind.ALREADY_EXISTS,  # private area exists
    46: ErrorKind.RESOURCE_EXHAUSTED,  # not enough disk space
    47: ErrorKind.NOT_FOUND,  # /sbin/init missing
    60: ErrorKind.WRONG_STATE,
    61: ErrorKind.WRONG_STATE,
    66: ErrorKind.WRONG_STATE,
    78: ErrorKind.ALREADY_EXISTS,  # IP address in use
    82: ErrorKind.NOT_FOUND,  # config sample missing (or --config on an existing CT)
    91: ErrorKind.NOT_FOUND,  # OS template not found
    105: ErrorKind.WRONG_STATE,  # start disabled
    129: ErrorKind.BAD_ARGUMENT,
    130: ErrorKind.NOT_FOUND,  # veth/bridge set-up failed (missing bridge)
    131: ErrorKind.ALREADY_EXISTS,  # name in use
}

# vzmigrate's own codes (openvz-tools.md §8).
_VZMIGRATE_KINDS: dict[int, ErrorKind] = {
    1: ErrorKind.BAD_ARGUMENT,
    2: ErrorKind.WRONG_STATE,
    4: ErrorKind.ALREADY_EXISTS,
    9: ErrorKind.BUSY,
    10: ErrorKind.NOT_FOUND,
    12: ErrorKind.NOT_FOUND,
    14: ErrorKind.NOT_FOUND,
    20: ErrorKind.BUSY,
}


def kind_for_exit(tool: str, exit_code: int) -> ErrorKind:
    table = _VZMIGRATE_KINDS if tool == "vzmigrate" else _VZCTL_KINDS
    return table.get(exit_code, ErrorKind.INTERNAL)
