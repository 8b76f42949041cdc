"""openvz+ssh end to end: a real OpenSSH sshd on loopback (own config, throwaway
host key and authorized_keys), ssh run by the client end, and openvzd-ssh-helper
on the "remote" side bridging to the daemon stand-in's unix sockets."""

from __future__ import annotations

import pwd
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from openvz.transport import AuthenticationFailed, SshTunnel, TransportError
from openvz.transport.options import remote_channel_options
from openvz.transport.ssh import remote_command, ssh_argv
from openvzd.remote.ssh_helper import BadName, chosen_socket, default_socket, socket_of_name

from tests.remote.sshd import Sshd
from tests.remote.standin import (
    STANDIN_VERSION,
    StandInDaemon,
    channel_through,
    get_version,
    start_domain,
)

HELPER = str(Path(sys.executable).parent / "openvzd-ssh-helper")


def params(sshd: Sshd, standin: StandInDaemon, **extra: str) -> dict[str, str]:
    readonly = extra.get("readonly") == "1"
    socket = standin.ro_socket if readonly else standin.rw_socket
    return {
        "keyfile": str(sshd.client_key),
        "known_hosts": str(sshd.known_hosts),
        "command": HELPER,
        "socket": str(socket),
        **extra,
    }


async def test_read_write_over_ssh(sshd: Sshd, standin: StandInDaemon) -> None:
    tunnel = SshTunnel("127.0.0.1", sshd.port, sshd.user, params(sshd, standin))
    async with channel_through(tunnel) as ch:
        assert await get_version(ch) == STANDIN_VERSION
        assert await start_domain(ch, 11) == "job-1"
        assert standin.services.domains.started == [11]


async def test_read_only_over_ssh(sshd: Sshd, standin: StandInDaemon) -> None:
    tunnel = SshTunnel("127.0.0.1", sshd.port, sshd.user, params(sshd, standin, readonly="1"))
    async with channel_through(tunnel) as ch:
        assert await get_version(ch) == STANDIN_VERSION
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await start_domain(ch, 11)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # The daemon records the ssh user; the uid is the kernel's word for it.
    caller = standin.services.host.callers[-1]
    assert (caller.transport, caller.name, caller.read_only) == ("ssh", sshd.user, True)
    assert caller.uid == pwd.getpwnam(sshd.user).pw_uid


async def test_each_grpc_connection_gets_its_own_ssh(sshd: Sshd, standin: StandInDaemon) -> None:
    tunnel = SshTunnel("127.0.0.1", sshd.port, sshd.user, params(sshd, standin))
    async with tunnel as target:
        for _ in range(3):
            async with grpc.aio.insecure_channel(target, options=remote_channel_options()) as ch:
                assert await get_version(ch) == STANDIN_VERSION


async def test_a_key_the_server_does_not_know_is_refused(
    sshd: Sshd, standin: StandInDaemon, tmp_path: Path
) -> None:
    stranger = tmp_path / "stranger"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True, timeout=20
    )
    tunnel = SshTunnel(
        "127.0.0.1", sshd.port, sshd.user, params(sshd, standin, keyfile=str(stranger))
    )
    with pytest.raises(AuthenticationFailed, match="refused"):
        await tunnel.start_async()


async def test_an_unknown_host_key_is_refused(
    sshd: Sshd, standin: StandInDaemon, tmp_path: Path
) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    tunnel = SshTunnel(
        "127.0.0.1", sshd.port, sshd.user, params(sshd, standin, known_hosts=str(empty))
    )
    with pytest.raises(AuthenticationFailed, match="host key"):
        await tunnel.start_async()


async def test_a_missing_remote_socket_is_named(
    sshd: Sshd, standin: StandInDaemon, tmp_path: Path
) -> None:
    tunnel = SshTunnel(
        "127.0.0.1", sshd.port, sshd.user, params(sshd, standin, socket=str(tmp_path / "no.sock"))
    )
    with pytest.raises(TransportError, match=r"cannot connect to .*no\.sock"):
        await tunnel.start_async()


