"""Remote transports of the client library: the ends of openvz:// (TLS),
openvz+tcp:// (SASL) and openvz+ssh:// (SSH).

TLS gives a grpc channel directly. SSH and SASL give a LocalRelay: start() it,
connect grpc to the target it returns (unix:PATH), close() it with the channel.
"""

from openvz.transport.endpoint import RemoteEndpoint, open_remote, open_remote_async
from openvz.transport.errors import AuthenticationFailed, ServerBusy, TransportError
from openvz.transport.options import remote_channel_options
from openvz.transport.ports import DEFAULT_SASL_PORT, DEFAULT_SSH_PORT, DEFAULT_TLS_PORT
from openvz.transport.relay import LocalRelay
from openvz.transport.sasl import SaslTunnel
from openvz.transport.ssh import SshTunnel
from openvz.transport.tls import open_tls_aio_channel, open_tls_channel, tls_channel_credentials

__all__ = [
    "DEFAULT_SASL_PORT",
    "DEFAULT_SSH_PORT",
    "DEFAULT_TLS_PORT",
    "AuthenticationFailed",
    "LocalRelay",
    "RemoteEndpoint",
    "SaslTunnel",
    "ServerBusy",
    "SshTunnel",
    "TransportError",
    "open_remote",
    "open_remote_async",
    "open_tls_aio_channel",
    "open_tls_channel",
    "remote_channel_options",
    "tls_channel_credentials",
]
