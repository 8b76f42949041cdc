"""What the real openvzd refuses: every bad client certificate, a server it
cannot be verified as, server certificates it will not start with, [sasl]
settings it will not serve, and empty allow-lists."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from openvz.transport import remote_channel_options

from tests.daemon_process import BIN, DaemonProcess, running_daemon
from tests.remote import pki
from tests.remote.realm import REALM, Realm
from tests.remote.served import (
    RemoteSetup,
    TomlValue,
    ovzsh,
    running_remote_daemon,
    write_remote_config,
)
from tests.remote.standin import get_version


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, realm: Realm
) -> Iterator[tuple[RemoteSetup, DaemonProcess]]:
    setup = write_remote_config(tmp_path_factory.mktemp("refusals"), realm)
    with running_remote_daemon(setup) as daemon:
        yield setup, daemon


def raw_channel(
    port: int, root: bytes, client: pki.Issued | None, target_name: str | None = None
) -> grpc.aio.Channel:
    """A channel with exactly these credentials, past the client library's own checks."""
    credentials = grpc.ssl_channel_credentials(
        root_certificates=root,
        private_key=client.key_pem if client else None,
        certificate_chain=client.cert_pem if client else None,
    )
    options = remote_channel_options()
    if target_name is not None:
        options.append(("grpc.ssl_target_name_override", target_name))
    return grpc.aio.secure_channel(f"127.0.0.1:{port}", credentials, options=options)


async def status_of_version_call(channel: grpc.aio.Channel) -> grpc.StatusCode:
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await get_version(channel, timeout=10)
    return caught.value.code()


OTHER_CA = pki.make_ca("someone else's CA")


@pytest.mark.parametrize("client_kind", ["no certificate", "other CA", "expired", "not yet valid"])
async def test_bad_client_certificates_get_no_connection(
    client_kind: str, served: tuple[RemoteSetup, DaemonProcess]
) -> None:
    setup, daemon = served
    ca = setup.ca
    client = {
        "no certificate": None,
        "other CA": pki.issue(OTHER_CA, "admin", server=False),
        "expired": pki.issue(
            ca,
            "admin",
            server=False,
            not_before=pki.NOW - 10 * pki.DAY,
            not_after=pki.NOW - pki.DAY,
        ),
        "not yet valid": pki.issue(
            ca, "admin", server=False, not_before=pki.NOW + pki.DAY, not_after=pki.NOW + 9 * pki.DAY
        ),
    }[client_kind]
    channel = raw_channel(setup.tls_port, ca.cert_pem, client)
    assert await status_of_version_call(channel) == grpc.StatusCode.UNAVAILABLE
    assert daemon.process.poll() is None


async def test_a_client_not_in_the_allow_list_is_refused(
    served: tuple[RemoteSetup, DaemonProcess], tmp_path: Path
) -> None:
    setup, daemon = served
    mallory = pki.issue(setup.ca, "mallory", server=False)
    channel = raw_channel(setup.tls_port, setup.ca.cert_pem, mallory)
    assert await status_of_version_call(channel) == grpc.StatusCode.PERMISSION_DENIED
    pkipath = pki.write_client_pki(tmp_path / "mallory", setup.ca, mallory)
    refused = ovzsh(f"openvz://127.0.0.1:{setup.tls_port}/system?pkipath={pkipath}", "list")
    assert refused.returncode == 1
    assert "CN=mallory" in refused.stderr and "not allowed" in refused.stderr, refused.stderr
    assert "CN=mallory" in daemon.log()


async def test_the_client_refuses_a_server_it_cannot_verify(
    served: tuple[RemoteSetup, DaemonProcess], tmp_path: Path
) -> None:
    setup, _ = served
    admin = pki.issue(setup.ca, "admin", server=False)
    # The daemon's certificate names 127.0.0.1 and localhost, not the host dialled.
    wrong_name = raw_channel(setup.tls_port, setup.ca.cert_pem, admin, "elsewhere.example")
    assert await status_of_version_call(wrong_name) == grpc.StatusCode.UNAVAILABLE
    # A client that trusts another CA cannot verify the daemon.
    stranger = pki.write_client_pki(tmp_path / "stranger", OTHER_CA, admin)
    refused = ovzsh(f"openvz://127.0.0.1:{setup.tls_port}/system?pkipath={stranger}", "list")
    assert refused.returncode == 1, refused
    assert "CERTIFICATE_VERIFY_FAILED" in refused.stderr, refused.stderr


def start_fails(sim_dir: Path, realm: Realm) -> str:
    """openvzd's output when it refuses to start (cleanly: exit status 1, no traceback)."""
    process = subprocess.run(
        [str(BIN / "openvzd"), "--simulate", str(sim_dir), "--sim-delays", "none"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **realm.env, "GRPC_VERBOSITY": "NONE"},
    )
    assert process.returncode == 1, process
    output = process.stderr + process.stdout
    assert "Traceback" not in output, output  # a refusal, not a crash
    return output


