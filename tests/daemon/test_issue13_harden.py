"""Issue 13, items 1, 2 and 7, and issue 15's veth host names, replayed against
the real daemon on vzsim: each attack of the audit is refused with the reason,
and nothing outside the private roots is deleted or renamed."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from openvz.v1 import common_pb2, domains_pb2, domains_pb2_grpc
from openvzd.vz.conffile import read_config
from openvzd.vz.storage import CREATED_MARKER

from tests.client.helpers import OVZSH, ovzsh_env, uri_of
from tests.client.pty_process import PtyProcess
from tests.daemon_process import DaemonProcess, running_daemon

DATA = Path(__file__).parent.parent / "data" / "domxml"
TEMPLATE = "centos-7-x86_64-minimal"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    sim_dir = tmp_path_factory.mktemp("issue13") / "sim"
    sim_dir.mkdir()
    (sim_dir / "openvzd.toml").write_text('[storage]\nmount_roots = ["/srv/containers"]\n')
    with running_daemon(sim_dir) as process:
        yield process


@pytest.fixture(scope="module")
def domains(daemon: DaemonProcess) -> Iterator[domains_pb2_grpc.DomainsStub]:
    with daemon.channel() as channel:
        yield domains_pb2_grpc.DomainsStub(channel)


def _xml(veid: int, devices: str = "", extra: str = "") -> str:
    return (
        f"<domain type='openvz'><name>{veid}</name>{extra}<devices>"
        f"<filesystem type='template'><source name='{TEMPLATE}'/></filesystem>{devices}"
        "</devices></domain>"
    )


def _mount_xml(veid: int, source: str) -> str:
    return (
        f"<domain type='openvz'><name>{veid}</name><devices><filesystem type='mount'>"
        f"<source dir='{source}'/></filesystem></devices></domain>"
    )


def _define(domains: domains_pb2_grpc.DomainsStub, xml: str) -> common_pb2.Job:
    return domains.Define(domains_pb2.DefineRequest(xml=xml), timeout=60).job


def _refused(call: object, code: grpc.StatusCode) -> str:
    assert callable(call)
    with pytest.raises(grpc.RpcError) as caught:
        call()
    assert caught.value.code() == code, caught.value.details()
    return str(caught.value.details())


def _ref(veid: int) -> common_pb2.DomainRef:
    return common_pb2.DomainRef(id=veid)


def _conf(daemon: DaemonProcess, veid: int) -> Path:
    return daemon.host_root / "etc" / "vz" / "conf" / f"{veid}.conf"


def _container_dir(daemon: DaemonProcess, path: str) -> Path:
    """A directory that looks like a container's files (it has sbin/init)."""
    folder = daemon.host_root / path.lstrip("/")
    (folder / "sbin").mkdir(parents=True, exist_ok=True)
    (folder / "sbin" / "init").write_text("#!/bin/sh\n")
    (folder / "precious").write_text("host data")
    return folder


# -- item 2: shell in CTID.conf ------------------------------------------------


