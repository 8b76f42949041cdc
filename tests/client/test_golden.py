"""ovzsh's output against expected files in tests/data/cli/, on a fixed vzsim host.

The host (name, CPUs, memory) and the containers are the same on every run;
what still varies (UUIDs, CPU time, memory in use, job IDs, paths of the
temporary folder) is masked by each case explicitly. OVZSH_REGENERATE_OUTPUT=1
rewrites the files (see golden.py).
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import openvz
import pytest

from tests.client.golden import JOB_ID, TIMESTAMP, UUID, Mask, apply_masks, compare, render
from tests.client.helpers import OVZSH, define, lay_out_fixed_host, ovzsh_env, uri_of
from tests.daemon_process import DaemonProcess, running_daemon

CPU_TIME = (re.compile(r"(CPU time: +)[\d.]+s"), r"\1<SECONDS>s")
USED_MEMORY = (re.compile(r"(Used memory: +)\d+ KiB"), r"\1<KIB> KiB")
# domstats: the counters that grow while a container runs.
GROWING = (
    re.compile(r"((?:cpu\.\w+|balloon\.current|disk\.used|ubc\.\w+\.(?:held|maxheld))=)\d+"),
    r"\1<N>",
)
JSON_GROWING = (re.compile(r'("(?:cpu_time_ns|memory_kib)": )"?\d+"?'), r"\1<N>")
# The host's free memory moves with what runs.
FREE_KIB = (re.compile(r"(free   :|Total:|    0:|^0:) *\d+ KiB", re.M), r"\1 <FREE> KiB")
IN_USE = (re.compile(r"^((?:rss|unused) )\d+$", re.M), r"\1<N>")
# Who ran the jobs: the uid of whoever runs the tests.
CALLER = (re.compile(r"\b(uid|gid|pid) \d+"), r"\1 <N>")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    """150 running, 151 defined with autostart, on the fixed host."""
    sim_dir = tmp_path_factory.mktemp("golden") / "sim"
    lay_out_fixed_host(sim_dir)
    with running_daemon(sim_dir) as process:
        define(process, 150, sim_dir)
        define(process, 151, sim_dir)
        with openvz.open(uri_of(process)) as conn:
            conn.lookup_by_name("150").create()
            conn.lookup_by_name("151").set_autostart(True)
            # dominfo shows CPU time only once there is some (as virsh does): wait for it.
            deadline = time.monotonic() + 30
            while not conn.lookup_by_name("150").info().cpu_time_ns:
                assert time.monotonic() < deadline, "container 150 never reported CPU time"
                time.sleep(0.2)
        yield process


def run_case(
    daemon: DaemonProcess,
    case: str,
    argv: Sequence[str],
    masks: Sequence[Mask] = (),
    connect: bool = True,
) -> None:
    prefix = ["-c", uri_of(daemon)] if connect else []
    result = subprocess.run(
        [OVZSH, *prefix, *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=ovzsh_env(),
    )
    simulated = (re.compile(re.escape(str(daemon.sim_dir))), "<SIM>")
    text = render(argv, result.returncode, result.stdout, result.stderr)
    compare(case, apply_masks(text, [simulated, *masks]))


QUERIES: list[tuple[str, list[str], list[Mask]]] = [
    ("list", ["list"], []),
    ("list-all", ["list", "--all"], []),
    ("list-inactive", ["list", "--inactive"], []),
    ("list-autostart", ["list", "--all", "--autostart"], []),
    ("list-state-shutoff", ["list", "--all", "--state-shutoff"], []),
    ("list-title", ["list", "--all", "--title"], []),
    ("list-name", ["list", "--all", "--name"], []),
    ("list-uuid-name", ["list", "--all", "--uuid", "--name"], [UUID]),
    ("list-id", ["list", "--all", "--id"], []),
    # Filters the client applies need whole answers, --name or not.
    ("list-persistent-name", ["list", "--all", "--persistent", "--name"], []),
    ("list-transient-name", ["list", "--all", "--transient", "--name"], []),
    ("list-state-running-name", ["list", "--all", "--state-running", "--name"], []),
    ("list-json", ["list", "--all", "--json"], [UUID]),
    ("dominfo-running", ["dominfo", "150"], [UUID, CPU_TIME, USED_MEMORY]),
    ("dominfo-shutoff", ["dominfo", "151"], [UUID]),
    ("dominfo-json", ["dominfo", "151", "--json"], [UUID, JSON_GROWING]),
    ("domstate", ["domstate", "150"], []),
    ("domstate-reason-running", ["domstate", "--reason", "150"], []),
    ("domstate-reason-shutoff", ["domstate", "--reason", "151"], []),
    ("domstate-json", ["domstate", "--json", "151"], []),
    ("domid-running", ["domid", "150"], []),
    ("domid-shutoff", ["domid", "151"], []),
    ("domname", ["domname", "150"], []),
    ("domuuid", ["domuuid", "150"], [UUID]),
    ("dumpxml", ["dumpxml", "150"], [UUID]),
    ("dumpxml-inactive", ["dumpxml", "--inactive", "151"], [UUID]),
    ("domstats", ["domstats", "150"], [GROWING]),
    ("memtune", ["memtune", "150"], []),
    ("memtune-json", ["memtune", "150", "--json"], []),
    ("nodeinfo", ["nodeinfo"], []),
    ("nodeinfo-json", ["nodeinfo", "--json"], []),
    ("version", ["version", "--daemon"], []),
    ("hostname", ["hostname"], []),
    ("uri", ["uri"], []),
    ("capabilities", ["capabilities"], []),
    ("capabilities-json", ["capabilities", "--json"], []),
    ("host-validate", ["host-validate"], []),
    # virsh's named options.
    ("dominfo-named", ["dominfo", "--domain", "151"], [UUID]),
    ("domstate-named", ["domstate", "--reason", "--domain", "150"], []),
    # Commands added for virsh users (issue 15), in virsh's formats.
    ("vcpucount-running", ["vcpucount", "150"], []),
    ("vcpucount-shutoff", ["vcpucount", "151"], []),
    ("vcpucount-maximum-live", ["vcpucount", "--maximum", "--live", "150"], []),
    ("vcpucount-json", ["vcpucount", "150", "--json"], []),
    ("maxvcpus", ["maxvcpus"], []),
    ("vcpuinfo", ["vcpuinfo", "150"], []),
    ("vcpuinfo-pretty-shutoff", ["vcpuinfo", "--pretty", "151"], []),
    ("dommemstat", ["dommemstat", "150"], [IN_USE]),
    ("domblklist", ["domblklist", "150"], []),
    ("domblklist-details", ["domblklist", "--details", "150"], []),
    ("domiflist", ["domiflist", "150"], []),
    ("domifaddr", ["domifaddr", "150"], []),
    ("domifaddr-json", ["domifaddr", "150", "--json"], []),
    ("desc", ["desc", "150"], []),
    ("desc-title", ["desc", "--title", "150"], []),
    ("sysinfo", ["sysinfo"], []),
    ("nodememstats", ["nodememstats"], [FREE_KIB]),
    # The fixed host's /proc/stat does not grow: its times are exact.
    ("nodecpustats", ["nodecpustats"], []),
    ("nodecpustats-cpu", ["nodecpustats", "1"], []),
    ("nodecpustats-percent", ["nodecpustats", "--percent"], []),
    ("nodecpustats-json", ["nodecpustats", "--json"], []),
    ("freecell", ["freecell"], [FREE_KIB]),
    ("freecell-all", ["freecell", "--all"], [FREE_KIB]),
    ("freecell-cell", ["freecell", "--cellno", "0"], [FREE_KIB]),
    ("event-list", ["event", "--list"], []),
]


@pytest.mark.parametrize(("case", "argv", "masks"), QUERIES, ids=[case for case, _, _ in QUERIES])
def test_queries(daemon: DaemonProcess, case: str, argv: list[str], masks: list[Mask]) -> None:
    run_case(daemon, case, argv, masks)


ERRORS: list[tuple[str, list[str], bool]] = [
    ("error-unknown-domain", ["dominfo", "4242"], True),
    ("error-read-only", ["-r", "start", "151"], True),
    ("error-wrong-state", ["start", "150"], True),
    ("error-unknown-command", ["frob"], True),
    ("error-unknown-option", ["list", "--bogus"], True),
    ("error-bad-size", ["setmem", "151", "12Q"], True),
    ("error-missing-file", ["define", "/nonexistent/ct.xml"], True),
    (
        "error-daemon-not-running",
        ["-c", "openvz+unix:///system?socket=/nonexistent/openvzd.sock", "list"],
        False,
    ),
    ("error-unix-with-host", ["-c", "openvz+unix://somehost/system", "list"], False),
    ("error-not-openvz", ["-c", "qemu:///system", "list"], False),
    ("error-no-domain", ["dominfo"], True),
    ("error-named-and-extra", ["dominfo", "150", "--domain", "151"], True),
    ("error-named-bad-count", ["setvcpus", "151", "many"], True),
    ("error-domhostname-unset", ["domhostname", "151"], True),
    ("error-shutdown-mode", ["shutdown", "--mode", "acpi", "150"], True),
    ("error-shutdown-unknown-mode", ["shutdown", "--mode", "frob", "150"], True),
    ("error-reboot-mode", ["reboot", "--mode", "agent,signal", "150"], True),
    ("error-setvcpus-maximum", ["setvcpus", "151", "2", "--maximum", "--config"], True),
    ("error-domblkstat", ["domblkstat", "150", "vda"], True),
    ("error-nodecpustats-cpu", ["nodecpustats", "99"], True),
    ("error-event-unknown", ["event", "--event", "frob"], True),
    ("error-event-not-sent", ["event", "--event", "reboot"], True),
    ("error-freecell-no-cell", ["freecell", "3"], True),
    ("error-interface-type", ["attach-interface", "151", "frob", "br0"], True),
    ("error-migrate-uri-without-host", ["migrate", "151", "openvz+ssh:///system"], True),
    ("error-migrate-not-openvz", ["migrate", "151", "qemu+ssh://node2/system"], True),
]


@pytest.mark.parametrize(("case", "argv", "connect"), ERRORS, ids=[case for case, _, _ in ERRORS])
def test_errors(daemon: DaemonProcess, case: str, argv: list[str], connect: bool) -> None:
    run_case(daemon, case, argv, connect=connect)


def test_changes_in_virsh_words(daemon: DaemonProcess, tmp_path: Path) -> None:
    """One container's life, each step's output as virsh words it."""
    xml = tmp_path / "ct-152.xml"
    xml.write_text((daemon.sim_dir / "example-150.xml").read_text().replace("150", "152"))
    tmp = (re.compile(re.escape(str(tmp_path))), "<TMP>")
    steps: list[tuple[str, list[str], list[Mask]]] = [
        ("define", ["define", str(xml)], [tmp]),
        ("start", ["start", "152"], []),
        ("suspend", ["suspend", "152"], []),
        ("resume", ["resume", "152"], []),
        ("setmem", ["setmem", "152", "256M"], []),
        (
            "attach-interface-named",
            [
                "attach-interface",
                "--domain",
                "152",
                "--type",
                "bridge",
                "--source",
                "br0",
                "--live",
            ],
            [],
        ),
        ("domiflist-bridge", ["domiflist", "152"], [(re.compile(r"00(:[0-9a-f]{2}){5}"), "<MAC>")]),
        ("setvcpus", ["setvcpus", "152", "2"], []),
        ("autostart", ["autostart", "152"], []),
        ("autostart-disable", ["autostart", "--disable", "152"], []),
        ("memtune-set", ["memtune", "152", "--swap-hard-limit", "1G"], []),
        ("memtune-after", ["memtune", "152"], []),
        ("quiet", ["-q", "reboot", "152"], []),
        ("destroy", ["destroy", "152"], []),
        ("no-wait", ["start", "--no-wait", "152"], [JOB_ID]),
    ]
    for step, argv, masks in steps:
        run_case(daemon, f"change-{step}", argv, masks)
    with openvz.open(uri_of(daemon)) as conn:
        newest = conn.list_jobs(152, 1)[0]
        newest.wait(timeout=30)
        run_case(daemon, "change-job-info", ["job-info", newest.id], [JOB_ID, TIMESTAMP, CALLER])
        run_case(daemon, "change-job-wait", ["job-wait", newest.id], [JOB_ID])
        run_case(
            daemon, "change-jobs", ["jobs", "--domain", "152", "--limit", "3"], [JOB_ID, CALLER]
        )
        conn.lookup_by_name("152").destroy()
    run_case(daemon, "change-undefine", ["undefine", "152"], [])


def test_a_binary_file_given_to_define_is_refused_clearly(
    daemon: DaemonProcess, tmp_path: Path
) -> None:
    binary = tmp_path / "ct.xml"
    binary.write_bytes(b"<domain>\xff\xfe\x00\x01</domain>")
    tmp = (re.compile(re.escape(str(tmp_path))), "<TMP>")
    run_case(daemon, "error-define-binary", ["define", str(binary)], [tmp])


def test_setmem_and_setvcpus_take_virshs_flags(daemon: DaemonProcess) -> None:
    for flags in (["--live"], ["--config"], ["--current"], ["--live", "--config"]):
        for argv in (
            ["setmem", "151", "256M", *flags],
            ["setvcpus", "--domain", "151", "1", *flags],
        ):
            result = subprocess.run(
                [OVZSH, "-c", uri_of(daemon), *argv],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                env=ovzsh_env(),
            )
            assert (result.returncode, result.stderr) == (0, ""), argv
    run_case(daemon, "setmem-named", ["setmem", "--domain", "151", "--size", "512M", "--config"])
