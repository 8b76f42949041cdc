"""The /proc readers of vz/proc.py on real-format text, garbage included."""

from __future__ import annotations

from pathlib import Path

from openvzd.vz.proc import ALL_CPUS, CpuTimes, read_cpu_times, read_net_dev, read_vzquota

NET_DEV = """\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:  123456     789    0    0    0     0          0         0   123456     789    0    0    0     0       0          0
veth101.0:    5000      10    1    2    0     0          0         0     9000      30    3    4    0     0       0          0
  eth0: not numbers at all 1 2 3 4 5 6 7 8 9 10 11 12 13
garbage line without a colon
 short: 1 2 3
"""  # noqa: E501 (the kernel's own line width)

VZQUOTA = """\
101: /vz/private/101
  1k-blocks         420628     1048576     1153024           0           0
  inodes             21009      200000      220000           0           0
junk: here
  1k-blocks              1           2           3           0           0
102: /vz/private/102
  1k-blocks            bad           2           3           0           0
103: /vz/private/103
  inodes                 5          10          11           0           0
  1k-blocks             64         128         256           0           0
"""

STAT = """\
cpu  300 20 100 5000 40 5 7 0 0 0
cpu0 150 10 50 2500 20 5 7 0 0 0
cpu1 150 10 50 2500 20 0 0

cpu2 1 2 3
cpu3 x 1 2 3 4 5 6
cpux 1 2 3 4 5 6 7
intr 1 2 3 4 5 6 7 8
"""


def test_stat_cpu_lines_summed_as_libvirt_does(tmp_path: Path) -> None:
    (tmp_path / "stat").write_text(STAT)
    times = read_cpu_times(tmp_path)
    assert set(times) == {ALL_CPUS, 0, 1}
    tick = 10_000_000  # ns in a USER_HZ tick
    # kernel = system + irq + softirq, user = user + nice
    assert times[ALL_CPUS] == CpuTimes(112 * tick, 320 * tick, 5000 * tick, 40 * tick)
    assert times[1] == CpuTimes(50 * tick, 160 * tick, 2500 * tick, 20 * tick)
    assert read_cpu_times(tmp_path / "missing") == {}


def test_net_dev_lines_and_garbage(tmp_path: Path) -> None:
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "dev").write_text(NET_DEV)
    devices = read_net_dev(tmp_path)
    assert set(devices) == {"lo", "veth101.0"}
    assert devices["veth101.0"].rx == (5000, 10, 1, 2)
    assert devices["veth101.0"].tx == (9000, 30, 3, 4)
    assert read_net_dev(tmp_path / "missing") == {}


def test_vzquota_blocks_and_garbage(tmp_path: Path) -> None:
    (tmp_path / "vz").mkdir()
    (tmp_path / "vz" / "vzquota").write_text(VZQUOTA)
    quotas = read_vzquota(tmp_path)
    assert set(quotas) == {101, 103}
    assert (quotas[101].used_kib, quotas[101].soft_kib, quotas[101].hard_kib) == (
        420628,
        1048576,
        1153024,
    )
    assert quotas[101].inodes_used == 21009
    assert quotas[103].used_kib == 64 and quotas[103].inodes_used == 5
