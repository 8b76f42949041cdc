"""daemon/openvzd/vz/conffile.py: reading never raises and accounts for every
line; editing keeps every other line, reads back as written, and refuses a value
that would break the file (a line break) with BAD_ARGUMENT.

tests/daemon/test_conffile.py already feeds st.text() to parse_config and round-trips
clean values; these start from the stock vz.conf and sample configs instead."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from openvzd.vz.conffile import parse_config, quote, read_config, updated_text
from openvzd.vz.errors import ErrorKind, VzError

from tests.fuzz.profiles import fuzz, no_hang
from tests.fuzz.strategies import FRAGMENT, HOSTILE_TEXT, mutated
from vzsim.samples import sample_configs, vz_conf

SEEDS = [vz_conf(legacy=False), vz_conf(legacy=True), *sample_configs(legacy=False).values()]
CONFIG_TEXT = st.sampled_from(SEEDS).flatmap(lambda seed: mutated(seed, max_edits=8))
KEYS = st.sampled_from(["ONBOOT", "NAME", "HOSTNAME", "IP_ADDRESS", "PHYSPAGES", "NEWKEY"])


def lines_of(text: str) -> list[str]:
    """Lines as vzctl reads them (fgets: only \\n ends a line)."""
    lines = text.split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def check_accounted(text: str) -> None:
    with no_hang():
        config = parse_config(text)
    lines = lines_of(text)
    for problem in config.problems:
        assert 1 <= problem.line_number <= len(lines)
        assert problem.text == lines[problem.line_number - 1]
        assert problem.why
    assert len(config.values) + len(config.problems) <= len(lines)
    for key in config.values:
        assert any(line.strip().startswith(f"{key}=") for line in lines), key


@fuzz()
@given(CONFIG_TEXT)
@example('NAME="a\u2028b"\nONBOOT="yes"\n')
def test_mutated_configs_are_read_line_by_line(text: str) -> None:
    check_accounted(text)


def test_a_unicode_line_separator_inside_a_value_is_part_of_the_value() -> None:
    # vzctl reads lines with fgets; str.splitlines() would also split at \u2028, \x85, \x1c...
    config = parse_config('NAME="a\u2028b"\nHOSTNAME="h\x85"\n')
    assert config.values == {"NAME": "a\u2028b", "HOSTNAME": "h\x85"}
    assert not config.problems


@fuzz()
@given(st.binary(max_size=2000))
@example(b"\xff\xfeN\x00A\x00M\x00E\x00=\x00")
@example(b'NAME="\xc3"\n')
def test_any_bytes_on_disk(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "101.conf"
        path.write_bytes(data)
        with no_hang():
            config = read_config(path)
    assert config.values is not None


@fuzz()
@given(CONFIG_TEXT, st.dictionaries(KEYS, FRAGMENT, max_size=4), st.none() | st.uuids())
@example("A=1\n", {"NAME": "x\ny=1"}, None)
@example('NAME="old"\nNAME="older"\n', {"NAME": "new"}, None)
def test_edits_keep_every_other_line_and_read_back(
    text: str, changes: dict[str, str], uuid: object
) -> None:
    before = parse_config(text)
    try:
        with no_hang():
            edited = updated_text(text, changes, uuid=None if uuid is None else str(uuid))
    except VzError as refusal:
        assert refusal.kind is ErrorKind.BAD_ARGUMENT and refusal.message
        assert any(ch in value for value in changes.values() for ch in "\n\r\x00")
        return
    after = parse_config(edited)
    expected = {k: v for k, v in before.values.items() if k not in changes} | changes
    assert after.values == expected
    if uuid is not None:
        assert after.uuid == str(uuid)
    kept = [
        line
        for line in lines_of(text)
        if line.strip().partition("=")[0] not in changes and not line.strip().startswith("#UUID")
    ]
    remaining = lines_of(edited)
    for line in kept:
        assert line in remaining


@fuzz()
@given(CONFIG_TEXT, st.lists(KEYS, min_size=1, max_size=3))
@example('NAME="a"\nNAME="b"\n', ["NAME"])
def test_a_deleted_key_is_gone_even_when_it_was_duplicated(text: str, keys: list[str]) -> None:
    after = parse_config(updated_text(text, dict.fromkeys(keys)))
    assert not set(keys) & after.values.keys()


@fuzz()
@given(HOSTILE_TEXT)
@example("$(reboot)`id`")
def test_written_values_are_inert_for_the_shell_scripts_that_source_the_file(
    value: str,
) -> None:
    try:
        quoted = quote(value)
    except VzError as refusal:
        assert refusal.kind is ErrorKind.BAD_ARGUMENT
        return
    body = quoted[1:-1]
    for special in '"$`':
        # every quote, $ and backquote is escaped, so `. CTID.conf` expands nothing
        assert all(body[i - 1] == "\\" for i, ch in enumerate(body) if ch == special)
    assert parse_config(f"K={quoted}\n").values == {"K": value}


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "a\x00b"])
def test_a_value_that_would_break_the_file_is_refused(value: str) -> None:
    with pytest.raises(VzError) as caught:
        quote(value)
    assert caught.value.kind is ErrorKind.BAD_ARGUMENT
    assert "line" in caught.value.message
