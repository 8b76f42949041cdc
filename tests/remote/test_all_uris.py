"""The same commands over all five URI forms.

Each form is mapped to what the URI parser (client/openvz/uri.py) yields
(transport, host, port, user, params) and opened through
openvz.transport.open_remote_async, the one call the library makes, against the
in-process listeners and the daemon stand-in. test_daemon_uris.py does the same
with ovzsh against the real daemon.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from openvz.transport import open_remote_async
from openvz.transport import sasl_wire as wire
from openvz.transport.ssh import ssh_argv
from openvzd.access import Level
from openvzd.remote.passwords import make_entry, write_db
from openvzd.remote.sasl_server import start_sasl_server
from openvzd.remote.settings import SaslSettings, TlsSettings
from openvzd.remote.tls import start_tls_server

from tests.remote import pki
from tests.remote.conftest import Pki
from tests.remote.sshd import Sshd
from tests.remote.standin import (
    STANDIN_VERSION,
    StandInDaemon,
    StandInServices,
    get_version,
    start_domain,
)
from tests.remote.test_ssh import HELPER

Opener = Callable[[bool], Awaitable[tuple[grpc.aio.Channel, Callable[[], Any]]]]


@pytest.fixture
async def openers(
    standin: StandInDaemon, pki_set: Pki, tmp_path: Path, sshd: Sshd
) -> AsyncIterator[dict[str, Opener]]:
    tls_dir = tmp_path / "tls"
    tls_dir.mkdir()
    (tls_dir / "ca.pem").write_bytes(pki_set.ca.cert_pem)
    pki_set.server.write(tls_dir / "cert.pem", tls_dir / "key.pem")
    tls = await start_tls_server(
        TlsSettings(
            address="127.0.0.1",
            port=0,
            ca_file=tls_dir / "ca.pem",
            cert_file=tls_dir / "cert.pem",
            key_file=tls_dir / "key.pem",
            allowed_dn=["CN=root,*"],
            readonly_dn=["CN=reader,*"],
        ),
        StandInServices().add_to,
    )
    db = tmp_path / "passwd.db"
    write_db(
        db,
        {
            "root": make_entry("root", "pw", Level.READ_WRITE),
            "reader": make_entry("reader", "pw", Level.READ_ONLY),
        },
    )
    sasl = await start_sasl_server(
        SaslSettings(
            address="127.0.0.1",
            port=0,
            mechanisms=[wire.SCRAM_SHA_256],
            password_db=db,
            allow_cleartext=True,
            allowed_users=["root", "reader"],
        ),
        standin.rw_socket,
        standin.ro_socket,
    )
    pki_dirs = {
        ro: str(
            pki.write_client_pki(
                tmp_path / f"pki-{ro}",
                pki_set.ca,
                pki.issue(pki_set.ca, "reader" if ro else "root", server=False),
            )
        )
        for ro in (False, True)
    }

    async def local(readonly: bool) -> tuple[grpc.aio.Channel, Callable[[], Any]]:
        path = standin.ro_socket if readonly else standin.rw_socket
        return grpc.aio.insecure_channel(f"unix:{path}"), lambda: None

    async def remote(
        transport: str, port: int, user: str | None, params: dict[str, str]
    ) -> tuple[grpc.aio.Channel, Callable[[], Any]]:
        endpoint = await open_remote_async(
            transport, "127.0.0.1", port, user, params, password=lambda: "pw"
        )
        return endpoint.aio_channel(), endpoint.close

    def ssh_params(readonly: bool) -> dict[str, str]:
        socket = standin.ro_socket if readonly else standin.rw_socket
        return {
            "keyfile": str(sshd.client_key),
            "known_hosts": str(sshd.known_hosts),
            "command": HELPER,
            "socket": str(socket),
        }

    try:
        yield {
            "openvz:///system": local,
            "openvz+unix:///system": local,
            "openvz://127.0.0.1/system": lambda ro: remote(
                "tls", tls.port, None, {"pkipath": pki_dirs[ro]}
            ),
            "openvz+tcp://root@127.0.0.1/system": lambda ro: remote(
                "tcp", sasl.port, "reader" if ro else "root", {}
            ),
            "openvz+ssh://root@127.0.0.1/system": lambda ro: remote(
                "ssh", sshd.port, sshd.user, ssh_params(ro)
            ),
        }
    finally:
        await sasl.stop()
        await tls.stop(None)


URIS = [
    "openvz:///system",
    "openvz+unix:///system",
    "openvz://127.0.0.1/system",
    "openvz+tcp://root@127.0.0.1/system",
    "openvz+ssh://root@127.0.0.1/system",
]


@pytest.mark.parametrize("uri", URIS)
async def test_the_same_commands_over_every_uri(uri: str, openers: dict[str, Opener]) -> None:
    channel, close = await openers[uri](False)
    try:
        assert await get_version(channel) == STANDIN_VERSION
        assert (await start_domain(channel, 101)).startswith("job-")
    finally:
        await channel.close()
        close()

    channel, close = await openers[uri](True)
    try:
        assert await get_version(channel) == STANDIN_VERSION
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await start_domain(channel, 101)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        await channel.close()
        close()


def test_a_uri_without_a_port_reaches_the_daemons_default_ports() -> None:
    from openvz.transport import DEFAULT_SASL_PORT, DEFAULT_TLS_PORT
    from openvz.transport.tls import target_of
    from openvzd.remote import settings

    assert (
        settings.TlsSettings().port,
        settings.SaslSettings().port,
    ) == (DEFAULT_TLS_PORT, DEFAULT_SASL_PORT)
    assert target_of("node1.example.com", None) == "node1.example.com:16520"
    assert target_of("::1", None) == "[::1]:16520"
    assert "-p" not in ssh_argv("node1.example.com", None, None, {})
