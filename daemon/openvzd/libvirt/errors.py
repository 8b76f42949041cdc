"""Errors as libvirt clients branch on them, from the core's error kinds in one place.

A LibvirtError becomes a REPLY with status ERROR and a `remote_error` body; the
client raises it as virError with the same code (python's libvirtError,
virsh's "error: ..."). The kind names are those of the core's errors
(vz/errors.py ErrorKind, and the job records' `error.kind`).
"""

from __future__ import annotations

from openvzd.libvirt.numbers import ErrorCode, ErrorDomain

# The error type the CoreFacade raises, named here once for the whole front-end.
# Today's is vz/errors.py's VzError; the core helper's one error type replaces it.
from openvzd.vz.errors import VzError as CoreError

__all__ = ["CoreError", "LibvirtError", "from_kind", "not_supported", "read_only"]

CODE_BY_KIND = {
    "NOT_FOUND": ErrorCode.NO_DOMAIN,
    "WRONG_STATE": ErrorCode.OPERATION_INVALID,
    "ALREADY_EXISTS": ErrorCode.DOM_EXIST,
    "BUSY": ErrorCode.RESOURCE_BUSY,
    "BAD_ARGUMENT": ErrorCode.INVALID_ARG,
    "RESOURCE_EXHAUSTED": ErrorCode.OPERATION_FAILED,
    "TOOL_MISSING": ErrorCode.OPERATION_FAILED,
    "TIMED_OUT": ErrorCode.OPERATION_TIMEOUT,
    "INTERNAL": ErrorCode.INTERNAL_ERROR,
    "NOT_SUPPORTED": ErrorCode.CONFIG_UNSUPPORTED,
    "PERMISSION_DENIED": ErrorCode.OPERATION_DENIED,
    "CANCELLED": ErrorCode.OPERATION_FAILED,
    "INTERRUPTED": ErrorCode.OPERATION_FAILED,
}


class LibvirtError(Exception):
    def __init__(
        self, code: ErrorCode, message: str, domain: ErrorDomain = ErrorDomain.OPENVZ
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.domain = domain


def from_kind(kind: object, message: str, *, making_domain: bool = False) -> LibvirtError:
    """The libvirt error for a core error kind (an enum member or its name).

    While a define or create runs, "not found" names something the XML refers
    to (an OS template, a config sample), not a missing domain: a client that
    sees NO_DOMAIN there would look for the wrong cause.
    """
    name = str(getattr(kind, "name", kind))
    code = CODE_BY_KIND.get(name, ErrorCode.INTERNAL_ERROR)
    if making_domain and code is ErrorCode.NO_DOMAIN:
        code = ErrorCode.OPERATION_FAILED
    return LibvirtError(code, message)


def unknown_procedure(procedure: int) -> LibvirtError:
    """What libvirtd answers for a procedure it does not know; the client turns it
    into VIR_ERR_NO_SUPPORT and keeps the connection."""
    return LibvirtError(ErrorCode.RPC, f"unknown procedure: {procedure}", ErrorDomain.RPC)


def read_only(procedure: str) -> LibvirtError:
    return LibvirtError(
        ErrorCode.OPERATION_DENIED,
        f"operation forbidden: read only access prevents {procedure}; "
        "connect to the read-write socket without -r (--readonly)",
    )


def not_supported(what: str) -> LibvirtError:
    return LibvirtError(
        ErrorCode.NO_SUPPORT, f"this function is not supported by the connection driver: {what}"
    )
