"""Simulated hosts made ready before the daemon starts, and latency figures."""

from __future__ import annotations

import math
import subprocess
from collections.abc import Sequence
from pathlib import Path

from tests.daemon_process import BIN

DEFINE_XML = """\
<domain type='openvz'>
  <name>{veid}</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os><type>exe</type></os>
  <devices>
    <filesystem type='template'>
      <source name='centos-7-x86_64-minimal'/>
      <target dir='/'/>
    </filesystem>
  </devices>
</domain>
"""


def prepare_host(sim_dir: Path, count: int, first_id: int, running: int = 0) -> Path:
    """A vzsim host in sim_dir/host with count containers, made before the daemon
    starts, so the daemon finds them at once (no waiting for the monitor's look)."""
    host = sim_dir / "host"
    for argv in (
        ["init", str(host)],
        [
            "populate",
            str(host),
            "--count",
            str(count),
            "--first-id",
            str(first_id),
            "--running",
            str(running),
        ],
    ):
        subprocess.run([str(BIN / "vzsim"), *argv], capture_output=True, check=True, timeout=120)
    return host


def define_xml(veid: int) -> str:
    return DEFINE_XML.format(veid=veid)


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of samples (0 < fraction <= 1)."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def latency_table(latencies: dict[str, list[float]]) -> str:
    lines = [f"{'call':<12}{'count':>7}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}"]
    for kind in sorted(latencies):
        samples = latencies[kind]
        lines.append(
            f"{kind:<12}{len(samples):>7}{percentile(samples, 0.5) * 1000:>10.1f}"
            f"{percentile(samples, 0.99) * 1000:>10.1f}{max(samples) * 1000:>10.1f}"
        )
    return "\n".join(lines)
