"""openvz+tcp:// against the real `openvzd --simulate`, configured by its [sasl]
section: GSSAPI with tickets from the throwaway KDC, and SCRAM-SHA-256 from the
password database, on one listener."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import openvz
import pytest
from openvz.transport import SaslTunnel
from openvz.v1 import common_pb2, domains_pb2_grpc
from openvzd.listeners import MAX_CALLS_PER_CONNECTION

from tests.daemon_process import BIN, DaemonProcess
from tests.remote.realm import REALM, SERVICE_HOST, Realm
from tests.remote.served import (
    SCRAM_PASSWORD,
    RemoteSetup,
    assert_calls_bounded,
    ovzsh,
    running_remote_daemon,
    write_remote_config,
)
from tests.remote.standin import channel_through, get_version
from tests.remote.wiretap import Wiretap

pytest.importorskip("gssapi")

# A SASL session inherits the per-connection call limit of the unix socket it is joined to.
CALLS_PER_CLIENT = MAX_CALLS_PER_CONNECTION


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, realm: Realm
) -> Iterator[tuple[RemoteSetup, DaemonProcess]]:
    setup = write_remote_config(
        tmp_path_factory.mktemp("sasl"),
        realm,
        sasl={"allowed_users": [f"alice@{REALM}", f"bob@{REALM}", "admin", "viewer", "dave"]},
    )
    with running_remote_daemon(setup) as daemon:
        yield setup, daemon


def example_xml(daemon: DaemonProcess, veid: int) -> Path:
    xml = daemon.sim_dir / f"ct{veid}.xml"
    xml.write_text(
        (daemon.sim_dir / "example-150.xml")
        .read_text()
        .replace("<name>150</name>", f"<name>{veid}</name>")
        .replace("10.0.150.1", f"10.0.{veid % 250}.1")
    )
    return xml


def test_ovzsh_with_a_kerberos_ticket_defines_starts_and_destroys(
    served: tuple[RemoteSetup, DaemonProcess],
) -> None:
    setup, daemon = served
    alice = setup.kerberos_env("alice")
    uri = setup.gssapi_uri()
    for args in (["define", str(example_xml(daemon, 510))], ["start", "510"]):
        result = ovzsh(uri, *args, env=alice)
        assert result.returncode == 0, (args, result.stderr)
    listed = ovzsh(uri, "list", env=alice)
    assert ["510", "510", "running"] in [line.split() for line in listed.stdout.splitlines()]
    assert ovzsh(uri, "destroy", "510", env=alice).returncode == 0
    assert f"SASL login of alice@{REALM} via GSSAPI" in daemon.log()


def test_a_read_only_principal_reads_but_cannot_change_anything(
    served: tuple[RemoteSetup, DaemonProcess],
) -> None:
    setup, daemon = served
    alice, bob = setup.kerberos_env("alice"), setup.kerberos_env("bob")
    uri = setup.gssapi_uri()
    assert ovzsh(uri, "define", str(example_xml(daemon, 511)), env=alice).returncode == 0
    listed = ovzsh(uri, "list", "--all", "--name", env=bob)
    assert listed.returncode == 0, listed.stderr
    assert "511" in listed.stdout.split()
    for change in (["start", "511"], ["undefine", "511"]):
        refused = ovzsh(uri, *change, env=bob)
        assert refused.returncode == 1
        assert "read-only" in refused.stderr, refused.stderr
    state = ovzsh(uri, "domstate", "511", env=alice)
    assert state.stdout.strip() == "shut off", state


def _no_ticket_env(setup: RemoteSetup, tmp_path: Path) -> dict[str, str]:
    return {**setup.kerberos_env("alice"), "KRB5CCNAME": f"FILE:{tmp_path / 'empty.ccache'}"}


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("principal not in allowed_users", f"'carol@{REALM}' is not allowed"),
        ("no Kerberos ticket", "Kerberos"),
        ("wrong SCRAM password", "wrong user name or password"),
        ("unknown SCRAM user", "wrong user name or password"),
    ],
)
def test_refused_logins_are_unauthenticated(
    case: str,
    reason: str,
    served: tuple[RemoteSetup, DaemonProcess],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    setup, daemon = served
    wrong = tmp_path / "wrong"
    wrong.write_text("not " + SCRAM_PASSWORD + "\n")
    env, uri = {
        "principal not in allowed_users": (setup.kerberos_env("carol"), setup.gssapi_uri()),
        "no Kerberos ticket": (_no_ticket_env(setup, tmp_path), setup.gssapi_uri()),
        "wrong SCRAM password": (
            setup.kerberos_env("alice"),
            setup.scram_uri().replace(str(setup.password_file), str(wrong)),
        ),
        "unknown SCRAM user": (
            setup.kerberos_env("alice"),
            setup.scram_uri().replace("admin@", "mallory@"),
        ),
    }[case]
    refused = ovzsh(uri, "list", env=env)
    assert refused.returncode == 1
    assert "refused the login" in refused.stderr and reason in refused.stderr, refused.stderr
    # The library names the status: the same login, in this process.
    for name in ("KRB5_CONFIG", "KRB5CCNAME"):
        monkeypatch.setenv(name, env[name])
    with pytest.raises(openvz.AuthenticationFailed, match=reason) as caught:
        openvz.open(uri)
    assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert daemon.process.poll() is None


async def test_a_plain_grpc_client_gets_nothing_before_login(
    served: tuple[RemoteSetup, DaemonProcess],
) -> None:
    setup, daemon = served
    async with grpc.aio.insecure_channel(
        f"127.0.0.1:{setup.sasl_port}", options=[("grpc.use_local_subchannel_pool", 1)]
    ) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await get_version(channel, timeout=3)
    assert caught.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    assert daemon.process.poll() is None


async def _lookup_status(channel: grpc.aio.Channel, marker: str) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await domains_pb2_grpc.DomainsStub(channel).Lookup(
            common_pb2.DomainRef(name=marker), timeout=10
        )
    assert marker in (caught.value.details() or "")
    return caught.value.code()


async def test_every_byte_after_a_gssapi_login_is_wrapped(
    served: tuple[RemoteSetup, DaemonProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name asked for, and the daemon's answer that repeats it, never cross the
    wire in the clear under GSSAPI; under SCRAM the same tap does see them."""
    setup, _ = served
    env = setup.kerberos_env("alice")
    for name in ("KRB5_CONFIG", "KRB5CCNAME"):
        monkeypatch.setenv(name, env[name])
    for mechanism, visible in (("sasl.gssapi", False), ("sasl.scram-sha-256", True)):
        marker = f"wiretap-marker-{mechanism}-q7z"
        tap = Wiretap(setup.sasl_port)
        await tap.start()
        try:
            tunnel = SaslTunnel(
                SERVICE_HOST,
                tap.port,
                "admin",
                {"auth": mechanism, "password_file": str(setup.password_file)}
                if visible
                else {"auth": mechanism},
            )
            async with channel_through(tunnel) as channel:
                assert await _lookup_status(channel, marker) == grpc.StatusCode.NOT_FOUND
        finally:
            await tap.stop()
        assert len(tap.seen) > 200
        assert (marker.encode() in tap.seen) is visible, mechanism


