"""Domain XML through the real daemon on vzsim: a title and a type='mount'
container survive dumpxml -> define, libvirt's driver output defines, a failed
define on an existing directory leaves the directory, and what the host cannot
honour is refused before it is journaled."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from openvz.v1 import common_pb2, domains_pb2, domains_pb2_grpc
from openvzd.domxml import parse_domain
from openvzd.vz.conffile import read_config

from tests.daemon_process import BIN, DaemonProcess, running_daemon

DATA = Path(__file__).parent.parent / "data" / "domxml"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    sim_dir = tmp_path_factory.mktemp("domxml") / "sim"
    sim_dir.mkdir()
    # Where type='mount' containers may live besides /vz/private (vz/storage.py).
    (sim_dir / "openvzd.toml").write_text('[storage]\nmount_roots = ["/srv/containers"]\n')
    with running_daemon(sim_dir) as process:
        yield process


@pytest.fixture(scope="module")
def domains(daemon: DaemonProcess) -> Iterator[domains_pb2_grpc.DomainsStub]:
    with daemon.channel() as channel:
        yield domains_pb2_grpc.DomainsStub(channel)


def _define(domains: domains_pb2_grpc.DomainsStub, xml: str) -> None:
    domains.Define(domains_pb2.DefineRequest(xml=xml), timeout=60)


def _dumpxml(domains: domains_pb2_grpc.DomainsStub, veid: int) -> str:
    ref = common_pb2.DomainRef(id=veid)
    return domains.GetXML(domains_pb2.GetXMLRequest(domain=ref), timeout=60).xml


def _conf(daemon: DaemonProcess, veid: int) -> Path:
    return daemon.host_root / "etc" / "vz" / "conf" / f"{veid}.conf"


def _undefine(domains: domains_pb2_grpc.DomainsStub, veid: int) -> None:
    ref = common_pb2.DomainRef(id=veid)
    domains.Undefine(domains_pb2.UndefineRequest(domain=ref), timeout=60)


def test_a_mount_container_with_a_title_round_trips_through_dumpxml(
    daemon: DaemonProcess, domains: domains_pb2_grpc.DomainsStub
) -> None:
    private = daemon.host_root / "srv" / "containers" / "230"
    (private / "sbin").mkdir(parents=True)
    (private / "sbin" / "init").write_text("#!/bin/sh\n")
    xml = (DATA / "mount-title-tunes-in.xml").read_text()
    _define(domains, xml)
    config = read_config(_conf(daemon, 230))
    assert config.values["VE_PRIVATE"] == "/srv/containers/230"
    assert "OSTEMPLATE" not in config.values
    assert config.title == 'web front end (eu-west) — "blue"'
    assert config.values["HOSTNAME"] == "web.example.com"
    assert config.values["CPULIMIT"] == "150" and config.values["VMGUARPAGES"] == "65536:unlimited"
    ref = common_pb2.DomainRef(id=230)
    assert domains.Lookup(ref, timeout=60).title == config.title  # ovzsh list --title
    dumped = _dumpxml(domains, 230)
    assert dumped == (DATA / "mount-title-tunes-out.xml").read_text()
    domains.Start(domains_pb2.DomainCall(domain=common_pb2.DomainRef(id=230)), timeout=60)
    domains.Destroy(domains_pb2.DomainCall(domain=common_pb2.DomainRef(id=230)), timeout=60)
    # The same container again from its own dumpxml, under another ID on another directory.
    other = daemon.host_root / "srv" / "containers" / "231"
    (other / "sbin").mkdir(parents=True)
    (other / "sbin" / "init").symlink_to("/lib/systemd/systemd")
    again = dumped.replace("<name>230</name>", "<name>231</name>").replace("/230", "/231")
    again = again.replace("veth230.1", "veth231.1").replace("5d1c2f0e", "6d1c2f0e")
    _define(domains, again)
    assert _dumpxml(domains, 231) == again


def test_a_failed_define_on_an_existing_directory_keeps_the_directory(
    daemon: DaemonProcess, domains: domains_pb2_grpc.DomainsStub
) -> None:
    private = daemon.host_root / "srv" / "containers" / "kept"
    (private / "sbin").mkdir(parents=True)
    (private / "sbin" / "init").write_text("#!/bin/sh\n")
    (private / "precious").write_text("data")
    knobs = daemon.host_root / ".vzsim" / "knobs.json"
    knobs.write_text(json.dumps({"faults": [{"command": "set", "count": 1, "exit": 21}]}))
    xml = (
        "<domain type='openvz'><name>240</name><vcpu>2</vcpu><devices>"
        "<filesystem type='mount'><source dir='/srv/containers/kept'/></filesystem>"
        "</devices></domain>"
    )
    try:
        with pytest.raises(grpc.RpcError) as caught:
            _define(domains, xml)
    finally:
        knobs.write_text("{}")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert not _conf(daemon, 240).exists()
    assert (private / "precious").read_text() == "data"


@pytest.mark.parametrize(
    ("xml", "code", "words"),
    [
        (
            "<domain type='openvz'><name>241</name><memory>1048576</memory><memtune>"
            "<soft_limit>524288</soft_limit></memtune><devices><filesystem type='template'>"
            "<source name='centos-7-x86_64-minimal'/></filesystem></devices></domain>",
            grpc.StatusCode.INVALID_ARGUMENT,
            "a VSwap host has no soft memory limit",
        ),
        (
            "<domain type='openvz'><name>242</name><devices><filesystem type='mount'>"
            "<source dir='/srv/containers/nowhere'/></filesystem></devices></domain>",
            grpc.StatusCode.INVALID_ARGUMENT,
            "is not a directory on the host",
        ),
        (
            "<domain type='openvz'><name>244</name><devices><filesystem type='mount'>"
            "<source dir='/etc'/></filesystem></devices></domain>",
            grpc.StatusCode.INVALID_ARGUMENT,
            "is not inside a private root",
        ),
        (
            "<domain type='openvz'><name>243</name><devices><filesystem type='mount'>"
            "<source dir='/vz/private/150'/></filesystem></devices></domain>",
            grpc.StatusCode.ALREADY_EXISTS,
            "private area of container 150",
        ),
    ],
)
def test_what_the_host_cannot_honour_is_refused_with_why(
    daemon: DaemonProcess,
    domains: domains_pb2_grpc.DomainsStub,
    xml: str,
    code: grpc.StatusCode,
    words: str,
) -> None:
    if "/vz/private/150" in xml and not _conf(daemon, 150).exists():
        _define(domains, (daemon.sim_dir / "example-150.xml").read_text())
    with pytest.raises(grpc.RpcError) as caught:
        _define(domains, xml)
    assert caught.value.code() == code
    assert words in caught.value.details()


def test_libvirts_driver_output_defines_and_dumps_as_the_same_container(
    daemon: DaemonProcess, domains: domains_pb2_grpc.DomainsStub
) -> None:
    xml = (DATA / "libvirt-driver-output-in.xml").read_text()
    template = daemon.host_root / "vz" / "template" / "cache"
    (template / "rhel-5-lystor.tar.gz").write_bytes(
        (template / "centos-7-x86_64-minimal.tar.gz").read_bytes()
    )
    _define(domains, xml)
    config = read_config(_conf(daemon, 105)).values
    assert config["IP_ADDRESS"] == "194.44.18.88 2001:db8::88/64"
    assert config["DISKSPACE"] == "107733379:118506717"
    assert "ifname=eth10" in config["NETIF"] and "host_ifname=veth105.10" in config["NETIF"]
    dumped = parse_domain(_dumpxml(domains, 105))
    expected = parse_domain((DATA / "libvirt-driver-output-out.xml").read_text())
    # libvirt's 0 meant "not set": the sample config's memory is what the container
    # has, and dumpxml says so (libvirt's own dumpxml kept saying 0).
    assert (dumped.memory_kib, dumped.swap_hard_limit_kib) == (262144, 786432)
    expected.memory_kib, expected.swap_hard_limit_kib = 262144, 786432
    expected.cpu_shares = dumped.cpu_shares  # also the sample's
    assert dumped == expected
    _undefine(domains, 105)


def test_a_failed_define_from_a_template_destroys_what_create_made(
    daemon: DaemonProcess, domains: domains_pb2_grpc.DomainsStub
) -> None:
    knobs = daemon.host_root / ".vzsim" / "knobs.json"
    knobs.write_text(json.dumps({"faults": [{"command": "set", "count": 1, "exit": 21}]}))
    xml = (
        "<domain type='openvz'><name>245</name><title>t</title><vcpu>2</vcpu><devices>"
        "<filesystem type='template'><source name='centos-7-x86_64-minimal'/></filesystem>"
        "</devices></domain>"
    )
    try:
        with pytest.raises(grpc.RpcError) as caught:
            _define(domains, xml)
    finally:
        knobs.write_text("{}")
    assert "set 245 --cpus 2 --save failed with exit code 21" in caught.value.details()
    assert not _conf(daemon, 245).exists()
    assert not (daemon.host_root / "vz" / "private" / "245").exists()
    _define(domains, xml)  # nothing is left in the way of a second try
    assert read_config(_conf(daemon, 245)).title == "t"


def test_setmem_on_a_host_without_vswap_sets_privvmpages(tmp_path: Path) -> None:
    """virsh setmem means the same limit memtune --hard-limit sets: on a UBC-only
    host (vzctl 3.0.23) that is PRIVVMPAGES, since --ram needs VSwap."""
    sim = tmp_path / "sim"
    host = sim / "host"
    host.parent.mkdir(parents=True)
    subprocess.run(
        [str(BIN / "vzsim"), "init", str(host), "--personality", "3.0.23"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    xml = (DATA / "ubc-setmem.xml").read_text()
    with running_daemon(sim) as process, process.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)
        _define(stub, xml)
        ref = common_pb2.DomainRef(id=160)
        stub.SetMemory(domains_pb2.SetMemoryRequest(domain=ref, memory_kib=1048576), timeout=60)
        values = read_config(_conf(process, 160)).values
        assert values["PRIVVMPAGES"] == "262144:262144"
        assert stub.GetInfo(ref, timeout=60).max_memory_kib == 1048576


def test_resolvers_set_by_ovzsh_survive_dumpxml_and_define(
    daemon: DaemonProcess, domains: domains_pb2_grpc.DomainsStub
) -> None:
    """NAMESERVER and SEARCHDOMAIN have no libvirt element; they travel in
    openvzd's <metadata>, so a container defined from dumpxml resolves alike."""
    xml = (daemon.sim_dir / "example-150.xml").read_text().replace("150", "240")
    _define(domains, xml)
    ref = common_pb2.DomainRef(id=240)
    domains.SetNameservers(
        domains_pb2.SetNameserversRequest(
            domain=ref, nameservers=["10.0.0.53", "2001:db8::53"], search_domains=["example.com"]
        ),
        timeout=60,
    )
    dumped = _dumpxml(domains, 240)
    assert "<openvzd:nameserver>2001:db8::53</openvzd:nameserver>" in dumped
    _define(
        domains,
        dumped.replace("<name>240</name>", "<name>241</name>")
        .replace(parse_domain(dumped).uuid, "7e0c2f0e-0000-4000-8000-000000000241")
        .replace("10.0.240.1", "10.0.241.1"),
    )
    values = read_config(_conf(daemon, 241)).values
    assert values["NAMESERVER"] == "10.0.0.53 2001:db8::53"
    assert values["SEARCHDOMAIN"] == "example.com"
