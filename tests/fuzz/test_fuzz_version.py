"""daemon/openvzd/vz/version.py: parse_vzctl_version returns a version or None for
any output of `vzctl --version`, and a version has a flavour."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from openvzd.vz.version import parse_vzctl_version

from tests.fuzz.profiles import fuzz, no_hang
from tests.fuzz.strategies import HUGE_NUMBER, mutated

REAL = ["vzctl version 3.0.22\n", "vzctl version 4.11.1\n", "vzctl v.7.0.200\n"]


def check(output: str) -> None:
    with no_hang():
        version = parse_vzctl_version(output)
    if version is not None:
        assert version.numbers and version.flavour in ("legacy3", "legacy4", "ovz7")
        assert tuple(int(part) for part in version.text.split(".")) == version.numbers


@pytest.mark.parametrize(
    "output",
    [
        f"vzctl version {HUGE_NUMBER}",  # found: int() refuses more than 4,300 digits
        "vzctl version \u0664.\u0661\u0661",  # found: Arabic-Indic digits were read as 4.11
    ],
)
def test_found_outputs_are_no_version(output: str) -> None:
    assert parse_vzctl_version(output) is None


@fuzz()
@given(st.sampled_from(REAL).flatmap(mutated))
@example("vzctl version 4.11.1" + ".1" * 3000)
@example("vzctl v.7.0200\n")  # found by the soak run: leading zeros stay in the text
def test_mutated_version_output(output: str) -> None:
    check(output)


@fuzz()
@given(st.text(max_size=200).map(lambda tail: "vzctl version " + tail))
def test_anything_after_the_word_version(output: str) -> None:
    check(output)


def test_a_version_ending_a_sentence_is_read() -> None:
    version = parse_vzctl_version("Installed: vzctl version 4.11.1.")
    assert version is not None and version.numbers == (4, 11, 1)
