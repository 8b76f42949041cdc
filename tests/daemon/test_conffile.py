"""CTID.conf by vzctl's rules (openvz-tools.md §3.1), in the forms of libvirt's own test data."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from openvzd.vz.conffile import parse_config, quote, read_config, updated_text, write_atomically

SAMPLE = """\
# sample config
ONBOOT="yes"
KMEMSIZE="184953241:203448565"
DISKSPACE="107733379:118506717"
DISKSPACE=""
CPUUNITS=150550
OSTEMPLATE="rhel-5-lystor"
IP_ADDRESS="194.44.18.88"
this line is garbage
NAME="say \\"hi\\""
NETIF="ifname=eth10,mac=00:18:51:C1:05:EE,host_ifname=veth105.10,host_mac=00:18:51:8F:D9:F3

#UUID: 7109D234-F5A8-30A6-5DD2-39CA85CE3958
"""


def test_vzctl_rules() -> None:
    config = parse_config(SAMPLE)
    values = config.values
    assert values["ONBOOT"] == "yes"
    assert values["CPUUNITS"] == "150550"  # unquoted
    assert values["DISKSPACE"] == "107733379:118506717"  # the first occurrence wins
    assert values["NAME"] == 'say "hi"'  # backslash escapes
    assert "NETIF" not in values  # the unterminated quote skips the line ...
    assert config.uuid == "7109d234-f5a8-30a6-5dd2-39ca85ce3958"
    problems = {p.line_number: p.why for p in config.problems}
    assert problems == {9: "'=' not found", 11: "unmatched quotes"}  # ... and says where


def test_an_unreadable_file_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    config = read_config(tmp_path / "absent.conf")
    assert config.values == {} and len(config.problems) == 1


def test_edits_keep_every_other_line() -> None:
    text = updated_text(SAMPLE, {"ONBOOT": "no", "HOSTNAME": "ct101", "CPUUNITS": None})
    lines = text.splitlines()
    assert lines[1] == 'ONBOOT="no"'
    assert lines[-1] == 'HOSTNAME="ct101"'
    assert not any(line.startswith("CPUUNITS=") for line in lines)
    assert "this line is garbage" in lines and "# sample config" in lines
    assert lines.count('DISKSPACE=""') == 1


def test_uuid_comment_is_set_once() -> None:
    text = updated_text(SAMPLE, {}, uuid="00000000-0000-0000-0000-000000000001")
    assert text.count("#UUID:") == 1
    assert parse_config(text).uuid == "00000000-0000-0000-0000-000000000001"
    fresh = updated_text('ONBOOT="yes"\n', {}, uuid="00000000-0000-0000-0000-000000000002")
    assert fresh == 'ONBOOT="yes"\n\n#UUID: 00000000-0000-0000-0000-000000000002\n'


def test_atomic_write_keeps_the_mode_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "101.conf"
    path.write_text("A=1\n")
    os.chmod(path, 0o600)
    write_atomically(path, 'A="2"\n')
    assert path.read_text() == 'A="2"\n'
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["101.conf"]


@given(st.text())
def test_parsing_never_raises(text: str) -> None:
    parse_config(text)


KEYS = st.from_regex(r"[A-Z_][A-Z0-9_]{0,12}", fullmatch=True)
VALUES = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=40)


@given(st.dictionaries(KEYS, VALUES, max_size=8))
def test_what_is_written_reads_back(values: dict[str, str]) -> None:
    text = updated_text("# kept\n", values)
    assert parse_config(text).values == values
    assert all(f"{k}={quote(v)}" in text.splitlines() for k, v in values.items())
