"""daemon/openvzd/vz/grammar.py: every value a grammar accepts is inert in a shell
that sources the config it lands in (issue 13, item 2).

Each example draws one candidate per value class, near-valid values with hostile
fragments spliced in as well as valid ones. A refused value must be refused with
BAD_ARGUMENT naming its class. Every accepted value is written twice into a
scratch folder that holds a canary: through the real config writer
(conffile.updated_text + write_atomically), and as vzctl writes it, `KEY="value"`
with no escaping at all. bash then sources both files (argv only, no shell
string built from a value) and prints each key back; nothing may have run (no
new file appears in the folder, the canary is untouched) and each key must read
back exactly as accepted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from hypothesis import example, given
from hypothesis import strategies as st
from openvzd.vz.conffile import updated_text, write_atomically
from openvzd.vz.errors import ErrorKind, VzError
from openvzd.vz.grammar import (
    validate_bridge,
    validate_hostname,
    validate_interface_name,
    validate_ip,
    validate_mac,
    validate_nameserver,
    validate_private_dir,
    validate_search_domain,
    validate_template,
    validate_user_name,
)

from tests.fuzz.profiles import fuzz

BASH = shutil.which("bash") or "/bin/bash"
CANARY = "canary"
CANARY_TEXT = "untouched\n"
# Each payload would leave a file named ran-* in the folder if a shell ran it.
PAYLOADS = [
    "$(touch ran-1)",
    "`touch ran-2`",
    "$(id>ran-3)",
    '";touch ran-4;"',
    "';touch ran-5;'",
    "\ntouch ran-6\n",
    "${IFS}",
    "\\",
    "$VEID",
    ";",
    "|",
    "&",
    " ",
    "*",
    "%",
    "/",
    ":",
    ",",
    "ö",
    "\t",
    "..",
    "-",
    "$",
]
PAYLOAD = st.sampled_from(PAYLOADS)


def spliced(valid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A valid value, or one with a hostile fragment put at a drawn position."""

    @st.composite
    def build(draw: st.DrawFn) -> str:
        base = draw(valid)
        if draw(st.booleans()):
            return base
        where = draw(st.integers(0, len(base)))
        return base[:where] + draw(st.one_of(PAYLOAD, st.text(max_size=4))) + base[where:]

    return build()


IFNAME = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}", fullmatch=True)
HOSTNAME = st.from_regex(r"[a-z0-9]{1,8}(\.[a-z0-9-]{1,8}){0,3}", fullmatch=True)
IPV6_SCOPED = st.builds(
    lambda address, scope: f"{address}%{scope}", st.ip_addresses(v=6).map(str), IFNAME
)
ADDRESS = st.one_of(st.ip_addresses().map(str), IPV6_SCOPED)
WITH_PREFIX = st.builds(lambda address, prefix: f"{address}/{prefix}", ADDRESS, st.integers(0, 128))

# (what the refusal must name, validator, candidates)
CLASSES: list[tuple[str, Callable[[str], str], st.SearchStrategy[str]]] = [
    ("IP address", validate_ip, spliced(st.one_of(ADDRESS, WITH_PREFIX))),
    ("nameserver", validate_nameserver, spliced(st.one_of(ADDRESS, st.just("inherit")))),
    ("host name", validate_hostname, spliced(HOSTNAME)),
    ("search domain", validate_search_domain, spliced(HOSTNAME)),
    ("interface name", validate_interface_name, spliced(IFNAME)),
    ("bridge name", validate_bridge, spliced(IFNAME)),
    (
        "MAC address",
        validate_mac,
        spliced(st.from_regex(r"([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}", fullmatch=True)),
    ),
    (
        "user name",
        validate_user_name,
        spliced(st.from_regex(r"[a-z_][a-z0-9_-]{0,30}\$?", fullmatch=True)),
    ),
    (
        "path",
        validate_private_dir,
        spliced(st.from_regex(r"(/[A-Za-z0-9._-]{1,12}){1,4}", fullmatch=True)),
    ),
    (
        "OS template",
        validate_template,
        spliced(st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,30}", fullmatch=True)),
    ),
]
CANDIDATES = st.tuples(*(strategy for _, _, strategy in CLASSES))


def accepted_values(candidates: tuple[str, ...]) -> dict[str, str]:
    """The accepted candidates by config key; a refusal is checked on the spot."""
    values = {}
    for number, ((what, validate, _), candidate) in enumerate(
        zip(CLASSES, candidates, strict=True)
    ):
        try:
            values[f"KEY{number}"] = validate(candidate)
        except VzError as err:
            assert err.kind is ErrorKind.BAD_ARGUMENT, (what, candidate)
            assert what in err.message, (what, err.message)
    return values


def source_and_print(folder: Path, config: Path, keys: list[str]) -> list[str]:
    script = '. "$1"; shift; for key; do printf "%s\\0" "${!key}"; done'
    result = subprocess.run(
        [BASH, "--norc", "--noprofile", "-c", script, "bash", str(config), *keys],
        cwd=folder,
        env={"PATH": os.defpath, "LC_ALL": "C.UTF-8"},
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.decode().split("\0")[:-1]


def check_inert(values: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory(prefix="grammar-") as scratch:
        folder = Path(scratch)
        (folder / CANARY).write_text(CANARY_TEXT)
        written = folder / "written.conf"
        written.write_text("")
        write_atomically(written, updated_text("# CTID.conf\n", values))
        raw = folder / "vzctl.conf"
        raw.write_text("".join(f'{key}="{value}"\n' for key, value in values.items()))
        keys = list(values)
        for config in (written, raw):
            assert source_and_print(folder, config, keys) == list(values.values()), config.name
        assert sorted(p.name for p in folder.iterdir()) == [CANARY, "vzctl.conf", "written.conf"]
        assert (folder / CANARY).read_text() == CANARY_TEXT


@fuzz(0.5)
@given(CANDIDATES)
@example(
    (
        "fe80::1%$(touch ran-1)",
        "fe80::1%`touch ran-2`",
        "web.example.com",
        "inherit",
        "veth101.0",
        "br0",
        "00:18:51:12:34:56",
        "root",
        "/vz/private/101",
        "centos-7-x86_64-minimal",
    )
)
def test_every_accepted_value_is_inert_when_the_config_is_sourced(
    candidates: tuple[str, ...],
) -> None:
    values = accepted_values(candidates)
    if values:
        check_inert(values)


def test_the_check_sees_a_payload_run() -> None:
    """The same check catches a value that does run (so it can fail)."""
    try:
        check_inert({"KEY0": "$(touch ran-1)"})
    except AssertionError:
        return
    raise AssertionError("a $(...) value written unescaped ran, and the check did not see it")
