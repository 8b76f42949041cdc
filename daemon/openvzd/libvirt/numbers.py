"""The numbers of libvirt's protocol that this front-end uses: procedures (from
libvirt's remote_protocol.x, names without the REMOTE_PROC_ prefix), error codes
and domains (virerror.h), domain states and lifecycle events (libvirt-domain.h).

These are part of libvirt's stable ABI; tests/libvirt/test_numbers.py checks the
procedure numbers against a copy of the whole table.
"""

from __future__ import annotations

import enum


class Proc(enum.IntEnum):
    CONNECT_OPEN = 1
    CONNECT_CLOSE = 2
    CONNECT_GET_TYPE = 3
    CONNECT_GET_VERSION = 4
    CONNECT_GET_MAX_VCPUS = 5
    NODE_GET_INFO = 6
    CONNECT_GET_CAPABILITIES = 7
    DOMAIN_CREATE = 9
    DOMAIN_CREATE_XML = 10
    DOMAIN_DEFINE_XML = 11
    DOMAIN_DESTROY = 12
    DOMAIN_GET_XML_DESC = 14
    DOMAIN_GET_AUTOSTART = 15
    DOMAIN_GET_INFO = 16
    DOMAIN_GET_MAX_MEMORY = 17
    DOMAIN_GET_MAX_VCPUS = 18
    DOMAIN_GET_OS_TYPE = 19
    CONNECT_LIST_DEFINED_DOMAINS = 21
    DOMAIN_LOOKUP_BY_ID = 22
    DOMAIN_LOOKUP_BY_NAME = 23
    DOMAIN_LOOKUP_BY_UUID = 24
    CONNECT_NUM_OF_DEFINED_DOMAINS = 25
    DOMAIN_REBOOT = 27
    DOMAIN_RESUME = 28
    DOMAIN_SET_AUTOSTART = 29
    DOMAIN_SET_MAX_MEMORY = 30
    DOMAIN_SET_MEMORY = 31
    DOMAIN_SET_VCPUS = 32
    DOMAIN_SHUTDOWN = 33
    DOMAIN_SUSPEND = 34
    DOMAIN_UNDEFINE = 35
    CONNECT_LIST_DOMAINS = 37
    CONNECT_NUM_OF_DOMAINS = 51
    CONNECT_GET_HOSTNAME = 59
    CONNECT_SUPPORTS_FEATURE = 60
    DOMAIN_INTERFACE_STATS = 65
    AUTH_LIST = 66
    AUTH_SASL_INIT = 67
    AUTH_SASL_START = 68
    AUTH_SASL_STEP = 69
    AUTH_POLKIT = 70
    NODE_GET_FREE_MEMORY = 102
    CONNECT_DOMAIN_EVENT_REGISTER = 105
    CONNECT_DOMAIN_EVENT_DEREGISTER = 106
    DOMAIN_EVENT_LIFECYCLE = 107
    CONNECT_GET_URI = 110
    NODE_GET_SECURITY_MODEL = 122
    CONNECT_IS_SECURE = 149
    DOMAIN_IS_ACTIVE = 150
    DOMAIN_IS_PERSISTENT = 151
    CONNECT_GET_LIB_VERSION = 157
    DOMAIN_MEMORY_STATS = 159
    CONNECT_DOMAIN_EVENT_REGISTER_ANY = 167
    CONNECT_DOMAIN_EVENT_DEREGISTER_ANY = 168
    DOMAIN_HAS_MANAGED_SAVE_IMAGE = 183
    DOMAIN_SNAPSHOT_NUM = 187
    DOMAIN_CREATE_WITH_FLAGS = 196
    DOMAIN_SET_MEMORY_PARAMETERS = 197
    DOMAIN_GET_MEMORY_PARAMETERS = 198
    DOMAIN_SET_VCPUS_FLAGS = 199
    DOMAIN_GET_VCPUS_FLAGS = 200
    DOMAIN_OPEN_CONSOLE = 201
    DOMAIN_IS_UPDATED = 202
    CONNECT_GET_SYSINFO = 203
    DOMAIN_SET_MEMORY_FLAGS = 204
    DOMAIN_GET_STATE = 212
    DOMAIN_UNDEFINE_FLAGS = 231
    DOMAIN_DESTROY_FLAGS = 234
    DOMAIN_SHUTDOWN_FLAGS = 258
    CONNECT_LIST_ALL_DOMAINS = 273
    CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY = 316
    CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY = 317
    DOMAIN_EVENT_CALLBACK_LIFECYCLE = 318
    CONNECT_GET_ALL_DOMAIN_STATS = 344
    DOMAIN_DEFINE_XML_FLAGS = 350
    CONNECT_REGISTER_CLOSE_CALLBACK = 360
    CONNECT_UNREGISTER_CLOSE_CALLBACK = 361


class Feature(enum.IntEnum):
    """virDrvFeature numbers the client asks about with CONNECT_SUPPORTS_FEATURE."""

    PROGRAM_KEEPALIVE = 10
    REMOTE_EVENT_CALLBACK = 14
    REMOTE_CLOSE_CALLBACK = 15


class ErrorCode(enum.IntEnum):
    INTERNAL_ERROR = 1
    NO_SUPPORT = 3
    INVALID_ARG = 8
    OPERATION_FAILED = 9
    XML_ERROR = 27
    DOM_EXIST = 28
    OPERATION_DENIED = 29
    RPC = 39
    NO_DOMAIN = 42
    AUTH_FAILED = 45
    OPERATION_INVALID = 55
    CONFIG_UNSUPPORTED = 67
    OPERATION_TIMEOUT = 68
    OPERATION_ABORTED = 78
    OPERATION_UNSUPPORTED = 84
    RESOURCE_BUSY = 87


class ErrorDomain(enum.IntEnum):
    RPC = 7
    REMOTE = 13
    OPENVZ = 14
    STREAMS = 38


ERROR_LEVEL_ERROR = 2


class DomainState(enum.IntEnum):
    NOSTATE = 0
    RUNNING = 1
    PAUSED = 3
    SHUTOFF = 5


class Event(enum.IntEnum):
    """virDomainEventType, with the detail numbers used below."""

    DEFINED = 0
    UNDEFINED = 1
    STARTED = 2
    SUSPENDED = 3
    RESUMED = 4
    STOPPED = 5


# Each state word of the core (DomainView.state) as libvirt's state, and each
# reason word as that state's reason number (virDomainRunningReason, ...).
STATE_BY_WORD = {
    "running": DomainState.RUNNING,
    "paused": DomainState.PAUSED,
    "stopped": DomainState.SHUTOFF,
    # A mounted CT runs nothing; a suspended (checkpointed) one is saved to disk.
    "mounted": DomainState.SHUTOFF,
    "suspended": DomainState.SHUTOFF,
}
REASON_BY_STATE_AND_WORD = {
    (DomainState.RUNNING, "booted"): 1,
    (DomainState.RUNNING, "unpaused"): 5,
    (DomainState.PAUSED, "user"): 1,
    (DomainState.SHUTOFF, "shutdown"): 1,
    (DomainState.SHUTOFF, "destroyed"): 2,
    (DomainState.SHUTOFF, "migrated"): 4,
    (DomainState.SHUTOFF, "saved"): 5,
}

# The remote protocol's list limits (remote_protocol.x), which the client checks too.
DOMAIN_LIST_MAX = 16384
AUTH_TYPE_NONE = 0
AUTH_TYPE_SASL = 1
