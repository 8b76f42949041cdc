"""Domain XML: title, mount filesystems, memtune, cputune, os, libvirt's own
output, update planning. Fixture pairs live in tests/data/domxml/ (CASE-in.xml
-> CASE-out.xml); OPENVZD_REGENERATE=1 rewrites the -out files."""

from __future__ import annotations

import copy
import dataclasses
import os
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from openvzd.domxml import format_domain, parse_domain, update_device_spec
from openvzd.vz.conffile import parse_config, updated_text
from openvzd.vz.errors import ErrorKind, VzError
from openvzd.vz.plan import plan_define, plan_update, settings_args, with_memory
from openvzd.vz.spec import ContainerSpec, Interface, spec_from_config, validate_private_dir

DATA = Path(__file__).parent.parent / "data" / "domxml"
SCHEMA = Path("/usr/share/libvirt/schemas/domain.rng")
CASES = sorted(path.name.removesuffix("-in.xml") for path in DATA.glob("*-in.xml"))


def _refused(xml: str) -> str:
    with pytest.raises(VzError) as caught:
        parse_domain(xml)
    assert caught.value.kind is ErrorKind.BAD_ARGUMENT
    return caught.value.message


def _domain(body: str, devices: str = "") -> str:
    return (
        f"<domain type='openvz'><name>101</name>{body}<devices>"
        "<filesystem type='template'><source name='centos-7-x86_64-minimal'/>"
        f"<target dir='/'/></filesystem>{devices}</devices></domain>"
    )


@pytest.mark.parametrize("case", CASES)
def test_fixture_pairs(case: str) -> None:
    expected = DATA / f"{case}-out.xml"
    formatted = format_domain(parse_domain((DATA / f"{case}-in.xml").read_text()))
    if os.environ.get("OPENVZD_REGENERATE") or not expected.exists():
        expected.write_text(formatted)
    assert formatted == expected.read_text()
    assert format_domain(parse_domain(formatted)) == formatted
    if SCHEMA.exists():
        schema = etree.RelaxNG(etree.parse(str(SCHEMA)))
        assert schema.validate(etree.fromstring(formatted.encode())), schema.error_log


def test_libvirts_driver_output_defines_the_container_it_describes() -> None:
    spec = parse_domain((DATA / "libvirt-driver-output-in.xml").read_text())
    assert (spec.veid, spec.memory_kib, spec.vcpus, spec.ostemplate) == (105, 0, 2, "rhel-5-lystor")
    assert (spec.disk_soft_kib, spec.disk_hard_kib) == (107733379, 118506717)
    assert spec.ip_addresses == ["194.44.18.88", "2001:db8::88/64"]
    [veth] = spec.interfaces
    assert (veth.guest_dev, veth.host_dev, veth.guest_mac) == (
        "eth10",
        "veth105.10",
        "00:18:51:C1:05:EE",
    )
    assert veth.host_mac.startswith("00:18:51:") and veth.host_mac != veth.guest_mac
    args = settings_args(spec, vswap=True)
    assert "--ram" not in args  # memory 0: the sample config's memory stays
    assert args[args.index("--netif_add") + 1].startswith("eth10,00:18:51:C1:05:EE,veth105.10,")


def test_libvirts_example_memtune_maps_to_ubc_and_is_refused_on_vswap_with_why() -> None:
    spec = parse_domain(
        _domain(
            "<memory unit='KiB'>0</memory><memtune><hard_limit unit='KiB'>278528</hard_limit>"
            "<soft_limit unit='KiB'>262144</soft_limit>"
            "<min_guarantee unit='KiB'>135168</min_guarantee></memtune>"
        )
    )
    assert settings_args(spec, vswap=False)[:4] == [
        "--privvmpages",
        "65536:69632",
        "--vmguarpages",
        "33792:unlimited",
    ]
    with pytest.raises(VzError, match=r"<memtune><soft_limit>: a VSwap host"):
        plan_define(spec, vswap=True)
    back = spec_from_config(
        {"PRIVVMPAGES": "65536:69632", "VMGUARPAGES": "33792:unlimited", "OSTEMPLATE": "x"}, 101, ""
    )
    assert (back.memory_kib, back.memory_soft_kib, back.min_guarantee_kib) == (
        278528,
        262144,
        135168,
    )


