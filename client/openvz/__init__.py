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
