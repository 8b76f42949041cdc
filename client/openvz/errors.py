"""Errors of the client library: one class per thing a caller can act on,
each carrying the daemon's message and the gRPC status code.

A failed call and a failed job map the same way: a job's error kind goes
through the daemon's kind -> status table (openvzd/api/errors.py), then the
status picks the class, so `except openvz.WrongState` catches both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc

# The classes live where the local exec channel can raise them without grpc.
from openvz.error_classes import (
    ERROR_BY_STATUS_NAME,
    START_HINT,
    TLS_FAILURE_SIGNS,
    AlreadyExists,
    AuthenticationFailed,
    Busy,
    Cancelled,
    Error,
    InternalError,
    InvalidArgument,
    NotFound,
    NotSupported,
    PermissionDenied,
    Timeout,
    Unavailable,
    WrongState,
    unreachable_message,
)

if TYPE_CHECKING:
    from openvz.v1 import common_pb2

__all__ = [
    "ERROR_BY_CODE",
    "START_HINT",
    "STATUS_BY_JOB_ERROR_KIND",
    "TLS_FAILURE_SIGNS",
    "AlreadyExists",
    "AuthenticationFailed",
    "Busy",
    "Cancelled",
    "Error",
    "InternalError",
    "InvalidArgument",
    "NotFound",
    "NotSupported",
    "PermissionDenied",
    "Timeout",
    "Unavailable",
    "WrongState",
    "error_for_code",
    "from_rpc_error",
    "job_error",
    "unreachable_message",
]

ERROR_BY_CODE: dict[grpc.StatusCode, type[Error]] = {
    code: ERROR_BY_STATUS_NAME[code.name] for code in grpc.StatusCode if code.name != "OK"
}

# The daemon's ErrorKind -> status table, by the kinds' wire names.
STATUS_BY_JOB_ERROR_KIND: dict[str, grpc.StatusCode] = {
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


def error_for_code(code: grpc.StatusCode, message: str, job_id: str = "") -> Error:
    return ERROR_BY_CODE.get(code, Error)(message, code, job_id)


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
        message = unreachable_message(target, message)
    return error_for_code(code, message, job_id)


def job_error(job: common_pb2.Job) -> Error:
    """The Error a failed, cancelled or interrupted job raises."""
    from openvz.v1 import common_pb2

    kind = common_pb2.ErrorKind.Name(job.error.kind).removeprefix("ERROR_KIND_")
    if job.state == common_pb2.JOB_STATE_CANCELLED:
        code = grpc.StatusCode.CANCELLED
    elif job.state == common_pb2.JOB_STATE_INTERRUPTED and kind == "UNSPECIFIED":
        code = grpc.StatusCode.ABORTED
    else:
        code = STATUS_BY_JOB_ERROR_KIND.get(kind, grpc.StatusCode.UNKNOWN)
    message = job.error.message or f"job {job.id} ({job.operation}) ended without success"
    return error_for_code(code, message, job.id)
