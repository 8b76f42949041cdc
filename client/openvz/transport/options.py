"""Channel options for remote connections, and the truth value of URI flags."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The daemon refuses pings more often than every 20 s ([tls] listener options).
KEEPALIVE_MS = 30_000


def remote_channel_options(max_message_bytes: int = 4 * 1024 * 1024) -> list[tuple[str, Any]]:
    return [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.keepalive_time_ms", KEEPALIVE_MS),
        ("grpc.keepalive_timeout_ms", 10_000),
        # grpc waits this long for a ping's answer; keepalive_timeout_ms alone does not.
        ("grpc.http2.ping_timeout_ms", 10_000),
        # A new channel gets its own connection, never one cached for an old tunnel.
        ("grpc.use_local_subchannel_pool", 1),
    ]


def flag(params: Mapping[str, str], name: str) -> bool:
    """A libvirt-style boolean parameter: present and not 0/no/false/off (`?readonly` is on)."""
    value = params.get(name)
    if value is None:
        return False
    return value.strip().lower() not in ("0", "no", "false", "off")
