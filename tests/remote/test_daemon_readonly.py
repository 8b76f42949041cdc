"""A read-only remote identity cannot change anything: every method the wire
contract does not declare a read is refused with PERMISSION_DENIED over each
remote transport of the real daemon, before the request is even looked at."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import grpc
import pytest
from google.protobuf import descriptor_pool
from openvz.transport import SaslTunnel, SshTunnel, open_tls_aio_channel
from openvzd.access import all_methods, is_read

from tests.daemon_process import DaemonProcess
from tests.remote.realm import Realm
from tests.remote.served import HELPER, RemoteSetup, running_remote_daemon, write_remote_config
from tests.remote.sshd import Sshd
from tests.remote.standin import channel_through, get_version

pytest.importorskip("gssapi")

MUTATING = [method for method in all_methods() if not is_read(method)]


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, realm: Realm
) -> Iterator[tuple[RemoteSetup, DaemonProcess]]:
    setup = write_remote_config(tmp_path_factory.mktemp("readonly"), realm)
    with running_remote_daemon(setup) as daemon:
        yield setup, daemon


def _server_streaming(method: str) -> bool:
    service, _, name = method.lstrip("/").partition("/")
    found = descriptor_pool.Default().FindServiceByName(service).methods_by_name[name]
    return bool(found.server_streaming)


async def refusal_of(channel: grpc.aio.Channel, method: str) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        # No serializers: an empty request as raw bytes, which a refusal never reads.
        if _server_streaming(method):
            stream: grpc.aio.UnaryStreamMultiCallable[bytes, bytes] = channel.unary_stream(method)
            async for _ in stream(b"", timeout=10):
                pass
        else:
            unary: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(method)
            await unary(b"", timeout=10)
    return caught.value.code(), caught.value.details() or ""


Opener = Callable[[RemoteSetup, DaemonProcess, Sshd], AbstractAsyncContextManager[grpc.aio.Channel]]


@asynccontextmanager
async def tls_viewer(
    setup: RemoteSetup, daemon: DaemonProcess, sshd: Sshd
) -> AsyncIterator[grpc.aio.Channel]:
    async with open_tls_aio_channel(
        "127.0.0.1", setup.tls_port, {"pkipath": str(setup.viewer_pki)}
    ) as channel:
        yield channel


@asynccontextmanager
async def scram_viewer(
    setup: RemoteSetup, daemon: DaemonProcess, sshd: Sshd
) -> AsyncIterator[grpc.aio.Channel]:
    params = {"auth": "sasl.scram-sha-256", "password_file": str(setup.password_file)}
    async with channel_through(SaslTunnel("127.0.0.1", setup.sasl_port, "viewer", params)) as ch:
        yield ch


@asynccontextmanager
async def gssapi_bob(
    setup: RemoteSetup, daemon: DaemonProcess, sshd: Sshd
) -> AsyncIterator[grpc.aio.Channel]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in setup.kerberos_env("bob").items():
            if name.startswith("KRB5"):
                patch.setenv(name, value)
        tunnel = SaslTunnel("localhost", setup.sasl_port, None, {"auth": "sasl.gssapi"})
        async with channel_through(tunnel) as channel:
            yield channel


@asynccontextmanager
async def ssh_readonly(
    setup: RemoteSetup, daemon: DaemonProcess, sshd: Sshd
) -> AsyncIterator[grpc.aio.Channel]:
    params = {
        "keyfile": str(sshd.client_key),
        "known_hosts": str(sshd.known_hosts),
        "command": HELPER,
        "socket": str(daemon.rw_socket),
        "readonly": "1",
    }
    async with channel_through(SshTunnel("127.0.0.1", sshd.port, sshd.user, params)) as channel:
        yield channel


OPENERS: dict[str, Opener] = {
    "TLS readonly_dn": tls_viewer,
    "SCRAM user stored --readonly": scram_viewer,
    "GSSAPI readonly_users": gssapi_bob,
    "SSH ?readonly": ssh_readonly,
}


@pytest.mark.parametrize("identity", OPENERS)
async def test_a_read_only_identity_cannot_call_any_mutating_method(
    identity: str, served: tuple[RemoteSetup, DaemonProcess], sshd: Sshd
) -> None:
    setup, daemon = served
    assert len(MUTATING) > 20
    async with OPENERS[identity](setup, daemon, sshd) as channel:
        assert await get_version(channel)  # reads are served
        for method in MUTATING:
            code, details = await refusal_of(channel, method)
            assert code == grpc.StatusCode.PERMISSION_DENIED, (identity, method, details)
            assert "read-only" in details, (identity, method, details)
