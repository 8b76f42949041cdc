"""libFuzzer (atheris), coverage-guided, over the parsers; not part of `make test`.

    .venv/bin/python -m pip install atheris          # a wheel for CPython 3.11 on x86_64
    .venv/bin/python tests/fuzz/atheris_parsers.py TARGET [libFuzzer flags]
    e.g. ... atheris_parsers.py domxml -atheris_runs=200000 -max_len=4096

TARGET is one of uri, conf, vzlist, version, domxml, device. Each input goes through
the same contract check as the Hypothesis tests in this folder, so any exception
other than the parser's own error is a crash libFuzzer reports (and saves as
crash-*; keep it as an @example in the matching test_fuzz_*.py).
"""

from __future__ import annotations

import sys
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

from tests.fuzz import test_fuzz_domxml, test_fuzz_uri, test_fuzz_version, test_fuzz_vzlist
from tests.fuzz.test_fuzz_conffile import check_accounted


def _device(text: str) -> None:
    if not test_fuzz_domxml.known_bug(text):
        test_fuzz_domxml.check_device(text, attach=True)
        test_fuzz_domxml.check_device(text, attach=False)


def _domain(text: str) -> None:
    if not test_fuzz_domxml.known_bug(text):  # the recorded xfail regressions
        test_fuzz_domxml.check_domain(text)


TARGETS: dict[str, Callable[[str], None]] = {
    "uri": test_fuzz_uri.check,
    "conf": check_accounted,
    "vzlist": test_fuzz_vzlist.check,
    "version": test_fuzz_version.check,
    "domxml": _domain,
    "device": _device,
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(TARGETS)}}} [libFuzzer flags]")
    check = TARGETS[sys.argv[1]]

    def one_input(data: bytes) -> None:
        provider = atheris.FuzzedDataProvider(data)
        check(provider.ConsumeUnicodeNoSurrogates(len(data)))

    atheris.Setup([sys.argv[0], *sys.argv[2:]], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
