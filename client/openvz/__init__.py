"""openvz: the client library of openvzd, a Pythonic one of its own.

import openvz
with openvz.open("openvz:///system") as conn:
    for dom in conn.list_all_domains():
        print(dom.name(), dom.state())

openvz.aio is the same over asyncio. This is not libvirt-python: it has none of
its names (lookupByName, VIR_* constants, libvirtError). Scripts written for
libvirt-python should use libvirt-python itself, which reaches openvzd over
libvirt's own protocol.
"""

from __future__ import annotations

# Not typing's: importing typing would cost ovzsh exec's fast path ~2 ms (mypy and
# ruff read any TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from openvz.connection import (
        LIST_ACTIVE,
        LIST_AUTOSTART,
        LIST_INACTIVE,
        LIST_MANAGEDSAVE,
        LIST_NO_AUTOSTART,
        LIST_NO_MANAGEDSAVE,
        LIST_OTHER,
        LIST_PAUSED,
        LIST_PERSISTENT,
        LIST_RUNNING,
        LIST_SHUTOFF,
        LIST_TRANSIENT,
        Connection,
        Domain,
        Job,
        open,
        open_read_only,
    )
    from openvz.errors import (
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
    )

# The library's names are imported when first used (PEP 562): `ovzsh exec` on the
# local socket imports openvz's light modules and must not pay for grpc here.
_HOME = {
    "LIST_ACTIVE": "openvz.connection",
    "LIST_AUTOSTART": "openvz.connection",
    "LIST_INACTIVE": "openvz.connection",
    "LIST_MANAGEDSAVE": "openvz.connection",
    "LIST_NO_AUTOSTART": "openvz.connection",
    "LIST_NO_MANAGEDSAVE": "openvz.connection",
    "LIST_OTHER": "openvz.connection",
    "LIST_PAUSED": "openvz.connection",
    "LIST_PERSISTENT": "openvz.connection",
    "LIST_RUNNING": "openvz.connection",
    "LIST_SHUTOFF": "openvz.connection",
    "LIST_TRANSIENT": "openvz.connection",
    "Connection": "openvz.connection",
    "Domain": "openvz.connection",
    "Job": "openvz.connection",
    "open": "openvz.connection",
    "open_read_only": "openvz.connection",
    "AlreadyExists": "openvz.errors",
    "AuthenticationFailed": "openvz.errors",
    "Busy": "openvz.errors",
    "Cancelled": "openvz.errors",
    "Error": "openvz.errors",
    "InternalError": "openvz.errors",
    "InvalidArgument": "openvz.errors",
    "NotFound": "openvz.errors",
    "NotSupported": "openvz.errors",
    "PermissionDenied": "openvz.errors",
    "Timeout": "openvz.errors",
    "Unavailable": "openvz.errors",
    "WrongState": "openvz.errors",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'openvz' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


# The client library's version (the distribution's, kept in step with openvzd's).
__version__ = "0.1.0"

__all__ = [
    "LIST_ACTIVE",
    "LIST_AUTOSTART",
    "LIST_INACTIVE",
    "LIST_MANAGEDSAVE",
    "LIST_NO_AUTOSTART",
    "LIST_NO_MANAGEDSAVE",
    "LIST_OTHER",
    "LIST_PAUSED",
    "LIST_PERSISTENT",
    "LIST_RUNNING",
    "LIST_SHUTOFF",
    "LIST_TRANSIENT",
    "AlreadyExists",
    "AuthenticationFailed",
    "Busy",
    "Cancelled",
    "Connection",
    "Domain",
    "Error",
    "InternalError",
    "InvalidArgument",
    "Job",
    "NotFound",
    "NotSupported",
    "PermissionDenied",
    "Timeout",
    "Unavailable",
    "WrongState",
    "open",
    "open_read_only",
]
