"""Domain XML both ways: safe parsing, refusals that name the element, schema, round trips."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from openvzd.domxml import device_args, format_domain, parse_domain
from openvzd.vz.errors import ErrorKind, VzError
from openvzd.vz.plan import plan_define
from openvzd.vz.spec import (
    ContainerSpec,
    Interface,
    derived_host_mac,
    spec_from_config,
    validate_ip,
)

SCHEMA = Path("/usr/share/libvirt/schemas/domain.rng")


def _schema() -> etree.RelaxNG:
    if not SCHEMA.exists():
        pytest.skip("libvirt0's schemas are not installed (make test installs them)")
    return etree.RelaxNG(etree.parse(str(SCHEMA)))


def _refused(xml: str) -> str:
    with pytest.raises(VzError) as caught:
        parse_domain(xml)
    assert caught.value.kind is ErrorKind.BAD_ARGUMENT
    return caught.value.message


SIMPLE = """<domain type='openvz'>
  <name>100</name>
  <uuid>7109d234-f5a8-30a6-5dd2-39ca85ce3958</uuid>
  <vcpu>1</vcpu>
  <os><type>exe</type><init>/sbin/init</init></os>
  <devices>
    <filesystem type='template' accessmode='passthrough'>
      <source name='debian'/>
      <target dir='/'/>
      <space_hard_limit>1153024</space_hard_limit>
      <space_soft_limit>1048576</space_soft_limit>
    </filesystem>
  </devices>
