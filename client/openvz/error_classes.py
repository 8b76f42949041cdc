"""The client's error classes and its words for an unreachable daemon, without grpc:
the local exec channel (openvz.localexec) raises them from a process that must not
pay for importing grpc. openvz.errors maps gRPC statuses onto them.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # not typing's, which the fast path does not import
if TYPE_CHECKING:
    import grpc


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


# Each gRPC status, by its name, to its class (OK is no error).
ERROR_BY_STATUS_NAME: dict[str, type[Error]] = {
    "CANCELLED": Cancelled,
    "UNKNOWN": InternalError,
    "INVALID_ARGUMENT": InvalidArgument,
    "DEADLINE_EXCEEDED": Timeout,
    "NOT_FOUND": NotFound,
    "ALREADY_EXISTS": AlreadyExists,
    "PERMISSION_DENIED": PermissionDenied,
    "RESOURCE_EXHAUSTED": Busy,
    "FAILED_PRECONDITION": WrongState,
    "ABORTED": Busy,
    "OUT_OF_RANGE": InvalidArgument,
    "UNIMPLEMENTED": NotSupported,
    "INTERNAL": InternalError,
    "UNAVAILABLE": Unavailable,
    "DATA_LOSS": InternalError,
    "UNAUTHENTICATED": AuthenticationFailed,
}

START_HINT = (
    "Start it with `systemctl start openvzd`, "
    "or try it on a simulated host with `openvzd --simulate DIR`"
)


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
