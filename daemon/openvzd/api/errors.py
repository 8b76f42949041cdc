"""The one table from error kinds to gRPC status codes.

Every failure the daemon reports, whether a tool's exit code or a refused
request, reaches the client through this table, with the message that says
what to do. INTERNAL is reserved for faults of the daemon itself; a tool that
fails in a way we cannot classify is UNKNOWN, with the tool's own words.
"""

from __future__ import annotations

from typing import Any, NoReturn

import grpc
from openvz.v1 import common_pb2

STATUS_BY_KIND: dict[str, grpc.StatusCode] = {
    "NOT_FOUND": grpc.StatusCode.NOT_FOUND,
    "WRONG_STATE": grpc.StatusCode.FAILED_PRECONDITION,
    "ALREADY_EXISTS": grpc.StatusCode.ALREADY_EXISTS,
    "BUSY": grpc.StatusCode.ABORTED,
    "BAD_ARGUMENT": grpc.StatusCode.INVALID_ARGUMENT,
    "RESOURCE_EXHAUSTED": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "TOOL_MISSING": grpc.StatusCode.FAILED_PRECONDITION,
    "TIMED_OUT": grpc.StatusCode.DEADLINE_EXCEEDED,
    "INTERNAL": grpc.StatusCode.UNKNOWN,
    "CANCELLED": grpc.StatusCode.CANCELLED,
    "INTERRUPTED": grpc.StatusCode.ABORTED,
    "NOT_SUPPORTED": grpc.StatusCode.UNIMPLEMENTED,
}


def kind_name(kind: object) -> str:
    """An error kind given as an enum member or a string, as its name."""
    name = getattr(kind, "name", kind)
    return str(name)


def status_for(kind: object) -> grpc.StatusCode:
    return STATUS_BY_KIND.get(kind_name(kind), grpc.StatusCode.UNKNOWN)


def proto_kind(kind: object) -> int:
    """The wire ErrorKind of an error kind; UNSPECIFIED for one the wire does not know."""
    try:
        return int(common_pb2.ErrorKind.Value(f"ERROR_KIND_{kind_name(kind)}"))
    except ValueError:
        return common_pb2.ERROR_KIND_UNSPECIFIED


class ApiError(Exception):
    """A refusal the servicer answers with a status: raise it anywhere below a handler."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


async def abort(
    context: grpc.aio.ServicerContext[Any, Any], kind: object, message: str
) -> NoReturn:
    await context.abort(status_for(kind), message)
    raise AssertionError("unreachable: context.abort raises")  # pragma: no cover
