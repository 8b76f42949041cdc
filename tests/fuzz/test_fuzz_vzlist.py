"""daemon/openvzd/vz/host.py: vzlist's 'CTID STATUS' lines give container IDs the
wire can carry or a VzError that quotes the line; HostModel.find answers any name."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from openvzd.vz.conffile import ConfigFile
from openvzd.vz.errors import ErrorKind, VzError
from openvzd.vz.host import STATUSES, Container, HostModel, HostPaths, parse_status_lines
from openvzd.vz.spec import MAX_VEID

from tests.fuzz.profiles import fuzz, no_hang
from tests.fuzz.strategies import FRAGMENT, HOSTILE_WORDS, HUGE_NUMBER, mutated

# Found by these tests: each raised ValueError (int() of isdigit() text) or gave an ID
# the wire's int32 cannot carry.
FOUND_LINES = [
    "\u00b2 running",
    f"{HUGE_NUMBER} running",
    "99999999999 stopped",
]


@pytest.fixture(scope="module")
def vzlist_output(vzsim_host: Path) -> str:
    vzlist = str(vzsim_host / "usr" / "sbin" / "vzlist")
    run = subprocess.run(
        [vzlist, "-a", "-H", "-o", "ctid,status"], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0 and "running" in run.stdout, run.stderr
    return run.stdout


def check(text: str) -> None:
    with no_hang():
        try:
            statuses = parse_status_lines(text)
        except VzError as refusal:
            assert refusal.kind is ErrorKind.INTERNAL and refusal.tool == "vzlist"
            assert "vzlist printed" in refusal.message
            return
    for veid, status in statuses.items():
        assert 0 <= veid <= MAX_VEID and status in STATUSES


def test_vzsims_own_output_is_read(vzlist_output: str) -> None:
    assert len(parse_status_lines(vzlist_output)) == 5


@pytest.mark.parametrize("line", FOUND_LINES)
def test_found_lines_are_refused(line: str) -> None:
    with pytest.raises(VzError):
        parse_status_lines(line + "\n")


def test_blank_lines_are_not_containers() -> None:
    assert parse_status_lines("\n   101 running\n\n") == {101: "running"}


@fuzz()
@given(st.data())
def test_mutated_vzlist_output(vzlist_output: str, data: st.DataObject) -> None:
    check(data.draw(mutated(vzlist_output, max_edits=6)))


SPACES = st.text(st.sampled_from(" \t\x0b\x0c\r\u00a0\u3000"), max_size=4)


@fuzz()
@given(
    st.lists(
        st.tuples(
            SPACES,
            st.one_of(st.integers(-5, 2**40).map(str), HOSTILE_WORDS),
            SPACES,
            st.one_of(st.sampled_from(sorted(STATUSES)), FRAGMENT),
            SPACES,
        ).map("".join),
        max_size=6,
    ).map("\n".join)
)
def test_lines_with_odd_spacing_and_odd_ids(text: str) -> None:
    check(text)


@fuzz()
@given(st.text(max_size=300))
def test_any_text(text: str) -> None:
    check(text)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> HostModel:
    host = HostModel(HostPaths(tmp_path_factory.mktemp("model")), runner=None)  # type: ignore[arg-type]
    for veid, name in [(101, "web"), (102, "101"), (103, "")]:
        host.containers[veid] = Container(veid, "running", ConfigFile(values={"NAME": name}))
    return host


@fuzz()
@given(st.one_of(FRAGMENT, st.integers(-5, 2**40).map(str)))
@example("\u00b2")
@example(HUGE_NUMBER)
def test_find_answers_any_name(model: HostModel, name: str) -> None:
    with no_hang():
        found = model.find(name)
    if found is not None:
        assert name in (str(found.veid), found.vz_name) or int(name) == found.veid
