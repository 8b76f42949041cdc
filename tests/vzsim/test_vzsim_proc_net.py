"""/proc files kept current, the host description, bridged networking."""

from __future__ import annotations

import time

from tests.vzsim.vzsim_harness import SimHost, vzsim


def test_init_layout(host: SimHost) -> None:
    for tool in ("vzctl", "vzlist", "vzmigrate", "vznetaddbr", "vznetcfg"):
        assert (host.root / "usr/sbin" / tool).stat().st_mode & 0o111
    cpuinfo = host.path("/proc/cpuinfo").read_text()
    assert cpuinfo.count("processor\t: ") == 4
    assert host.path("/proc/meminfo").read_text().startswith("MemTotal:        8388608 kB\n")
    assert host.path("/etc/hostname").read_text() == "vzsim-host.example.com\n"
    assert host.path("/proc/vz/version").read_text().endswith("\n")
    vz_conf = host.path("/etc/vz/vz.conf").read_text()
    for line in (
        "VE_ROOT=/vz/root/$VEID",
        "VE_PRIVATE=/vz/private/$VEID",
        "TEMPLATE=/vz/template",
        "LOCKDIR=/vz/lock",
        "DUMPDIR=/vz/dump",
    ):
        assert line in vz_conf.splitlines()
    for name in ("fedora-9-i386-minimal", "centos-7-x86_64-minimal", "debian-11.0-x86_64-minimal"):
        assert host.path(f"/vz/template/cache/{name}.tar.gz").is_file()


def test_init_is_idempotent(host: SimHost) -> None:
    host.create(101)
    host.vzctl("start", "101")
    assert vzsim("init", str(host.root), "--cpus", "8").returncode == 0
    assert host.vzctl("status", "101").stdout == "CTID 101 exist mounted running\n"
    assert host.path("/proc/cpuinfo").read_text().count("processor\t: ") == 8


def test_veinfo_and_veip(host: SimHost) -> None:
    host.create(101, "--ipadd", "10.0.0.101", "--ipadd", "2001:db8::1")
    host.create(102)
    host.vzctl("start", "101")
    host.vzctl("start", "102")
    nproc_101, nproc_102 = 8 + 101 % 17, 8 + 102 % 17
    assert host.path("/proc/vz/veinfo").read_text() == (
        "         0     0    96\n"
        f"       101     0 {nproc_101:>5} {'2001:db8::1':>39} {'10.0.0.101':>15}\n"
        f"       102     0 {nproc_102:>5}\n"
    )
    assert host.path("/proc/vz/veip").read_text() == (
        f"Version: 2.5\n{'10.0.0.101':>39} 0\n{'2001:db8::1':>39} 0\n"
    )
    host.vzctl("stop", "101")
    assert "       101 " not in host.path("/proc/vz/veinfo").read_text()


def test_vestat_and_beancounters_grow(host: SimHost) -> None:
    host.create(101)
    host.vzctl("start", "101")
    vestat = host.path("/proc/vz/vestat").read_text().splitlines()
    assert vestat[0] == "Version: 2.2".ljust(len(vestat[1]))
    assert vestat[1].split() == (
        [
            "VEID",
            "user",
            "nice",
            "system",
            "uptime",
            "idle",
            "strv",
            "uptime",
            "used",
            "maxlat",
            "totlat",
            "numsched",
        ]
    )
    assert len(vestat[1]) == 20 + 11 * 21
    first_uptime = int(vestat[2].split()[4])
    time.sleep(1.1)
    assert vzsim("tick", str(host.root)).returncode == 0
    later = host.path("/proc/vz/vestat").read_text().splitlines()[2].split()
    assert later[0] == "101"
    assert int(later[4]) > first_uptime
    counters = host.path("/proc/user_beancounters").read_text().splitlines()
    assert counters[0] == "Version: 2.5"
    assert counters[1] == (
        "       uid  resource                     held              maxheld"
        "              barrier                limit              failcnt"
    )
    assert counters[2].startswith("       101: kmemsize     ")
    assert counters[3].startswith("            lockedpages  ")
    assert sum(1 for line in counters if line.split()[0] in ("101:",)) == 1
    assert len([c for c in counters[2:] if not c.startswith("         0:")]) >= 24


def test_bridged_veth_joins_bridge(host: SimHost) -> None:
    host.create(101)
    host.vzctl("set", "101", "--netif_add", "eth0,,,,vmbr0", "--save")
    started = host.vzctl("start", "101")
    assert started.returncode == 0
    assert "Configure veth devices: veth101.0\n" in started.stdout
    assert "Adding interface veth101.0 to bridge vmbr0 on CT0 for CT101\n" in started.stdout
    assert (host.root / ".vzsim/bridges/vmbr0").read_text() == "veth101.0\n"
    host.vzctl("stop", "101")
    assert (host.root / ".vzsim/bridges/vmbr0").read_text() == ""


def test_netif_add_on_running_ct_runs_vznetcfg(host: SimHost) -> None:
    host.create(101)
    host.vzctl("start", "101")
    added = host.vzctl("set", "101", "--netif_add", "eth1", "--save")
    assert added.returncode == 0
    assert "Adding interface veth101.1 to bridge vmbr0 on CT0 for CT101\n" in added.stdout
    assert (host.root / ".vzsim/bridges/vmbr0").read_text() == "veth101.1\n"


def test_missing_bridge_fails_start_with_130(host: SimHost) -> None:
    host.create(101)
    host.vzctl("set", "101", "--netif_add", "eth0,,,,vmbr9", "--save")
    result = host.vzctl("start", "101")
    assert result.returncode == 130
    assert result.stderr == (
        "bridge vmbr9 does not exist!\n"
        "/usr/sbin/vznetcfg exited with error\n"
        'Container start failed (try to check kernel messages, e.g. "dmesg | tail")\n'
    )
    assert host.vzctl("status", "101").stdout == "CTID 101 exist unmounted down\n"
    assert "101" not in host.path("/proc/vz/veinfo").read_text().split()


def test_start_ip_conflict_is_78_and_leaves_ct_stopped(host: SimHost) -> None:
    host.create(101, "--ipadd", "10.0.0.5")
    host.create(102, "--ipadd", "10.0.0.5")
    host.vzctl("start", "101")
    result = host.vzctl("start", "102")
    assert result.returncode == 78
    assert result.stderr.startswith("Unable to add IP 10.0.0.5: Address already in use\n")
    assert host.vzctl("status", "102").stdout == "CTID 102 exist unmounted down\n"
