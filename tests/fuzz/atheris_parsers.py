"""libFuzzer (atheris), coverage-guided, over the parsers; not part of `make test`.

    .venv/bin/python -m pip install atheris          # a wheel for CPython 3.11 on x86_64
    .venv/bin/python tests/fuzz/atheris_parsers.py TARGET [libFuzzer flags]
    e.g. ... atheris_parsers.py domxml -atheris_runs=200000 -max_len=4096

TARGET is one of uri, conf, vzlist, version, domxml, device. Without a corpus folder
among the flags, libFuzzer starts from the same real samples as the Hypothesis
tests (written to a temporary folder). Each input, read as UTF-8, goes through
the same contract check as the Hypothesis tests in this folder, so any exception
other than the parser's own error is a crash libFuzzer reports (and saves as
crash-*; keep it as an @example in the matching test_fuzz_*.py).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

with atheris.instrument_imports():
    import openvz.uri  # noqa: F401
    import openvzd.domxml
    import openvzd.vz.conffile
    import openvzd.vz.host
    import openvzd.vz.version  # noqa: F401

from tests.fuzz import (
    test_fuzz_conffile,
    test_fuzz_domxml,
    test_fuzz_uri,
    test_fuzz_version,
    test_fuzz_vzlist,
)


def _device(text: str) -> None:
    test_fuzz_domxml.check_device(text, attach=True)
    test_fuzz_domxml.check_device(text, attach=False)


def _domain(text: str) -> None:
    test_fuzz_domxml.check_domain(text)


TARGETS: dict[str, tuple[Callable[[str], None], list[str]]] = {
    "uri": (test_fuzz_uri.check, test_fuzz_uri.VALID),
    "conf": (test_fuzz_conffile.check_accounted, test_fuzz_conffile.SEEDS),
    "vzlist": (test_fuzz_vzlist.check, ["      1000 running\n      1001 stopped\n"]),
    "version": (test_fuzz_version.check, test_fuzz_version.REAL),
    "domxml": (_domain, [test_fuzz_domxml.EXAMPLE_XML, test_fuzz_domxml.BRIDGED]),
    "device": (_device, test_fuzz_domxml.DEVICES),
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(TARGETS)}}} [libFuzzer flags] [corpus]")
    check, seeds = TARGETS[sys.argv[1]]
    flags = sys.argv[2:]
    with tempfile.TemporaryDirectory(prefix="atheris-seeds-") as corpus:
        if all(flag.startswith("-") for flag in flags):
            for number, seed in enumerate(seeds):
                (Path(corpus) / f"seed-{number}").write_text(seed)
            flags.append(corpus)

        def one_input(data: bytes) -> None:
            check(data.decode("utf-8", errors="replace"))

        atheris.Setup([sys.argv[0], *flags], one_input)
        atheris.Fuzz()


if __name__ == "__main__":
    main()
