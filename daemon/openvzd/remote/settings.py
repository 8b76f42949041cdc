"""The [tls] and [sasl] sections of openvzd.toml, with their documented defaults.

Both listeners are off unless enabled, and neither admits anybody until its
allow-list names someone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# The client library keeps its own copy of these numbers (client/ imports nothing
# from daemon/): openvz.transport.ports.
DEFAULT_TLS_PORT = 16520
DEFAULT_SASL_PORT = 16519

REMOTE_DEFAULTS_DOC = """\
[tls]
# The TLS listener (openvz://host/system): mutual x509, off unless enabled.
enabled = false
address = "0.0.0.0"
port = 16520
ca_file = "/etc/pki/CA/cacert.pem"
cert_file = "/etc/pki/openvzd/servercert.pem"
key_file = "/etc/pki/openvzd/private/serverkey.pem"
# Client subject DNs, as RFC 4514 strings ("CN=alice,O=Example"), matched RDN by
# RDN: every RDN of the subject against the pattern's, in order, with shell
# wildcards inside one value ("CN=ops-*,O=Example"); a `*` never spans a comma of
# the DN, escaped or not. A last element `*` alone admits any further RDNs
# ("CN=alice,*"); "*" alone admits every certificate of the CA. An empty list
# admits nobody. A DN that matches readonly_dn is read-only even if it also
# matches allowed_dn.
allowed_dn = []
readonly_dn = []
# A certificate revocation list (PEM or DER) signed by the CA in ca_file; a
# revoked client certificate is refused at its next call. "" = no CRL. Re-read
# on SIGHUP, with the certificates.
crl_file = ""
# Seconds a client may take to finish the TLS handshake.
handshake_timeout = 10.0
# Client connections at once (handshaking or not), and the calls one client
# connection may have in flight.
max_clients = 200
max_calls_per_client = 64
# Connections from one source address at once (0 = no limit): idle connections
# from one host cannot take the places of others.
max_clients_per_source = 32
# Seconds between keepalive pings to an idle client, and the wait for its answer.
keepalive_interval = 60.0
keepalive_timeout = 20.0

[sasl]
# The TCP listener with SASL (openvz+tcp://host/system), off unless enabled.
enabled = false
address = "0.0.0.0"
port = 16519
# Any of "GSSAPI" and "SCRAM-SHA-256"; the listener refuses to start without one.
mechanisms = []
# GSSAPI: the keytab holding the service key (openvzd/HOSTNAME@REALM). After a
# GSSAPI login every byte is wrapped by Kerberos (integrity and confidentiality).
keytab = "/etc/openvzd/krb5.tab"
# SCRAM-SHA-256: salted password hashes, managed with `openvzd passwd`.
password_db = "/etc/openvzd/passwd.db"
# SCRAM authenticates but does not protect the traffic that follows: calls and
# answers cross the network in CLEARTEXT, readable and changeable by anyone on
# the path. It is served only if this is true; prefer GSSAPI, TLS or SSH.
allow_cleartext = false
# User names (SCRAM) and Kerberos principals ("alice@EXAMPLE.COM"), matched with
# shell wildcards. An empty list admits nobody. A name that matches readonly_users
# (or a SCRAM user stored with --readonly) is read-only.
allowed_users = []
readonly_users = []
# Connections that have not finished authenticating, and all connections.
max_unauthenticated = 20
max_clients = 200
# The same, from one source address: idle connections from one host cannot take
# the places of others. 0 = no limit.
max_unauthenticated_per_source = 4
max_clients_per_source = 32
# Seconds a client has to authenticate, counted from the moment it is accepted.
auth_timeout = 10.0
"""


@dataclass(slots=True)
class TlsSettings:
    enabled: bool = False
    address: str = "0.0.0.0"
    port: int = DEFAULT_TLS_PORT
    ca_file: Path = Path("/etc/pki/CA/cacert.pem")
    cert_file: Path = Path("/etc/pki/openvzd/servercert.pem")
    key_file: Path = Path("/etc/pki/openvzd/private/serverkey.pem")
    allowed_dn: list[str] = field(default_factory=list)
    readonly_dn: list[str] = field(default_factory=list)
    crl_file: str = ""
    handshake_timeout: float = 10.0
    max_clients: int = 200
    max_calls_per_client: int = 64
    max_clients_per_source: int = 32
    keepalive_interval: float = 60.0
    keepalive_timeout: float = 20.0


@dataclass(slots=True)
class SaslSettings:
    enabled: bool = False
    address: str = "0.0.0.0"
    port: int = DEFAULT_SASL_PORT
    mechanisms: list[str] = field(default_factory=list)
    keytab: Path = Path("/etc/openvzd/krb5.tab")
    password_db: Path = Path("/etc/openvzd/passwd.db")
    allow_cleartext: bool = False
    allowed_users: list[str] = field(default_factory=list)
    readonly_users: list[str] = field(default_factory=list)
    max_unauthenticated: int = 20
    max_clients: int = 200
    max_unauthenticated_per_source: int = 4
    max_clients_per_source: int = 32
    auth_timeout: float = 10.0
