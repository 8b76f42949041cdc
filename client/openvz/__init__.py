"""openvz: the client library of openvzd.

import openvz
with openvz.open("openvz:///system") as conn:
    for dom in conn.list_all_domains():
        print(dom.name(), dom.state())
"""

from openvz.connection import Connection, Domain, Job, open, open_read_only
from openvz.errors import (
    AlreadyExists,
    AuthenticationFailed,
    Busy,
    Cancelled,
    Error,
    InvalidArgument,
    NotFound,
    NotSupported,
    PermissionDenied,
    Timeout,
    Unavailable,
    WrongState,
)

__all__ = [
    "AlreadyExists",
    "AuthenticationFailed",
    "Busy",
    "Cancelled",
    "Connection",
    "Domain",
    "Error",
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
