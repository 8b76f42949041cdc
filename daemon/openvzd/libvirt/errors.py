"""Errors as libvirt clients branch on them, from the core's error kinds in one place.

A LibvirtError becomes a REPLY with status ERROR and a `remote_error` body; the
client raises it as virError with the same code (python's libvirtError,
virsh's "error: ..."). Every failure the core reports is an OpenvzError whose
kind (core/errors.py's ErrorKind, the names of common.proto) says what to do;
the table below is the one place those kinds become libvirt's codes.
"""

from __future__ import annotations

from openvzd.core.errors import ErrorKind, OpenvzError
from openvzd.libvirt.numbers import ErrorCode, ErrorDomain

__all__ = ["LibvirtError", "OpenvzError", "from_kind", "not_supported", "read_only"]

CODE_BY_KIND: dict[ErrorKind, ErrorCode] = {
    ErrorKind.NOT_FOUND: ErrorCode.NO_DOMAIN,
    ErrorKind.WRONG_STATE: ErrorCode.OPERATION_INVALID,
    ErrorKind.ALREADY_EXISTS: ErrorCode.DOM_EXIST,
    ErrorKind.BUSY: ErrorCode.RESOURCE_BUSY,
    ErrorKind.BAD_ARGUMENT: ErrorCode.INVALID_ARG,
    ErrorKind.RESOURCE_EXHAUSTED: ErrorCode.OPERATION_FAILED,
    ErrorKind.TOOL_MISSING: ErrorCode.OPERATION_FAILED,
    ErrorKind.TIMED_OUT: ErrorCode.OPERATION_TIMEOUT,
    ErrorKind.INTERNAL: ErrorCode.INTERNAL_ERROR,
    ErrorKind.NOT_SUPPORTED: ErrorCode.CONFIG_UNSUPPORTED,
    ErrorKind.CANCELLED: ErrorCode.OPERATION_ABORTED,
    ErrorKind.INTERRUPTED: ErrorCode.OPERATION_FAILED,
}


class LibvirtError(Exception):
    def __init__(
        self, code: ErrorCode, message: str, domain: ErrorDomain = ErrorDomain.OPENVZ
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.domain = domain


def from_kind(kind: ErrorKind, message: str, *, making_domain: bool = False) -> LibvirtError:
    """The libvirt error for a core error kind.

    While a define or create runs, "not found" names something the XML refers
    to (an OS template, a config sample), not a missing domain: a client that
    sees NO_DOMAIN there would look for the wrong cause.
    """
    code = CODE_BY_KIND[kind]
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
