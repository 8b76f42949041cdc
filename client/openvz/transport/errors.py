"""What a transport raises before grpc is involved."""

from __future__ import annotations


class TransportError(Exception):
    """The connection to a remote daemon could not be set up; the message says why."""


class AuthenticationFailed(TransportError):
    """The remote end refused who we are, or we refused it (host key, server
    certificate). The client library reports it as UNAUTHENTICATED."""


class ServerBusy(TransportError):
    """The server is at one of its connection limits and turned this one away
    before the login; trying again later may work. Reported as UNAVAILABLE."""