def test_ssh_command_line_is_argv_with_options_before_the_host() -> None:
    argv = ssh_argv(
        "example.com",
        2222,
        "root",
        {"keyfile": "/k", "known_hosts": "/kh", "readonly": "1", "socket": "/run/x y.sock"},
    )
    assert argv[0] == "ssh" and argv[-3] == "--" and argv[-2] == "example.com"
    assert "BatchMode=yes" in argv and "StrictHostKeyChecking=yes" in argv
    assert argv[-1] == "openvzd-ssh-helper --readonly --socket '/run/x y.sock'"
    assert remote_command({"command": "/opt/helper; rm -rf /"}) == "'/opt/helper; rm -rf /'"


@pytest.mark.parametrize("host", ["-oProxyCommand=evil", "a b", ""])
def test_hosts_that_could_be_read_as_options_are_refused(host: str) -> None:
    with pytest.raises(TransportError):
        ssh_argv(host, None, None, {})


def test_the_helper_finds_the_sockets_in_the_daemon_config(tmp_path: Path) -> None:
    config = tmp_path / "openvzd.toml"
    config.write_text('[paths]\nrun_dir = "/srv/run"\n')
    assert default_socket(config, readonly=False) == Path("/srv/run/openvzd.sock")
    assert default_socket(config, readonly=True) == Path("/srv/run/openvzd-ro.sock")


async def test_name_picks_the_remote_uri_like_libvirt(sshd: Sshd, standin: StandInDaemon) -> None:
    """?name= is the local URI the helper opens on the remote host; its ?readonly
    leads to the read-only sibling of its ?socket=."""
    base = {k: v for k, v in params(sshd, standin).items() if k != "socket"}
    named = {**base, "name": f"openvz:///system?socket={standin.rw_socket}&readonly"}
    async with channel_through(SshTunnel("127.0.0.1", sshd.port, sshd.user, named)) as ch:
        assert await get_version(ch) == STANDIN_VERSION
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await start_domain(ch, 12)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    elsewhere = {**base, "name": "openvz://other.example/system"}
    with pytest.raises(TransportError, match="not a local URI of this host"):
        await SshTunnel("127.0.0.1", sshd.port, sshd.user, elsewhere).start_async()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("openvz:///system", (None, False)),
        ("openvz+unix:///system?readonly", (None, True)),
        ("openvz:///system?socket=/run/x/openvzd.sock", (Path("/run/x/openvzd.sock"), False)),
        ("openvz:///system?socket=/run/x/a.sock&readonly=1", (Path("/run/x/a.sock"), True)),
    ],
)
def test_helper_names(name: str, expected: tuple[Path | None, bool]) -> None:
    assert socket_of_name(name) == expected


def test_a_read_only_request_never_reaches_a_read_write_socket(tmp_path: Path) -> None:
    config = tmp_path / "openvzd.toml"
    config.write_text('[paths]\nrun_dir = "/srv/run"\n')
    rw, ro = Path("/run/x/openvzd.sock"), Path("/run/x/openvzd-ro.sock")
    assert chosen_socket(rw, True, config) == ro
    assert chosen_socket(ro, True, config) == ro
    assert chosen_socket(rw, False, config) == rw
    assert chosen_socket(None, True, config) == Path("/srv/run/openvzd-ro.sock")


@pytest.mark.parametrize(
    "name",
    [
        "qemu:///system",
        "openvz://host/system",
        "openvz:///session",
        "openvz:///system?pkipath=/x",
        "openvz:///system?socket=relative.sock",
    ],
)
def test_helper_refuses_names_it_cannot_serve(name: str) -> None:
    with pytest.raises(BadName):
        socket_of_name(name)


def test_name_goes_after_the_helper_options() -> None:
    assert remote_command({"name": "-x", "readonly": "1"}) == "openvzd-ssh-helper --readonly -- -x"


def test_no_tty_is_accepted_and_ssh_never_prompts() -> None:
    argv = ssh_argv("example.com", None, None, {"no_tty": "1"})
    assert "-T" in argv and "BatchMode=yes" in argv
    assert argv == ssh_argv("example.com", None, None, {})