def test_vswap_memory_with_min_guarantee_reads_back_from_what_vzctl_writes() -> None:
    spec = parse_domain(
        _domain(
            "<memory unit='MiB'>512</memory><memtune><swap_hard_limit unit='GiB'>1"
            "</swap_hard_limit><min_guarantee unit='MiB'>128</min_guarantee></memtune>"
        )
    )
    assert settings_args(spec, vswap=True)[:6] == [
        "--ram",
        "524288K",
        "--swap",
        "524288K",
        "--vmguarpages",
        "32768:unlimited",
    ]
    back = spec_from_config(
        {"PHYSPAGES": "0:131072", "SWAPPAGES": "0:512M", "VMGUARPAGES": "32768:unlimited"}, 101, ""
    )
    assert (back.memory_kib, back.swap_hard_limit_kib, back.min_guarantee_kib) == (
        524288,
        1048576,
        131072,
    )


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("<memory>1024</memory><memtune><hard_limit>2048</hard_limit></memtune>", "one memory"),
        ("<memory>1024</memory><memtune><soft_limit>2048</soft_limit></memtune>", "exceed"),
        (
            "<memory>4096</memory><memtune><swap_hard_limit>1024</swap_hard_limit></memtune>",
            "below",
        ),
        ("<memtune><swap_hard_limit>1024</swap_hard_limit></memtune>", "needs <memory>"),
        ("<memory>1024</memory><currentMemory>512</currentMemory>", "<currentMemory>"),
        ("<memtune><hard_limit>x</hard_limit></memtune>", "<memtune><hard_limit>"),
        ("<memtune><swap_soft_limit>1</swap_soft_limit></memtune>", "<swap_soft_limit>"),
        ("<cputune><quota>33333</quota></cputune>", "whole percentage"),
        ("<cputune><period>500</period><quota>1000</quota></cputune>", "1000..1000000"),
        ("<cputune><emulatorpin cpuset='1'/></cputune>", "<cputune><emulatorpin>"),
        ("<cputune><shares>2</shares></cputune>", "8..500000"),
        ("<vcpu cpuset='0-1'>2</vcpu>", "cpuset="),
        ("<os><type>exe</type><initarg>--debug</initarg></os>", "<os><initarg>"),
        ("<os><type>exe</type><init>/bin/sh</init></os>", "always starts /sbin/init"),
        ("<os><type>exe</type><initenv name='A'>b</initenv></os>", "<os><initenv>"),
        ("<os><type>hvm</type></os>", "type 'exe'"),
        ("<title>two\nlines</title>", "<title>"),
        ("<title>a\ttab</title>", "<title>"),
        ("<metadata><app:x xmlns:app='urn:other'/></metadata>", "cannot keep {urn:other}x"),
        (
            "<metadata><o:container xmlns:o='urn:x-openvzd:container:1'><o:name>x</o:name>"
            "</o:container></metadata>",
            "openvzd has no",
        ),
    ],
)
def test_what_openvz_cannot_honour_is_refused_by_name(body: str, words: str) -> None:
    assert words in _refused(_domain(body))


def test_sizes_in_bytes_round_up_to_whole_kib() -> None:
    assert parse_domain(_domain("<memory unit='b'>1000</memory>")).memory_kib == 1
    assert parse_domain(_domain("<memory unit='MB'>1</memory>")).memory_kib == 977


def test_cputune_quota_over_period_is_cpulimit_percent_both_ways() -> None:
    spec = parse_domain(_domain("<cputune><period>50000</period><quota>75000</quota></cputune>"))
    assert spec.cpu_limit_percent == 150
    assert "--cpulimit" in settings_args(spec, vswap=True)
    assert parse_domain(_domain("<cputune><quota>-1</quota></cputune>")).cpu_limit_percent == 0
    back = spec_from_config({"CPULIMIT": "150", "OSTEMPLATE": "x"}, 101, "")
    assert "<period>100000</period>" in format_domain(back)
    assert "<quota>150000</quota>" in format_domain(back)


