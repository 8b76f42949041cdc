"""Define plans run against vzsim's real vzctl, read back through the config reader."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openvzd.vz.conffile import read_config
from openvzd.vz.plan import plan_define
from openvzd.vz.spec import ContainerSpec, spec_from_config

BIN = Path(sys.executable).parent
IDS = itertools.count(1000)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    host = tmp_path_factory.mktemp("plan") / "host"
    subprocess.run([str(BIN / "vzsim"), "init", str(host)], check=True, capture_output=True)
    return host


SPECS = st.builds(
    ContainerSpec,
    veid=st.just(0),
    uuid=st.just(""),
    description=st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9 .,-]{0,20}", fullmatch=True).map(str.strip),
    hostname=st.from_regex(r"ct[a-z0-9]{1,8}(\.example\.com)?", fullmatch=True),
    ostemplate=st.sampled_from(["centos-7-x86_64-minimal", "debian-11.0-x86_64-minimal"]),
    memory_kib=st.integers(16, 1 << 22).map(lambda n: n * 4),
    vcpus=st.integers(1, 16),
    cpu_shares=st.integers(8, 500000),
    disk_hard_kib=st.integers(1024, 1 << 30),
    ip_addresses=st.lists(
        st.ip_addresses(v=4).map(str).filter(lambda a: not a.startswith(("0.", "255."))),
        max_size=2,
        unique=True,
    ),
)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(SPECS)
def test_what_a_plan_creates_reads_back_as_the_spec(root: Path, spec: ContainerSpec) -> None:
    spec.veid = next(IDS)
    spec.disk_soft_kib = spec.disk_hard_kib
    spec.swap_hard_limit_kib = spec.memory_kib * 2
    vzctl = str(root / "usr" / "sbin" / "vzctl")
    for step in plan_define(spec, vswap=True):
        result = subprocess.run([vzctl, *step.args], capture_output=True, text=True, check=False)
        assert result.returncode == 0, (step.args, result.stderr)
    values = read_config(root / "etc" / "vz" / "conf" / f"{spec.veid}.conf").values
    back = spec_from_config(values, spec.veid, spec.uuid)
    assert back == spec
