"""The [libvirt] section of openvzd.toml, with its documented defaults.

The socket paths are the ones libvirt 9.0's client (and its ssh helper) picks
for openvz+unix:///system and openvz+ssh://root@host/system with no
parameters, so unmodified libvirt clients find openvzd there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SYSTEM_RW_SOCKET = Path("/run/libvirt/virtopenvzd-sock")
SYSTEM_RO_SOCKET = Path("/run/libvirt/virtopenvzd-sock-ro")

LIBVIRT_DEFAULTS_DOC = """\
[libvirt]
# libvirt's own RPC protocol for unmodified libvirt clients (virsh, libvirt-python,
# virt-manager): openvz+unix:///system and openvz+ssh://root@host/system reach these
# sockets with no parameters. (Plain openvz:///system stays with libvirt's in-process
# OpenVZ driver where libvirt0 has one.)
enabled = true
rw_path = "/run/libvirt/virtopenvzd-sock"
rw_mode = 0o600
# Every mutating procedure is refused here with VIR_ERR_OPERATION_DENIED.
ro_path = "/run/libvirt/virtopenvzd-sock-ro"
ro_mode = 0o666
# Connections one uid (or TLS DN, or SASL principal) may hold open at once; 0 = no limit.
# Root and the uid openvzd runs as are not capped, as on openvzd's own sockets.
max_connections_per_uid = 64
# A client silent this many seconds gets a keepalive PING; one silent for
# keepalive_count more intervals is taken for gone and dropped (as libvirtd does).
keepalive_interval = 30.0
keepalive_count = 5
# libvirt's TLS listener (openvz://HOST/system, libvirt's port is 16514); 0 = off.
# It uses [tls]'s certificate files and DN allow-lists.
tls_port = 0
tls_address = "0.0.0.0"
# libvirt's SASL listener (openvz+tcp://HOST/system, libvirt's port is 16509); 0 = off.
# GSSAPI (Kerberos) only, with its encryption layer: libvirt's client refuses SCRAM on
# plain TCP. It uses [sasl]'s keytab (holding libvirt/HOSTNAME@REALM) and user lists.
sasl_port = 0
sasl_address = "0.0.0.0"
"""


@dataclass(slots=True)
class LibvirtSettings:
    enabled: bool = True
    rw_path: Path = SYSTEM_RW_SOCKET
    rw_mode: int = 0o600
    ro_path: Path = SYSTEM_RO_SOCKET
    ro_mode: int = 0o666
    max_connections_per_uid: int = 64
    keepalive_interval: float = 30.0
    keepalive_count: int = 5
    tls_port: int = 0
    tls_address: str = "0.0.0.0"
    sasl_port: int = 0
    sasl_address: str = "0.0.0.0"