@pytest.mark.parametrize(
    ("devices", "words"),
    [
        ("<interface type='bridge'><model type='virtio'/></interface>", "<model>"),
        ("<interface type='network'><source network='x'/></interface>", "type='network'"),
        (
            "<interface type='ethernet'><mac address='52:54:00:00:00:01'/></interface>",
            "no MAC",
        ),
        # Any interface name is a host end (issue 15), but only an interface name.
        ("<interface type='bridge'><target dev='v$(id)'/></interface>", "not an interface name"),
        ("<interface type='bridge'><target dev='br/0'/></interface>", "not an interface name"),
        ("<interface type='bridge'><target dev='vethxx0123456789'/></interface>", "1 to 15"),
        (
            "<interface type='bridge'><target dev='web0'/></interface>"
            "<interface type='bridge'><target dev='web0'/></interface>",
            "two interfaces have the host end",
        ),
        ("<interface type='bridge'><guest dev='eno1'/></interface>", "must be ethN"),
        (
            "<interface type='bridge'><guest dev='eth1'/></interface>"
            "<interface type='bridge'><target dev='veth101.1'/></interface>",
            "two interfaces are eth1",
        ),
        (
            "<interface type='ethernet'><ip address='10.0.0.1'/><ip address='10.0.0.1'/>"
            "</interface>",
            "given twice",
        ),
        (
            "<filesystem type='mount'><source dir='/srv/x'/><target dir='/'/></filesystem>",
            "a second <filesystem>",
        ),
        (
            "<interface type='ethernet'><ip address='10.0.0.1' peer='10.0.0.2'/></interface>",
            "no peer=",
        ),
    ],
)
def test_devices_openvz_cannot_honour_are_refused_by_name(devices: str, words: str) -> None:
    assert words in _refused(_domain("", devices))


@pytest.mark.parametrize(
    "path", ["srv/ct", "/srv/../etc", "/srv/./ct", "/", "//", '/srv/"ct', "/srv/$VEID", "/a\nb"]
)
def test_private_dirs_that_are_not_plain_absolute_paths_are_refused(path: str) -> None:
    with pytest.raises(VzError, match="absolute directory path"):
        validate_private_dir(path)


def test_a_mount_container_keeps_its_directory_and_reads_back_as_mount() -> None:
    xml = (DATA / "mount-title-tunes-in.xml").read_text()
    spec = parse_domain(xml)
    assert (spec.private_dir, spec.ostemplate) == ("/srv/containers/230", "")
    steps = plan_define(spec, vswap=True)
    assert [step.args[1] for step in steps] == ["set"]  # no create: the directory exists
    sample = 'PHYSPAGES="0:256M"\nOSTEMPLATE="centos-6-x86"\n# keep me\n'
    conf = updated_text(
        updated_text(sample, {"VE_PRIVATE": spec.private_dir, "OSTEMPLATE": None}),
        {},
        uuid=spec.uuid,
        title=spec.title,
    )
    parsed = parse_config(conf)
    assert "# keep me" in conf and "OSTEMPLATE" not in parsed.values
    back = spec_from_config(parsed.values, 230, parsed.uuid or "", parsed.title)
    assert (back.private_dir, back.title) == (spec.private_dir, spec.title)
    assert '<filesystem type="mount">' in format_domain(back).replace("'", '"')


def test_netif_entries_are_completed_as_vzctl_reads_them() -> None:
    [veth] = spec_from_config(
        {"NETIF": "ifname=eth2,mac=00:18:51:00:00:07", "OSTEMPLATE": "x"}, 101, ""
    ).interfaces
    assert (veth.host_dev, veth.host_mac) == ("veth101.2", "00:18:51:00:00:07")


def test_the_title_comment_is_replaced_in_place_and_removed_with_empty() -> None:
    text = 'A="1"\n# openvzd-title: old\nUNKNOWN_KEY="kept"\n#UUID: ' + "1" * 8 + "-1111" * 3
    text += "-" + "1" * 12 + "\n"
    changed = updated_text(text, {}, title="new one")
    assert changed.splitlines()[1] == "# openvzd-title: new one"
    assert parse_config(changed).title == "new one"
    assert parse_config(changed).values["UNKNOWN_KEY"] == "kept"
    assert parse_config(changed).uuid
    assert "openvzd-title" not in updated_text(changed, {}, title="")


