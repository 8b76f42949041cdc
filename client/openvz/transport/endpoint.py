"""One entry point for the client library's URI handling: a remote transport
name, host, port, user and URI parameters in; something to open grpc channels
on, and to close, out."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc

from openvz.transport.errors import TransportError
from openvz.transport.options import remote_channel_options
from openvz.transport.relay import LocalRelay
from openvz.transport.sasl import PasswordSource, SaslTunnel
from openvz.transport.ssh import SshTunnel
from openvz.transport.tls import target_of, tls_channel_credentials

TRANSPORTS = ("tls", "tcp", "ssh")


@dataclass
class RemoteEndpoint:
    """Where grpc connects (target), with which credentials (None: a local relay
    socket), and the relay to close with the channel."""

    target: str
    credentials: grpc.ChannelCredentials | None
    options: list[tuple[str, Any]] = field(default_factory=remote_channel_options)
    relay: LocalRelay | None = None

    def channel(self) -> grpc.Channel:
        if self.credentials is None:
            return grpc.insecure_channel(self.target, options=self.options)
        return grpc.secure_channel(self.target, self.credentials, options=self.options)

    def aio_channel(self) -> grpc.aio.Channel:
        if self.credentials is None:
            return grpc.aio.insecure_channel(self.target, options=self.options)
        return grpc.aio.secure_channel(self.target, self.credentials, options=self.options)

    def close(self) -> None:
        if self.relay is not None:
            self.relay.close()


def open_remote(
    transport: str,
    host: str,
    port: int | None,
    user: str | None,
    params: Mapping[str, str],
    password: PasswordSource | None = None,
) -> RemoteEndpoint:
    """transport: "tls" (openvz://host), "tcp" (openvz+tcp://), "ssh" (openvz+ssh://).

    Blocks while a tunnel logs in; raises TransportError / AuthenticationFailed.
    """
    if transport == "tls":
        credentials, name_override = tls_channel_credentials(host, port, params)
        return RemoteEndpoint(
            target_of(host, port), credentials, [*name_override, *remote_channel_options()]
        )
    relay: LocalRelay
    if transport == "tcp":
        relay = SaslTunnel(host, port, user, params, password)
    elif transport == "ssh":
        relay = SshTunnel(host, port, user, params)
    else:
        raise TransportError(f"unknown remote transport {transport!r}; known: {TRANSPORTS}")
    return RemoteEndpoint(relay.start(), None, relay=relay)


async def open_remote_async(
    transport: str,
    host: str,
    port: int | None,
    user: str | None,
    params: Mapping[str, str],
    password: PasswordSource | None = None,
) -> RemoteEndpoint:
    """open_remote() for asyncio callers: the blocking log-in runs in a worker thread."""
    return await asyncio.to_thread(open_remote, transport, host, port, user, params, password)