</domain>"""


def test_memory_is_optional_as_in_libvirts_own_example() -> None:
    spec = parse_domain(SIMPLE)
    assert (spec.veid, spec.ostemplate, spec.memory_kib) == (100, "debian", 0)
    assert (spec.disk_soft_kib, spec.disk_hard_kib) == (1048576, 1153024)
    assert plan_define(spec, vswap=True)[0].args == (
        "--quiet",
        "create",
        "100",
        "--ostemplate",
        "debian",
    )


@pytest.mark.parametrize(
    ("xml", "words"),
    [
        (
            '<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><domain type="openvz">'
            "<name>&x;</name></domain>",
            "DOCTYPE",
        ),
        (
            '<!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><domain>&b;</domain>',
            "DOCTYPE",
        ),
        ("<domain type='kvm'><name>101</name></domain>", "type='openvz'"),
        ("<domain type='openvz'><name>web</name></domain>", "container ID in decimal"),
        ("<domain type='openvz'><name>0</name></domain>", "the host itself"),
        ("<domain type='openvz'><name>101</name><devices><disk/></devices></domain>", "<disk>"),
        ("<domain type='openvz'><name>101</name><features/></domain>", "<features>"),
        (
            "<domain type='openvz'><name>101</name><devices><graphics/></devices></domain>",
            "<graphics>",
        ),
        ("<domain type='openvz'><name>101</name></domain>", "OS template"),
        ("<domain", "not well-formed"),
        ("<domain type='openvz'>" + "<x/>" * 300_000 + "</domain>", "larger than"),
    ],
)
def test_bad_xml_is_refused_with_a_reason(xml: str, words: str) -> None:
    assert words in _refused(xml)


def test_values_that_would_inject_are_refused() -> None:
    base = SIMPLE.replace("name='debian'", "name='{}'")
    assert "template" in _refused(base.format("--help"))
    assert "template" in _refused(base.format("a b"))
    ip = SIMPLE.replace(
        "</devices>", "<interface type='ethernet'><ip address='1.2.3.4;rm'/></interface></devices>"
    )
    assert "IPv4 or IPv6" in _refused(ip)


def test_formatted_xml_validates_against_libvirts_schema() -> None:
    schema = _schema()
    spec = parse_domain(SIMPLE)
    spec.memory_kib, spec.swap_hard_limit_kib, spec.cpu_shares = 262144, 786432, 1000
    spec.ip_addresses = ["10.0.0.1/24", "2001:db8::1"]
    spec.interfaces = [
        Interface("eth0", "00:18:51:AA:BB:CC", "veth100.0", "00:18:51:DD:EE:FF", "br0")
    ]
    document = etree.fromstring(format_domain(spec, running=True, domain_id=100))
    assert schema.validate(document), schema.error_log


def test_libvirts_schema_still_refuses_template_names_with_dots() -> None:
    """Real template names have dots (centos-6-x86, debian-11.0-x86_64-minimal) and
    openvzd accepts them, but libvirt's schema types the name as genericName
    ([a-zA-Z0-9_+-]+). When this test fails, libvirt fixed it."""
    schema = _schema()
    spec = parse_domain(SIMPLE.replace("name='debian'", "name='debian-11.0-x86_64-minimal'"))
    assert not schema.validate(etree.fromstring(format_domain(spec)))


def test_config_forms_that_made_libvirts_devices_vanish() -> None:
    values = {
        "PHYSPAGES": "0:256M",
        "SWAPPAGES": "0:512M",
        "DISKSPACE": "2G:2.2G",
        "IP_ADDRESS": "10.0.0.1/24 2001:db8::1",
        "OSTEMPLATE": "centos-6-x86",
        "NETIF": "ifname=eth0,mac=00:18:51:C1:05:EE,host_ifname=veth101.0,"
        "host_mac=00:18:51:8F:D9:F3,bridge=br0;ifname=eth1,mac=00:18:51:C1:05:EF,"
        "host_ifname=veth101.1,host_mac=00:18:51:8F:D9:F4",
        "PRIVVMPAGES": "unlimited",
    }
    spec = spec_from_config(values, 101, "7109d234-f5a8-30a6-5dd2-39ca85ce3958")
    assert spec.memory_kib == 262144 and spec.swap_hard_limit_kib == 786432
    assert (spec.disk_soft_kib, spec.disk_hard_kib) == (2097152, 2306867)
    assert spec.ip_addresses == ["10.0.0.1/24", "2001:db8::1"]
    assert [i.host_dev for i in spec.interfaces] == ["veth101.0", "veth101.1"]
    assert spec.interfaces[0].bridge == "br0"
    xml = format_domain(spec)
    again = parse_domain(xml)
    assert again.interfaces[0].guest_mac == spec.interfaces[0].guest_mac
    assert format_domain(again) == xml


def test_attaching_an_interface_numbers_it_after_the_last() -> None:
    current = ContainerSpec(
        101, interfaces=[Interface("eth3", "00:18:51:00:00:01", "veth101.3", "00:18:51:00:00:02")]
    )
    args = device_args(
        "<interface type='bridge'><source bridge='br1'/></interface>", current, attach=True
    )
    assert args[0] == "--netif_add"
    guest, guest_mac, host, host_mac, bridge = args[1].split(",")
    assert (guest, host, bridge) == ("eth4", "veth101.4", "br1")
    assert guest_mac.startswith("00:18:51:") and host_mac != guest_mac


def _interfaces(veid: int, numbers: list[int], bridges: list[str]) -> list[Interface]:
    interfaces = []
    for index, (number, bridge) in enumerate(zip(numbers, bridges, strict=False)):
        guest_dev, guest_mac = f"eth{number}", f"00:18:51:00:{index:02X}:{number % 256:02X}"
        interfaces.append(
            Interface(
                guest_dev,
                guest_mac,
                f"veth{veid}.{number}",
                derived_host_mac(veid, guest_dev, guest_mac),
                bridge,
            )
        )
    return interfaces


@st.composite
def specs(draw: st.DrawFn) -> ContainerSpec:
    """Every field the XML carries, within what parse_domain accepts (both
    filesystem kinds, UBC-style soft limits and VSwap-style swap limits)."""
    veid = draw(st.integers(1, 2147483644))
    memory = draw(st.integers(0, 1 << 30))
    spec = ContainerSpec(
        veid=veid,
        uuid=str(draw(st.uuids())),
        title=draw(st.from_regex(r"[^\x00-\x1f\x7f]{0,40}", fullmatch=True).map(str.strip)),
        description=draw(st.from_regex(r"[a-zA-Z0-9 .,-]{0,30}", fullmatch=True).map(str.strip)),
        hostname=draw(st.from_regex(r"(ct[a-z0-9]{1,8}(\.example\.com)?)?", fullmatch=True)),
        memory_kib=memory,
        vcpus=draw(st.integers(0, 64)),
        cpu_shares=draw(st.sampled_from([0, 8, 1000, 500000])),
        cpu_limit_percent=draw(st.integers(0, 6400)),
        disk_hard_kib=draw(st.integers(0, 1 << 40)),
        ip_addresses=draw(st.lists(st.ip_addresses().map(str), max_size=3, unique=True)),
        nameservers=draw(
            st.lists(st.ip_addresses().map(str) | st.just("inherit"), max_size=3, unique=True)
        ),
        search_domains=draw(
            st.lists(st.from_regex(r"[a-z]{1,8}(\.example)?", fullmatch=True), max_size=2)
        ),
    )
    if draw(st.booleans()):
        spec.ostemplate = draw(st.from_regex(r"[a-z0-9][a-z0-9_+.-]{0,20}", fullmatch=True))
    else:
        spec.private_dir = draw(st.from_regex(r"(/[a-z0-9_.-]{0,8}[a-z0-9]){1,3}", fullmatch=True))
    if memory:
        spec.memory_soft_kib = draw(st.sampled_from([0, memory // 2]))
        spec.swap_hard_limit_kib = draw(st.sampled_from([0, memory, memory * 2]))
        spec.min_guarantee_kib = draw(st.sampled_from([0, memory // 4]))
    spec.disk_soft_kib = draw(st.sampled_from([0, spec.disk_hard_kib // 2]))
    numbers = draw(st.lists(st.integers(0, 99), max_size=3, unique=True))
    bridges = draw(st.lists(st.sampled_from(["", "br0", "vmbr1"]), min_size=3, max_size=3))
    spec.interfaces = _interfaces(veid, numbers, bridges)
    return spec


def _same_meaning(spec: ContainerSpec) -> ContainerSpec:
    """spec as parse_domain reads it back: IPs normalised, limits equal to the one
    they refine left out."""
    spec.ip_addresses = [validate_ip(a) for a in spec.ip_addresses]
    if spec.memory_soft_kib == spec.memory_kib:
        spec.memory_soft_kib = 0
    if spec.swap_hard_limit_kib == spec.memory_kib:
        spec.swap_hard_limit_kib = 0
    if spec.disk_soft_kib == spec.disk_hard_kib:
        spec.disk_soft_kib = 0
    return spec


@settings(max_examples=150)
@given(specs())
def test_xml_spec_xml_round_trip(spec: ContainerSpec) -> None:
    xml = format_domain(spec)
    back = parse_domain(xml)
    assert back == _same_meaning(spec)
    assert format_domain(back) == xml


@settings(max_examples=150)
@given(specs())
def test_every_formatted_xml_validates_against_libvirts_schema(spec: ContainerSpec) -> None:
    schema = _schema()
    # The one known conflict: genericName has no dots (see the test below).
    spec.ostemplate = spec.ostemplate.replace(".", "_")
    document = etree.fromstring(format_domain(spec, running=True, domain_id=spec.veid))
    assert schema.validate(document), schema.error_log


def test_libvirts_own_output_forms_are_accepted_and_impossible_ones_refused() -> None:
    libvirt_style = SIMPLE.replace(
        "<vcpu>1</vcpu>",
        "<memory unit='KiB'>0</memory><currentMemory unit='KiB'>0</currentMemory>"
        "<vcpu placement='static'>1</vcpu><clock offset='utc'/>"
        "<on_poweroff>destroy</on_poweroff><on_reboot>destroy</on_reboot>"
        "<on_crash>destroy</on_crash>",
    )
    assert parse_domain(libvirt_style).memory_kib == 0
    assert "on_crash" in _refused(
        libvirt_style.replace(
            "<on_crash>destroy</on_crash>", "<on_crash>coredump-restart</on_crash>"
        )
    )
    assert "<clock>" in _refused(libvirt_style.replace("offset='utc'", "offset='localtime'"))


def test_memory_becomes_ram_and_swap_on_vswap_hosts_and_privvmpages_elsewhere() -> None:
    spec = parse_domain(
        SIMPLE.replace(
            "<vcpu>1</vcpu>",
            "<memory unit='MiB'>512</memory>"
            "<memtune><swap_hard_limit unit='GiB'>1</swap_hard_limit>"
            "</memtune><vcpu>2</vcpu>",
        )
    )
    vswap = plan_define(spec, vswap=True)[1].args
    assert vswap[:3] == ("--quiet", "set", "100")
    assert vswap[3:9] == ("--ram", "524288K", "--swap", "524288K", "--cpus", "2")
    assert vswap[-1] == "--save"
    with pytest.raises(VzError, match="no VSwap"):
        plan_define(spec, vswap=False)
    spec.swap_hard_limit_kib = 0
    ubc = plan_define(spec, vswap=False)[1].args
    assert ubc[3:5] == ("--privvmpages", "131072:131072")