async def test_in_flight_calls_of_one_client_are_bounded(
    served: tuple[RemoteSetup, DaemonProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With CALLS_PER_CLIENT streams open on one SASL session, its next call waits
    (here: until its deadline); another client is served meanwhile."""
    setup, _ = served
    env = setup.kerberos_env("alice")
    for name in ("KRB5_CONFIG", "KRB5CCNAME"):
        monkeypatch.setenv(name, env[name])
    async with (
        channel_through(SaslTunnel(SERVICE_HOST, setup.sasl_port, None, {})) as busy,
        channel_through(SaslTunnel(SERVICE_HOST, setup.sasl_port, None, {})) as other,
    ):
        await assert_calls_bounded(busy, other, CALLS_PER_CLIENT)


def passwd(*args: str, password: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "openvzd"), "passwd", *args],
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_openvzd_passwd_manages_scram_users_of_the_running_daemon(
    served: tuple[RemoteSetup, DaemonProcess], tmp_path: Path
) -> None:
    """Each change of `openvzd passwd` holds from the next login, without a restart."""
    setup, daemon = served
    db = str(setup.sim_dir.parent / "passwd.db")
    secret = tmp_path / "dave.pw"
    secret.write_text("dave's long passphrase\n")
    uri = f"openvz+tcp://dave@127.0.0.1:{setup.sasl_port}/system?password_file={secret}"
    assert "wrong user name or password" in ovzsh(uri, "list").stderr
    added = passwd("dave", "--db", db, password="dave's long passphrase")
    assert added.returncode == 0, added.stderr
    assert "dave's long passphrase" not in Path(db).read_text()
    assert ovzsh(uri, "define", str(example_xml(daemon, 512))).returncode == 0
    assert (
        passwd("dave", "--readonly", "--db", db, password="dave's long passphrase").returncode == 0
    )
    refused = ovzsh(uri, "start", "512")
    assert refused.returncode == 1 and "read-only" in refused.stderr, refused.stderr
    assert ovzsh(uri, "list", "--all").returncode == 0
    assert passwd("dave", "--delete", "--db", db).returncode == 0
    assert "wrong user name or password" in ovzsh(uri, "list").stderr
