"""daemon/openvzd/vz/proc.py: whatever the /proc files hold, the readers return
numbers the wire can carry (uint32 counts, uint64 sizes and times) and never raise.
Seeds are vzsim's own cpuinfo, meminfo, vz/vestat and user_beancounters."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from openvz.v1 import domains_pb2, host_pb2
from openvzd.api.convert import beancounter_to_proto, interface_stats_to_proto
from openvzd.core.service import guest_interface
from openvzd.vz.proc import (
    read_beancounters,
    read_hostname,
    read_net_dev,
    read_node_info,
    read_vestat,
    read_vzquota,
)

from tests.fuzz.profiles import fuzz, no_hang
from tests.fuzz.strategies import HUGE_NUMBER, mutated

FILES = ["cpuinfo", "meminfo", "vz/vestat", "user_beancounters", "net/dev"]
# Written only for mounted containers with a disk quota, so it has a literal seed.
VZQUOTA = (
    "       101: /vz/private/101\n"
    "  1k-blocks  5120  1048576  1153434  0  0\n"
    "  inodes  300  200000  220000  0  0\n"
)


@pytest.fixture(scope="module")
def seeds(vzsim_host: Path) -> dict[str, str]:
    texts = {name: (vzsim_host / "proc" / name).read_text() for name in FILES}
    assert all(texts.values()), texts
    return texts


def read_all(files: dict[str, str | bytes]) -> None:
    """Write files into a fresh proc/ folder and read it as the daemon does; the
    results must fit the messages they are sent in."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        proc = root / "proc"
        (proc / "vz").mkdir(parents=True)
        for name, content in files.items():
            path = root / name if name == "etc/hostname" else proc / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, errors="surrogatepass")
        with no_hang():
            node = read_node_info(proc)
            vestat = read_vestat(proc)
            counters = read_beancounters(proc)
            interfaces = read_net_dev(proc)
            quotas = read_vzquota(proc)
            read_hostname(root)
    host_pb2.NodeInfo(
        model=node.model,
        memory_kib=node.memory_kib,
        free_memory_kib=node.free_memory_kib,
        cpus=node.cpus,
        mhz=node.mhz,
        sockets=node.sockets,
        cores=node.cores,
        threads=node.threads,
    )
    assert node.cpus >= 1 and node.sockets >= 1 and node.threads >= 1
    for veid, cpu in vestat.items():
        assert veid >= 0
        domains_pb2.DomainStats(
            cpu_time_ns=cpu.total_ns,
            cpu_user_ns=cpu.user_ns + cpu.nice_ns,
            cpu_system_ns=cpu.system_ns,
            uptime_seconds=cpu.uptime_seconds,
        )
    # The daemon's own conversions: they raise where a number does not fit the wire.
    for rows in counters.values():
        for row in rows:
            beancounter_to_proto(row)
    for name, host_end in interfaces.items():
        interface_stats_to_proto(guest_interface(name, host_end))
    for veid, quota in quotas.items():
        assert veid >= 0
        domains_pb2.DomainStats(
            disk_used_kib=quota.used_kib,
            disk_soft_limit_kib=quota.soft_kib,
            disk_hard_limit_kib=quota.hard_kib,
        )


def test_vzsims_files_are_read(seeds: dict[str, str]) -> None:
    read_all({**seeds, "vz/vzquota": VZQUOTA})


# Found by these tests: each raised ValueError/OverflowError or gave a number the wire refuses.
FOUND = [
    {"cpuinfo": "processor\t: 0\ncpu MHz\t\t: fast\n"},
    {"cpuinfo": "processor\t: 0\ncpu MHz\t\t: inf\n"},
    {"cpuinfo": "processor\t: 0\ncpu MHz\t\t: nan\n"},
    {"cpuinfo": "processor\t: 0\ncpu MHz\t\t: -2400\n"},
    {"cpuinfo": "processor\t: 0\ncpu cores\t: \u00b2\n"},
    {"meminfo": "MemTotal: \u00b2 kB\n"},
    {"meminfo": f"MemTotal: {HUGE_NUMBER} kB\n"},
    {"vz/vestat": "\u00b2 1 2 3 4\n"},
    {"vz/vestat": "101 -1 0 0 0\n"},
    {"user_beancounters": "\u00b2: kmemsize 1 2 3 4 5\n"},
    {"user_beancounters": "101: kmemsize -1 2 3 4 5\n"},
    {"user_beancounters": "101: kmemsize 1 2 3 99999999999999999999999 5\n"},
    {"vz/vzquota": VZQUOTA.replace("101:", "\u00b2:")},
    {"vz/vzquota": VZQUOTA.replace("5120", "-5120")},
    {"net/dev": "h\nh\n  veth101.0: " + " ".join(["-1"] * 16) + "\n"},
]


@pytest.mark.parametrize("files", FOUND)
def test_found_inputs(files: dict[str, str | bytes]) -> None:
    read_all(files)


@fuzz()
@given(st.data())
def test_mutated_proc_files(seeds: dict[str, str], data: st.DataObject) -> None:
    read_all(
        {
            name: data.draw(mutated(text, max_edits=6), label=name)
            for name, text in {**seeds, "vz/vzquota": VZQUOTA}.items()
        }
    )


@fuzz()
@given(
    st.dictionaries(
        st.sampled_from([*FILES, "vz/vzquota", "etc/hostname"]), st.binary(max_size=500)
    )
)
@example({"etc/hostname": b"\xff\xfe"})
def test_any_bytes(files: dict[str, str | bytes]) -> None:
    read_all(files)
