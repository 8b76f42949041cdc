"""Errors of the client library: one class per thing a caller can act on,
each carrying the daemon's message and the gRPC status code.

A failed call and a failed job map the same way: a job's error kind goes
through the daemon's kind -> status table (openvzd/api/errors.py), then the
status picks the class, so `except openvz.WrongState` catches both.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import grpc

if TYPE_CHECKING:
    from openvz.v1 import common_pb2


class Error(Exception):
    """Base of every openvz error: the daemon's message, its gRPC status code,
    and the job's ID when a job failed."""

    def __init__(self, message: str, code: grpc.StatusCode | None = None, job_id: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.job_id = job_id


class NotFound(Error):
    """NOT_FOUND: no such container, job or file."""


class InvalidArgument(Error):
    """INVALID_ARGUMENT or OUT_OF_RANGE: the request itself is wrong; the message says what."""


class PermissionDenied(Error):
    """PERMISSION_DENIED: a read-only connection, or an identity without write access."""


class AlreadyExists(Error):
    """ALREADY_EXISTS: a container with that ID, name or UUID is there already."""


class WrongState(Error):
    """FAILED_PRECONDITION: the container (or host) is not in a state that allows it."""


class Busy(Error):
    """ABORTED or RESOURCE_EXHAUSTED: locked, queue full or interrupted; try again later."""


class Timeout(Error):
    """DEADLINE_EXCEEDED: the call or the job took longer than allowed."""


class Unavailable(Error):
    """UNAVAILABLE: the daemon cannot be reached."""


class AuthenticationFailed(Error):
    """UNAUTHENTICATED: the daemon (or its transport) refused who we are."""


class NotSupported(Error):
    """UNIMPLEMENTED: the daemon or this host does not do that."""


class Cancelled(Error):
    """CANCELLED: the call or the job was cancelled."""


class InternalError(Error):
    """INTERNAL, UNKNOWN or DATA_LOSS: a fault of the daemon, or a tool failure it
    could not classify (the message carries the tool's own words)."""


ERROR_BY_CODE: dict[grpc.StatusCode, type[Error]] = {
    grpc.StatusCode.CANCELLED: Cancelled,
    grpc.StatusCode.UNKNOWN: InternalError,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.DEADLINE_EXCEEDED: Timeout,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.RESOURCE_EXHAUSTED: Busy,
    grpc.StatusCode.FAILED_PRECONDITION: WrongState,
    grpc.StatusCode.ABORTED: Busy,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgument,
    grpc.StatusCode.UNIMPLEMENTED: NotSupported,
    grpc.StatusCode.INTERNAL: InternalError,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DATA_LOSS: InternalError,
    grpc.StatusCode.UNAUTHENTICATED: AuthenticationFailed,
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

START_HINT = (
    "Start it with `systemctl start openvzd`, "
    "or try it on a simulated host with `openvzd --simulate DIR`"
)


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


# What grpc's details say when the peer answered but the TLS handshake failed.
TLS_FAILURE_SIGNS = ("ssl", "tls", "handshake", "certificate")


def unreachable_message(target: str, detail: str) -> str:
    """Why the daemon at target cannot be reached, and what to do about it. The hint to
    start openvzd is given only when nothing listens; when something answered and then
    refused (its client limit, a TLS failure), the message says that instead."""
    lowered = detail.lower()
    path = target.removeprefix("unix:") if target.startswith("unix:") else ""
    if not path:
        if any(sign in lowered for sign in TLS_FAILURE_SIGNS):
            return (
                f"the TLS handshake with openvzd at {target} failed: {detail}. Check that this "
                "client trusts the daemon's CA, that the daemon's certificate names the host "
                "you connect to, and that your client certificate is signed by the CA the "
                "daemon trusts (docs/remote.md)"
            )
        if "refused" in lowered:
            return (
                f"cannot reach openvzd at {target}: nothing listens there ({detail}). Is the "
                "daemon's remote listener enabled in /etc/openvzd/openvzd.toml, and the port "
                "open in the firewall?"
            )
        return f"cannot reach openvzd at {target}: {detail}"
    if not os.path.exists(path):
        return (
            f"cannot reach openvzd: there is no socket {path} (is openvzd running?). {START_HINT}"
        )
    if not os.access(path, os.R_OK | os.W_OK):
        return (
            f"cannot reach openvzd at {path}: permission denied. The read-write socket is "
            "root's; run as root, or connect read-only with -r (openvz:///system?readonly)"
        )
    if "refused" in lowered:
        return (
            f"cannot reach openvzd: nothing listens on {path} (left by an openvzd that "
            f"stopped?). {START_HINT}"
        )
    return (
        f"openvzd is running at {path} but closed the connection: {detail}. It may be at its "
        "limit of clients ([limits] max_clients) or stopping; try again in a moment, and "
        "see its log (journalctl -u openvzd) for why"
    )


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
