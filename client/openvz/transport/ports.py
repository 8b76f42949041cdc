"""Default ports of the remote listeners (the daemon's [tls] and [sasl] port)."""

DEFAULT_TLS_PORT = 16520
DEFAULT_SASL_PORT = 16519
DEFAULT_SSH_PORT = 22
