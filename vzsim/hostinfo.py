"""The host description in /proc formats the daemon parses: cpuinfo, meminfo and stat."""

from __future__ import annotations

CPU_MODEL = "Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz"
CPU_FLAGS = (
    "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi "
    "mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc pni ssse3 cx16 "
    "sse4_1 sse4_2 x2apic popcnt aes xsave avx f16c rdrand lahf_lm"
)


def cpuinfo(cpus: int) -> str:
    blocks = []
    for index in range(cpus):
        blocks.append(
            f"processor\t: {index}\n"
            "vendor_id\t: GenuineIntel\n"
            "cpu family\t: 6\n"
            "model\t\t: 79\n"
            f"model name\t: {CPU_MODEL}\n"
            "stepping\t: 1\n"
            "cpu MHz\t\t: 2400.000\n"
            "cache size\t: 35840 KB\n"
            "physical id\t: 0\n"
            f"siblings\t: {cpus}\n"
            f"core id\t\t: {index}\n"
            f"cpu cores\t: {cpus}\n"
            f"apicid\t\t: {index}\n"
            "fpu\t\t: yes\n"
            "fpu_exception\t: yes\n"
            "cpuid level\t: 20\n"
            "wp\t\t: yes\n"
            f"flags\t\t: {CPU_FLAGS}\n"
            "bogomips\t: 4800.00\n"
            "clflush size\t: 64\n"
            "cache_alignment\t: 64\n"
            "address sizes\t: 46 bits physical, 48 bits virtual\n"
            "power management:\n"
        )
    return "\n".join(blocks) + "\n"


def meminfo(memory_mb: int) -> str:
    total = memory_mb * 1024
    free = total * 6 // 10
    rows = [
        ("MemTotal", total),
        ("MemFree", free),
        ("Buffers", total // 50),
        ("Cached", total // 5),
        ("SwapCached", 0),
        ("Active", total // 4),
        ("Inactive", total // 8),
        ("SwapTotal", total // 2),
        ("SwapFree", total // 2),
        ("Dirty", 64),
        ("Writeback", 0),
        ("Mapped", total // 40),
        ("Slab", total // 40),
        ("Committed_AS", total // 3),
        ("VmallocTotal", 34359738367),
        ("VmallocUsed", 0),
    ]
    return "".join(f"{label + ':':<15} {value:>8} kB\n" for label, value in rows)


def stat(cpus: int) -> str:
    """/proc/stat as written once at init: each CPU's times in USER_HZ ticks (user
    nice system idle iowait irq softirq steal guest guest_nice), then the sum line
    first. The simulated clock does not run, so the times do not grow."""
    rows = [
        (
            120_000 + 1_000 * index,
            500,
            40_000 + 100 * index,
            900_000 - 1_000 * index,
            2_000,
            0,
            300,
            0,
            0,
            0,
        )
        for index in range(cpus)
    ]
    total = [sum(column) for column in zip(*rows, strict=True)]
    lines = ["cpu  " + " ".join(map(str, total))]
    lines += [f"cpu{index} " + " ".join(map(str, row)) for index, row in enumerate(rows)]
    lines += ["ctxt 1000000", "btime 1764900000", "processes 5000", "procs_running 1"]
    return "\n".join(lines) + "\n"