def _veth(number: int, mac: str, bridge: str = "br0") -> Interface:
    return Interface(f"eth{number}", mac, f"veth101.{number}", "00:18:51:FF:FF:FF", bridge)


BASE = ContainerSpec(
    101,
    ostemplate="centos-7-x86_64-minimal",
    memory_kib=524288,
    swap_hard_limit_kib=1048576,
    vcpus=2,
    cpu_shares=1000,
    cpu_limit_percent=50,
    disk_hard_kib=2097152,
    ip_addresses=["10.0.0.1/24", "10.0.0.2"],
    interfaces=[_veth(0, "00:18:51:00:00:01")],
)


def _changed(**fields: Any) -> ContainerSpec:
    return dataclasses.replace(copy.deepcopy(BASE), **fields)


def test_plan_update_names_only_what_differs() -> None:
    assert plan_update(BASE, _changed(), vswap=True) == []
    assert plan_update(BASE, _changed(vcpus=4), vswap=True) == ["--cpus", "4"]
    assert plan_update(BASE, _changed(cpu_limit_percent=0), vswap=True) == ["--cpulimit", "0"]
    assert plan_update(BASE, _changed(ip_addresses=["10.0.0.2", "10.0.0.3"]), vswap=True) == [
        "--ipdel",
        "10.0.0.1/24",
        "--ipadd",
        "10.0.0.3",
    ]
    moved = _changed(interfaces=[_veth(0, "00:18:51:00:00:01", "vmbr1")])
    assert plan_update(BASE, moved, vswap=True) == ["--ifname", "eth0", "--bridge", "vmbr1"]
    assert plan_update(BASE, _changed(interfaces=[]), vswap=True) == ["--netif_del", "eth0"]
    with pytest.raises(VzError, match="root filesystem"):
        plan_update(BASE, _changed(ostemplate="debian-11.0-x86_64-minimal"), vswap=True)


def test_a_new_hard_limit_alone_keeps_the_amount_of_swap() -> None:
    wanted = with_memory(BASE, hard_kib=1048576)
    assert wanted.swap_hard_limit_kib == 1572864
    assert plan_update(BASE, wanted, vswap=True) == ["--ram", "1048576K"]
    assert plan_update(BASE, with_memory(BASE, min_guarantee_kib=4096), vswap=True) == [
        "--vmguarpages",
        "1024:unlimited",
    ]
    with pytest.raises(VzError, match="VSwap host"):
        plan_update(BASE, with_memory(BASE, soft_kib=4096), vswap=True)


def test_update_device_changes_the_named_interface_the_addresses_or_the_disk() -> None:
    by_mac = update_device_spec(
        "<interface type='bridge'><mac address='00:18:51:00:00:01'/><source bridge='vmbr2'/>"
        "</interface>",
        BASE,
    )
    assert by_mac.interfaces[0].bridge == "vmbr2" and BASE.interfaces[0].bridge == "br0"
    by_dev = update_device_spec(
        "<interface type='bridge'><mac address='00:18:51:00:00:09'/><guest dev='eth0'/>"
        "</interface>",
        BASE,
    )
    assert plan_update(BASE, by_dev, vswap=True) == [
        "--ifname",
        "eth0",
        "--mac",
        "00:18:51:00:00:09",
    ]
    venet = update_device_spec(
        "<interface type='ethernet'><ip address='192.0.2.7' prefix='24'/></interface>", BASE
    )
    assert venet.ip_addresses == ["192.0.2.7/24"]
    disk = update_device_spec(
        "<filesystem type='template'><source name='centos-7-x86_64-minimal'/>"
        "<space_hard_limit unit='GiB'>8</space_hard_limit></filesystem>",
        BASE,
    )
    assert plan_update(BASE, disk, vswap=True) == ["--diskspace", "8388608:8388608"]
    for xml, words in [
        ("<filesystem type='template'><source name='debian'/></filesystem>", "only its space"),
        ("<interface type='ethernet'/>", "needs the new <ip>"),
        ("<interface type='bridge'><guest dev='eth5'/></interface>", "no interface"),
        ("<disk type='file'/>", "not a device"),
    ]:
        with pytest.raises(VzError, match=words):
            update_device_spec(xml, BASE)