@pytest.mark.parametrize(
    ("server_kind", "message"),
    [
        ("expired", "expired on"),
        ("not yet valid", "is not valid yet"),
        ("key of another certificate", "does not belong to the certificate"),
        ("signed by another CA", "was not issued by the CA"),
    ],
)
def test_the_daemon_will_not_start_with_unusable_server_certificates(
    server_kind: str, message: str, tmp_path: Path, realm: Realm
) -> None:
    setup = write_remote_config(tmp_path, realm)
    hosts = ("127.0.0.1",)
    if server_kind == "expired":
        bad = pki.issue(
            setup.ca,
            "s",
            server=True,
            hosts=hosts,
            not_before=pki.NOW - 9 * pki.DAY,
            not_after=pki.NOW - pki.DAY,
        )
    elif server_kind == "not yet valid":
        bad = pki.issue(
            setup.ca,
            "s",
            server=True,
            hosts=hosts,
            not_before=pki.NOW + pki.DAY,
            not_after=pki.NOW + 9 * pki.DAY,
        )
    elif server_kind == "signed by another CA":
        bad = pki.issue(OTHER_CA, "s", server=True, hosts=hosts)
    else:
        bad = pki.issue(setup.ca, "s", server=True, hosts=hosts)
        bad.write(setup.server_cert)  # the old key stays
    if server_kind != "key of another certificate":
        bad.write(setup.server_cert, setup.server_key)
    output = start_fails(setup.sim_dir, realm)
    assert "[tls]" in output and message in output, output


@pytest.mark.parametrize(
    ("sasl", "message"),
    [
        ({"mechanisms": []}, "mechanisms is empty"),
        ({"mechanisms": ["SCRAM-SHA-256"], "allow_cleartext": False}, "allow_cleartext = true"),
        ({"mechanisms": ["PLAIN"]}, "unknown ['PLAIN']"),
        ({"mechanisms": ["GSSAPI"], "keytab": "/nonexistent/krb5.tab"}, "keytab"),
    ],
)
def test_the_daemon_will_not_serve_sasl_settings_it_cannot_honour(
    sasl: dict[str, TomlValue], message: str, tmp_path: Path, realm: Realm
) -> None:
    setup = write_remote_config(tmp_path, realm, sasl=sasl)
    output = start_fails(setup.sim_dir, realm)
    assert "[sasl]" in output and message in output, output


def test_empty_allow_lists_admit_nobody(tmp_path: Path, realm: Realm) -> None:
    setup = write_remote_config(
        tmp_path,
        realm,
        tls={"allowed_dn": [], "readonly_dn": []},
        sasl={"allowed_users": [], "readonly_users": []},
    )
    with running_remote_daemon(setup) as daemon:
        tls = ovzsh(setup.tls_uri(), "list")
        assert tls.returncode == 1 and "not allowed" in tls.stderr, tls
        scram = ovzsh(setup.scram_uri(), "list")
        assert scram.returncode == 1 and "'admin' is not allowed" in scram.stderr, scram
        gssapi = ovzsh(setup.gssapi_uri(), "list", env=setup.kerberos_env("alice"))
        assert gssapi.returncode == 1 and f"'alice@{REALM}' is not allowed" in gssapi.stderr
        log = daemon.log()
    assert "every TLS client is refused" in log and "every client is refused" in log


def listening_tcp_ports(pid: int) -> set[int]:
    """The TCP ports process pid listens on, from /proc (IPv4 and IPv6)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def test_no_tcp_listener_unless_configured(tmp_path: Path, realm: Realm) -> None:
    with running_daemon(tmp_path / "plain") as plain:
        assert listening_tcp_ports(plain.process.pid) == set()
        assert "TLS listener" not in plain.log() and "SASL listener" not in plain.log()
    setup = write_remote_config(tmp_path / "remote", realm)
    with running_remote_daemon(setup) as remote:
        assert listening_tcp_ports(remote.process.pid) == {setup.tls_port, setup.sasl_port}


@pytest.mark.parametrize(
    ("section", "message"),
    [("tls", "[tls] cannot listen on 127.0.0.1:"), ("sasl", "address already in use")],
)
def test_a_port_in_use_is_a_clear_refusal_to_start(
    section: str, message: str, tmp_path: Path, realm: Realm
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        setup = write_remote_config(tmp_path, realm, **{section: {"port": port}})
        output = start_fails(setup.sim_dir, realm)
    assert message in output, output


@pytest.mark.parametrize("section", ["tls", "sasl"])
def test_a_port_out_of_range_is_refused(section: str, tmp_path: Path, realm: Realm) -> None:
    setup = write_remote_config(tmp_path, realm, **{section: {"port": 70000}})
    output = start_fails(setup.sim_dir, realm)
    assert "port = 70000: use a TCP port" in output, output