@pytest.mark.parametrize(
    "address",
    ["fe80::1%$(id>/tmp/x)", "fe80::1%`id`", "fe80::1%eth0\nX=1", 'fe80::1%eth0"', "10.0.0.1%lo"],
)
def test_a_scope_id_that_is_no_interface_name_is_refused(
    daemon: DaemonProcess, domains: domains_pb2_grpc.DomainsStub, address: str, tmp_path: Path
) -> None:
    ip = f"<interface type='ethernet'><ip address='{address}' prefix='64'/></interface>"
    # The audit's payload as it was, then aimed at a file this test can look for.
    for xml in (_xml(161, ip), _xml(161, ip).replace("/tmp/x", f"{tmp_path}/x")):
        words = _refused(
            lambda xml=xml: _define(domains, xml),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert "IP address" in words and "interface name" in words
        assert not _conf(daemon, 161).exists()
    assert not (tmp_path / "x").exists()


def test_a_scope_id_that_is_an_interface_name_is_kept(
    daemon: DaemonProcess, domains: domains_pb2_grpc.DomainsStub
) -> None:
    ip = "<interface type='ethernet'><ip address='fe80::1%eth0' prefix='64'/></interface>"
    _define(domains, _xml(162, ip))
    assert read_config(_conf(daemon, 162)).values["IP_ADDRESS"] == "fe80::1%eth0/64"


@pytest.fixture(scope="module")
def container_163(domains: domains_pb2_grpc.DomainsStub) -> int:
    _define(domains, _xml(163))
    return 163


@pytest.mark.parametrize(
    ("servers", "domains_", "words"),
    [
        (["8.8.8.8$(id)"], [], "nameserver"),
        (["1.1.1.1`id`"], [], "nameserver"),
        (["fe80::1%$(id)"], [], "nameserver"),
        (['1.1.1.1"'], [], "nameserver"),
        (["1.1.1.1\nIP_ADDRESS=1.2.3.4"], [], "nameserver"),
        (["10.0.0.53/24"], [], "nameserver"),
        ([], ["example.com$(id)"], "search domain"),
        ([], ["a b"], "search domain"),
    ],
)
def test_set_nameservers_refuses_what_would_run_in_a_shell(
    daemon: DaemonProcess,
    domains: domains_pb2_grpc.DomainsStub,
    container_163: int,
    servers: list[str],
    domains_: list[str],
    words: str,
) -> None:
    before = _conf(daemon, container_163).read_text()
    request = domains_pb2.SetNameserversRequest(
        domain=_ref(container_163), nameservers=servers, search_domains=domains_
    )
    message = _refused(
        lambda: domains.SetNameservers(request, timeout=60), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert words in message
    assert _conf(daemon, container_163).read_text() == before


def test_set_nameservers_takes_addresses_and_inherit(
    daemon: DaemonProcess, domains: domains_pb2_grpc.DomainsStub, container_163: int
) -> None:
    request = domains_pb2.SetNameserversRequest(
        domain=_ref(container_163),
        nameservers=["10.0.0.53", "2001:db8::53"],
        search_domains=["inherit"],
    )
    domains.SetNameservers(request, timeout=60)
    values = read_config(_conf(daemon, container_163)).values
    assert values["NAMESERVER"] == "10.0.0.53 2001:db8::53"
    assert values["SEARCHDOMAIN"] == "inherit"


@pytest.mark.parametrize("server", ["1.1.1.1$(id)", "`id`", "fe80::1%a;b"])
def test_metadata_nameservers_are_refused_the_same_way(
    daemon: DaemonProcess, domains: domains_pb2_grpc.DomainsStub, server: str
) -> None:
    metadata = (
        "<metadata><c:container xmlns:c='urn:x-openvzd:container:1'>"
        f"<c:nameserver>{server}</c:nameserver></c:container></metadata>"
    )
    words = _refused(
        lambda: _define(domains, _xml(164, extra=metadata)), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert "nameserver" in words
    assert not _conf(daemon, 164).exists()


@pytest.mark.parametrize("user", ["roöt", "root:x", "-root", "Root", "a" * 33, "root$(id)"])
def test_set_user_password_takes_only_passwd_user_names(
    domains: domains_pb2_grpc.DomainsStub, container_163: int, user: str
) -> None:
    request = domains_pb2.SetUserPasswordRequest(
        domain=_ref(container_163), user=user, password="correct horse"
    )
    words = _refused(
        lambda: domains.SetUserPassword(request, timeout=60), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert "user name" in words
    assert "correct horse" not in words


# -- issue 15: any interface name is a veth host end ---------------------------


def test_the_seeds_example_defines_and_keeps_its_host_interface_name(
    daemon: DaemonProcess, domains: domains_pb2_grpc.DomainsStub
) -> None:
    _define(domains, (DATA / "seed-veth-on-104-in.xml").read_text())
    netif = read_config(_conf(daemon, 104)).values["NETIF"]
    assert "ifname=eth0" in netif and "host_ifname=veth101.0" in netif
    dumped = domains.GetXML(domains_pb2.GetXMLRequest(domain=_ref(104)), timeout=60).xml
    assert '<target dev="veth101.0"/>' in dumped
    # Another container may not take that name: explicitly, or as its own default.
    veth = "<interface type='bridge'><source bridge='br0'/>{}</interface>"
    for veid, target in ((105, "<target dev='veth101.0'/>"), (101, "")):
        words = _refused(
            lambda veid=veid, target=target: _define(domains, _xml(veid, veth.format(target))),
            grpc.StatusCode.ALREADY_EXISTS,
        )
        assert "veth101.0" in words and "container 104" in words
        assert not _conf(daemon, veid).exists()


# -- item 1: undefine and mount safety ------------------------------------------


def test_a_host_directory_with_a_file_sbin_init_is_refused(
    daemon: DaemonProcess, domains: domains_pb2_grpc.DomainsStub
) -> None:
    www = _container_dir(daemon, "/srv/www2")
    words = _refused(
        lambda: _define(domains, _mount_xml(170, "/srv/www2")), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert "not inside a private root" in words and "mount_roots" in words
    assert (www / "precious").read_text() == "host data"
    assert not _conf(daemon, 170).exists()


@pytest.mark.parametrize("link", ["/var/lib/vz/private/180", "/srv/containers/alias"])
def test_a_symlink_to_another_containers_private_area_is_refused(
    daemon: DaemonProcess, domains: domains_pb2_grpc.DomainsStub, link: str
) -> None:
    if not _conf(daemon, 180).exists():
        _define(domains, _xml(180))
    private = daemon.host_root / "vz" / "private" / "180"
    (private / "precious").write_text("container 180's data")
    path = daemon.host_root / link.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(os.path.relpath(private, path.parent))
    words = _refused(
        lambda: _define(domains, _mount_xml(181, link)), grpc.StatusCode.ALREADY_EXISTS
    )
    assert "private area of container 180" in words
    assert (private / "precious").read_text() == "container 180's data"
    assert not _conf(daemon, 181).exists()


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("/srv/containers", "not inside a private root"),  # a root itself
        ("/vz/private", "not inside a private root"),
        ("/vz/root/180", "not inside a private root"),
        ("/srv/containers/up", "not inside a private root"),  # a link out of the root
    ],
)
def test_roots_and_links_out_of_them_are_refused(
    daemon: DaemonProcess, domains: domains_pb2_grpc.DomainsStub, source: str, words: str
) -> None:
    up = daemon.host_root / "srv" / "containers" / "up"
    if not up.is_symlink():
        up.parent.mkdir(parents=True, exist_ok=True)
        _container_dir(daemon, "/srv/elsewhere")
        up.symlink_to("../elsewhere")
    message = _refused(
        lambda: _define(domains, _mount_xml(182, source)), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert words in message


def test_a_mount_source_is_stored_resolved(
    daemon: DaemonProcess, domains: domains_pb2_grpc.DomainsStub
) -> None:
    real = _container_dir(daemon, "/srv/containers/real-183")
    (daemon.host_root / "srv" / "containers" / "link-183").symlink_to(real.name)
    _define(domains, _mount_xml(183, "/srv/containers/link-183"))
    config = read_config(_conf(daemon, 183))
    assert config.values["VE_PRIVATE"] == "/srv/containers/real-183"
    assert CREATED_MARKER not in _conf(daemon, 183).read_text()


def _hand_edited_mount(
    daemon: DaemonProcess, domains: domains_pb2_grpc.DomainsStub, veid: int, where: str
) -> Path:
    """A container whose config names a host directory, as an older openvzd or an
    administrator left it: defined from a template, then VE_PRIVATE pointed elsewhere."""
    _define(domains, _xml(veid))
    folder = _container_dir(daemon, where)
    conf = _conf(daemon, veid)
    text = conf.read_text().replace('VE_PRIVATE="/vz/private/$VEID"', f'VE_PRIVATE="{where}"')
    assert f'VE_PRIVATE="{where}"' in text
    conf.write_text(text.replace(CREATED_MARKER + "\n", ""))
    return folder


@pytest.mark.parametrize(("veid", "keep_storage"), [(190, False), (191, True)])
def test_undefine_leaves_a_directory_outside_the_roots_in_place(
    daemon: DaemonProcess, domains: domains_pb2_grpc.DomainsStub, veid: int, keep_storage: bool
) -> None:
    folder = _hand_edited_mount(daemon, domains, veid, f"/srv/www-{veid}")
    # The empty mount point a start leaves behind (vzctl mount makes it).
    mount_point = daemon.host_root / "vz" / "root" / str(veid)
    mount_point.mkdir(parents=True, exist_ok=True)
    request = domains_pb2.UndefineRequest(domain=_ref(veid), keep_storage=keep_storage)
    job = domains.Undefine(request, timeout=60).job
    assert job.state == common_pb2.JOB_STATE_SUCCEEDED, job.error.message
    assert f"left the private area /srv/www-{veid} in place" in job.outcome
    assert (folder / "precious").read_text() == "host data"
    assert not list(folder.parent.glob(f"www-{veid}.undefined-*"))
    assert not _conf(daemon, veid).exists()
    assert not mount_point.exists()  # its empty mount point goes, as vzctl destroy's
    _refused(lambda: domains.Lookup(_ref(veid), timeout=60), grpc.StatusCode.NOT_FOUND)


def test_undefine_removes_the_private_area_openvzd_created(
    daemon: DaemonProcess, domains: domains_pb2_grpc.DomainsStub
) -> None:
    _define(domains, _xml(192))
    assert CREATED_MARKER in _conf(daemon, 192).read_text()
    private = daemon.host_root / "vz" / "private" / "192"
    assert private.is_dir()
    job = domains.Undefine(domains_pb2.UndefineRequest(domain=_ref(192)), timeout=60).job
    assert job.state == common_pb2.JOB_STATE_SUCCEEDED and not job.outcome
    assert not private.exists()


def test_plain_undefine_keeps_a_private_area_inside_a_root_and_says_where(
    daemon: DaemonProcess, domains: domains_pb2_grpc.DomainsStub
) -> None:
    _define(domains, _xml(193))
    request = domains_pb2.UndefineRequest(domain=_ref(193), keep_storage=True)
    job = domains.Undefine(request, timeout=60).job
    assert job.outcome.startswith("kept the private area as /vz/private/193.undefined-")
    kept = daemon.host_root / job.outcome.rsplit(" ", 1)[1].lstrip("/")
    assert kept.is_dir()


# -- item 7: smaller findings ----------------------------------------------------


def test_two_containers_may_not_share_a_uuid(
    daemon: DaemonProcess, domains: domains_pb2_grpc.DomainsStub
) -> None:
    uuid = "5b0c3b9e-7d59-4f0e-9a43-0c6c0f3d2a11"
    _define(domains, _xml(200, extra=f"<uuid>{uuid}</uuid>"))
    words = _refused(
        lambda: _define(domains, _xml(201, extra=f"<uuid>{uuid.upper()}</uuid>")),
        grpc.StatusCode.ALREADY_EXISTS,
    )
    assert uuid in words and "container 200" in words
    assert not _conf(daemon, 201).exists()


def test_a_define_without_a_name_may_not_take_a_uuid_either(
    daemon: DaemonProcess, domains: domains_pb2_grpc.DomainsStub
) -> None:
    # Its ID is picked when the job runs, so the UUID is checked then.
    uuid = "7c1d4f2a-9b3e-4d5c-8e6f-1a2b3c4d5e6f"
    _define(domains, _xml(205, extra=f"<uuid>{uuid}</uuid>"))
    configs_before = sorted(_conf(daemon, 0).parent.glob("*.conf"))
    unnamed = _xml(0, extra=f"<uuid>{uuid}</uuid>").replace("<name>0</name>", "")
    words = _refused(lambda: _define(domains, unnamed), grpc.StatusCode.ALREADY_EXISTS)
    assert uuid in words and "container 205" in words
    assert sorted(_conf(daemon, 0).parent.glob("*.conf")) == configs_before


@pytest.mark.parametrize("veid", [1, 42, 100])
def test_reserved_container_ids_are_refused_with_the_reason(
    daemon: DaemonProcess, domains: domains_pb2_grpc.DomainsStub, veid: int
) -> None:
    words = _refused(lambda: _define(domains, _xml(veid)), grpc.StatusCode.INVALID_ARGUMENT)
    assert "reserved" in words and "vzctl(8)" in words and "101" in words
    assert not _conf(daemon, veid).exists()


def test_set_user_password_reads_standard_input(
    daemon: DaemonProcess, domains: domains_pb2_grpc.DomainsStub
) -> None:
    _define(domains, _xml(202))
    done = _ovzsh(daemon, "set-user-password", "202", "root", stdin="correct horse\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Password set successfully for root in 202")
    empty = _ovzsh(daemon, "set-user-password", "202", "root", stdin="")
    assert empty.returncode != 0
    assert "no password given" in empty.stderr
    # virsh's form stays, for scripts that must.
    explicit = _ovzsh(daemon, "set-user-password", "202", "root", "battery staple", stdin="")
    assert explicit.returncode == 0, explicit.stderr


def test_set_user_password_asks_on_a_terminal_without_echo(
    daemon: DaemonProcess, domains: domains_pb2_grpc.DomainsStub
) -> None:
    if not _conf(daemon, 202).exists():
        _define(domains, _xml(202))
    terminal = PtyProcess(
        [OVZSH, "-c", uri_of(daemon), "set-user-password", "202", "root"], ovzsh_env(TERM="xterm")
    )
    try:
        terminal.expect(rb"New password for root: ")
        terminal.send(b"tr0ub4dor\n")
        terminal.expect(rb"Retype the new password: ")
        terminal.send(b"tr0ub4dor\n")
        assert terminal.finish(timeout=60) == 0, terminal.output
    finally:
        terminal.close()
    assert b"Password set successfully for root in 202" in terminal.output
    assert b"tr0ub4dor" not in terminal.output


def _ovzsh(daemon: DaemonProcess, *args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [OVZSH, "-c", uri_of(daemon), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=ovzsh_env(),
    )


def test_a_state_directory_readable_by_others_is_made_private(tmp_path: Path) -> None:
    sim_dir = tmp_path / "sim"
    state = sim_dir / "state"
    state.mkdir(parents=True)
    state.chmod(0o755)
    with running_daemon(sim_dir) as process:
        assert stat.S_IMODE(state.stat().st_mode) == 0o700
        assert "was mode 0o755, readable by others" in process.log()


def test_a_state_directory_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    sim_dir = tmp_path / "sim"
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    sim_dir.mkdir()
    (sim_dir / "state").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(RuntimeError, match="is not a directory"), running_daemon(sim_dir):
        pass


def test_ovzsh_undefine_remove_all_storage_says_what_it_left(
    daemon: DaemonProcess, domains: domains_pb2_grpc.DomainsStub
) -> None:
    folder = _hand_edited_mount(daemon, domains, 194, "/srv/www-194")
    done = _ovzsh(daemon, "undefine", "194", "--remove-all-storage", stdin="")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        "Domain '194' has been undefined\nleft the private area /srv/www-194 in place"
    )
    assert (folder / "precious").read_text() == "host data"


def test_attach_takes_any_free_host_name_and_refuses_a_taken_one(
    daemon: DaemonProcess, domains: domains_pb2_grpc.DomainsStub, container_163: int
) -> None:
    veth = "<interface type='bridge'><source bridge='br0'/><target dev='{}'/></interface>"
    _define(domains, _xml(210, veth.format("web210")))

    def attach(name: str) -> common_pb2.Job:
        request = domains_pb2.DeviceRequest(
            domain=_ref(container_163), device_xml=veth.format(name)
        )
        return domains.AttachDevice(request, timeout=60).job

    words = _refused(lambda: attach("web210"), grpc.StatusCode.ALREADY_EXISTS)
    assert "web210" in words and "container 210" in words
    attach("web163")
    assert "host_ifname=web163" in read_config(_conf(daemon, container_163)).values["NETIF"]


def test_a_folder_inside_a_root_without_a_container_in_it_is_refused(
    daemon: DaemonProcess, domains: domains_pb2_grpc.DomainsStub
) -> None:
    (daemon.host_root / "srv" / "containers" / "empty-184").mkdir(parents=True)
    words = _refused(
        lambda: _define(domains, _mount_xml(184, "/srv/containers/empty-184")),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "has no sbin/init" in words
