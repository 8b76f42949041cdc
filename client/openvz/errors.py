"""Errors of the client library: one class per thing a caller can act on,
each carrying the daemon's message and the gRPC status code."""

from __future__ import annotations

from typing import Any

import grpc


class Error(Exception):
    """Base of every openvz error."""

    def __init__(self, message: str, code: grpc.StatusCode | None = None, job_id: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.job_id = job_id


class NotFound(Error):
    pass


class InvalidArgument(Error):
    pass


class PermissionDenied(Error):
    pass


class AlreadyExists(Error):
    pass


class WrongState(Error):
    """FAILED_PRECONDITION: the container is not in a state that allows it."""


class Busy(Error):
    pass


class Timeout(Error):
    pass


class Unavailable(Error):
    """The daemon cannot be reached."""


class AuthenticationFailed(Error):
    pass


class NotSupported(Error):
    pass


class Cancelled(Error):
    pass


_BY_CODE: dict[grpc.StatusCode, type[Error]] = {
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: WrongState,
    grpc.StatusCode.ABORTED: Busy,
    grpc.StatusCode.RESOURCE_EXHAUSTED: Busy,
    grpc.StatusCode.DEADLINE_EXCEEDED: Timeout,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.UNAUTHENTICATED: AuthenticationFailed,
    grpc.StatusCode.UNIMPLEMENTED: NotSupported,
    grpc.StatusCode.CANCELLED: Cancelled,
}


def from_rpc_error(err: grpc.RpcError, target: str = "") -> Error:
    """The Error for a failed call; UNAVAILABLE names the socket and how to start the daemon."""
    call: Any = err  # a failed call's error is also its grpc.Call
    code: grpc.StatusCode = call.code()
    message: str = call.details() or code.name
    job_id = ""
    for key, value in call.trailing_metadata() or ():
        if key == "openvz-job-id":
            job_id = str(value)
    if code is grpc.StatusCode.UNAVAILABLE and target:
        message = (
            f"cannot reach openvzd at {target}: {message}. Start it with "
            "`systemctl start openvzd`, or try it on a simulated host with `openvzd --simulate DIR`"
        )
    return _BY_CODE.get(code, Error)(message, code, job_id)
