"""Define and update plans run against vzsim's real vzctl, read back through the
config reader: what a plan makes is the spec it was made from."""

from __future__ import annotations

import dataclasses
import itertools
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openvzd.vz.conffile import read_config, updated_text, write_atomically
from openvzd.vz.plan import mount_config, plan_define, plan_update
from openvzd.vz.spec import ContainerSpec, Interface, derived_host_mac, spec_from_config

BIN = Path(sys.executable).parent
IDS = itertools.count(1000)
SETTINGS = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _host(factory: pytest.TempPathFactory, *personality: str) -> Path:
    host = factory.mktemp("plan") / "host"
    subprocess.run(
        [str(BIN / "vzsim"), "init", str(host), *personality], check=True, capture_output=True
    )
    return host


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _host(tmp_path_factory)


@pytest.fixture(scope="module")
def ubc_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A host without VSwap (vzctl 3.0.23): memory is UBC parameters."""
    return _host(tmp_path_factory, "--personality", "3.0.23")


def _vzctl(root: Path, *args: str) -> None:
    vzctl = str(root / "usr" / "sbin" / "vzctl")
    result = subprocess.run([vzctl, *args], capture_output=True, text=True, check=False)
    assert result.returncode == 0, (args, result.stdout, result.stderr)


def _conf(root: Path, veid: int) -> Path:
    return root / "etc" / "vz" / "conf" / f"{veid}.conf"


def _read_back(root: Path, spec: ContainerSpec) -> ContainerSpec:
    config = read_config(_conf(root, spec.veid))
    return spec_from_config(config.values, spec.veid, spec.uuid, config.title)


def _define(root: Path, spec: ContainerSpec, *, vswap: bool) -> None:
    """What the daemon's define job does, against vzsim's vzctl."""
    if spec.private_dir:
        (root / spec.private_dir.lstrip("/")).mkdir(parents=True)
        sample = root / "etc" / "vz" / "conf" / "ve-vswap-256m.conf-sample"
        write_atomically(_conf(root, spec.veid), mount_config(sample.read_text(), spec))
    for step in plan_define(spec, vswap=vswap):
        _vzctl(root, *step.args)
    conf = _conf(root, spec.veid)
    write_atomically(conf, updated_text(conf.read_text(), {}, uuid=spec.uuid, title=spec.title))


def _interfaces(veid: int, numbers: list[int], bridge: str) -> list[Interface]:
    interfaces = []
    for number in numbers:
        guest_dev, guest_mac = f"eth{number}", f"00:18:51:AB:CD:{number:02X}"
        host_mac = derived_host_mac(veid, guest_dev, guest_mac)
        interfaces.append(Interface(guest_dev, guest_mac, f"veth{veid}.{number}", host_mac, bridge))
    return interfaces


@st.composite
def specs(draw: st.DrawFn, *, vswap: bool = True) -> ContainerSpec:
    veid = next(IDS)
    memory = draw(st.integers(16, 1 << 22)) * 4
    spec = ContainerSpec(
        veid=veid,
        uuid=str(draw(st.uuids())),
        title=draw(st.sampled_from(["", "web", 'db "primary" — eu'])),
        description=draw(
            st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9 .,-]{0,20}", fullmatch=True).map(str.strip)
        ),
        hostname=draw(st.from_regex(r"ct[a-z0-9]{1,8}(\.example\.com)?", fullmatch=True)),
        ostemplate=draw(st.sampled_from(["centos-7-x86_64-minimal", "debian-11.0-x86_64-minimal"])),
        memory_kib=memory,
        min_guarantee_kib=draw(st.sampled_from([0, 4096, memory // 8 * 4])),
        vcpus=draw(st.integers(1, 16)),
        cpu_shares=draw(st.integers(8, 500000)),
        cpu_limit_percent=draw(st.integers(0, 800)),
        disk_hard_kib=draw(st.integers(1024, 1 << 30)),
        ip_addresses=draw(
            st.lists(
                st.ip_addresses(v=4).map(str).filter(lambda a: not a.startswith(("0.", "255."))),
                max_size=2,
                unique=True,
            )
        ),
        interfaces=_interfaces(
            veid,
            draw(st.lists(st.integers(0, 9), max_size=2, unique=True)),
            draw(st.sampled_from(["", "vmbr0"])),
        ),
        nameservers=draw(st.sampled_from([[], ["10.0.0.53"], ["10.0.0.53", "2001:db8::53"]])),
        search_domains=draw(st.sampled_from([[], ["example.com"], ["a.example", "b.example"]])),
    )
    spec.disk_soft_kib = spec.disk_hard_kib
    if vswap:
        spec.swap_hard_limit_kib = memory * draw(st.sampled_from([1, 2, 3]))
    else:
        spec.memory_soft_kib = draw(st.sampled_from([0, memory // 8 * 4]))
    if vswap and draw(st.booleans()):
        spec.ostemplate, spec.private_dir = "", f"/srv/ct/{veid}"
    return spec


@SETTINGS
@given(specs())
def test_what_a_define_plan_creates_reads_back_as_the_spec(root: Path, spec: ContainerSpec) -> None:
    _define(root, spec, vswap=True)
    assert _read_back(root, spec) == spec


@SETTINGS
@given(specs(vswap=False))
def test_on_a_ubc_host_memory_reads_back_from_privvmpages_and_vmguarpages(
    ubc_root: Path, spec: ContainerSpec
) -> None:
    _define(ubc_root, spec, vswap=False)
    back = _read_back(ubc_root, spec)
    # The 3.0.23 sample config's own VMGUARPAGES stays when the spec sets none.
    if not spec.min_guarantee_kib:
        back.min_guarantee_kib = 0
    assert back == spec


@SETTINGS
@given(specs(), specs())
def test_an_update_plan_turns_one_container_into_the_other(
    root: Path, old: ContainerSpec, new: ContainerSpec
) -> None:
    new = dataclasses.replace(
        new,
        veid=old.veid,
        uuid=old.uuid,
        title=old.title,
        ostemplate=old.ostemplate,
        private_dir=old.private_dir,
        # Resolvers not named keep the container's, as an unset host name does.
        nameservers=new.nameservers or old.nameservers,
        search_domains=new.search_domains or old.search_domains,
        interfaces=[
            dataclasses.replace(i, host_dev=f"veth{old.veid}.{i.guest_dev[3:]}")
            for i in new.interfaces[:1]
        ],
    )
    old.interfaces = old.interfaces[:1]
    _define(root, old, vswap=True)
    args = plan_update(old, new, vswap=True)
    if args:
        _vzctl(root, "--quiet", "set", str(old.veid), *args, "--save")
    back = _read_back(root, new)
    # A host MAC vzctl was not asked to change stays what the old interface had.
    for mine, theirs in zip(back.interfaces, new.interfaces, strict=True):
        theirs.host_mac = mine.host_mac
    assert back == new


def test_the_title_comment_and_unknown_keys_survive_vzctl_set_save(root: Path) -> None:
    spec = ContainerSpec(next(IDS), uuid="0c8e0e27-8f7a-4a0c-9d0e-1f5a5b8e2c11", title="kept")
    spec.ostemplate = "centos-7-x86_64-minimal"
    _define(root, spec, vswap=True)
    conf = _conf(root, spec.veid)
    conf.write_text(conf.read_text() + 'SOMETHING_ELSE="from an admin"\n')
    _vzctl(root, "--quiet", "set", str(spec.veid), "--cpus", "2", "--description", "x", "--save")
    config = read_config(conf)
    assert (config.title, config.uuid) == ("kept", spec.uuid)
    assert config.values["SOMETHING_ELSE"] == "from an admin"
    assert config.values["CPUS"] == "2"
