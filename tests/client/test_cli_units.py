"""ovzsh's pure helpers: virsh's table, sizes, the command word, event lines, completion."""

from __future__ import annotations

import openvz
import pytest
from openvz.cli.base import kib
from openvz.cli.commands import table
from openvz.cli.jobcmds import caller_detail, caller_text, event_line, job_header, job_line
from openvz.cli.main import command_word
from openvz.cli.shell import completions
from openvz.v1 import common_pb2, events_pb2


def test_table_is_virshs() -> None:
    assert table(["Id", "Name", "State"], [["1", "web", "running"], ["-", "db", "shut off"]]) == (
        " Id   Name   State\n" + "-" * (2 + 3 + 4 + 3 + 8 + 3) + "\n"
        " 1    web    running\n"
        " -    db     shut off\n"
    )
    # Each column as wide as its widest cell, plus three.
    assert table(["Id", "Name", "State"], []) == " Id   Name   State\n" + "-" * 20 + "\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("524288", 524288),
        ("512M", 524288),
        ("512MiB", 524288),
        ("2G", 2097152),
        ("1024k", 1024),
        ("1048576b", 1024),
        ("1T", 1024**3),
    ],
)
def test_sizes_as_virsh_takes_them(text: str, expected: int) -> None:
    assert kib(text) == expected


@pytest.mark.parametrize("text", ["", "12Q", "M", "-5", "1.5G"])
def test_bad_sizes_are_refused(text: str) -> None:
    with pytest.raises(openvz.InvalidArgument, match="is not a size"):
        kib(text)


@pytest.mark.parametrize(
    ("argv", "word"),
    [
        (["list", "--all"], "list"),
        (["-c", "openvz:///system", "-r", "dominfo", "1"], "dominfo"),
        (["--connect", "openvz:///system", "uri"], "uri"),
        (["--connect=openvz:///system", "-q", "start", "1"], "start"),
        (["-r"], None),
        (["--help"], None),
    ],
)
def test_the_command_word_is_found_before_parsing(argv: list[str], word: str | None) -> None:
    assert command_word(argv) == word


def test_event_lines_in_virshs_words() -> None:
    started = events_pb2.Event(
        seq=7,
        lifecycle=events_pb2.LifecycleEvent(veid=101, kind=events_pb2.LIFECYCLE_KIND_STARTED),
    )
    started.time.FromSeconds(1_764_578_997)
    assert event_line(started, False) == "event 'lifecycle' for domain '101': Started Booted"
    assert event_line(started, True) == (
        "2025-12-01 08:49:57.000+0000: event 'lifecycle' for domain '101': Started Booted"
    )
    paused = events_pb2.Event(
        lifecycle=events_pb2.LifecycleEvent(veid=101, kind=events_pb2.LIFECYCLE_KIND_PAUSED)
    )
    assert event_line(paused, False).endswith(": Suspended Paused")
    job = events_pb2.Event(
        job=common_pb2.Job(
            operation="start", veid=101, state=common_pb2.JOB_STATE_RUNNING, progress_percent=40
        )
    )
    assert event_line(job, False) == "event 'job' for domain '101': start running 40%"
    gap = events_pb2.Event(gap=events_pb2.Gap(missed_after_seq=3, missed_count=12))
    assert event_line(gap, False) == "event 'gap': 12 events missed"


def test_completion_of_commands_and_their_options() -> None:
    assert completions("dom", "dom") == [
        "domblklist",
        "domblkstat",
        "domhostname",
        "domid",
        "domifaddr",
        "domiflist",
        "domifstat",
        "dominfo",
        "dommemstat",
        "domname",
        "domstate",
        "domstats",
        "domuuid",
    ]
    assert completions("job-", "job-") == ["job-cancel", "job-info", "job-wait"]
    assert completions("qu", "qu") == ["quit"]
    assert completions("dumpxml --in", "--in") == ["--inactive"]
    assert completions("list --state-", "--state-") == [
        "--state-other",
        "--state-paused",
        "--state-running",
        "--state-shutoff",
    ]
    assert completions("list ", "") == []  # no guessing of domain names
    assert completions("frob --", "--") == []


@pytest.mark.parametrize(
    ("caller", "short", "detail"),
    [
        (
            common_pb2.Caller(transport="unix", uid=1000, gid=100, pid=4242),
            "uid 1000",
            "unix uid 1000 gid 100 pid 4242",
        ),
        (common_pb2.Caller(transport="unix", uid=0), "uid 0", "unix uid 0"),
        (
            common_pb2.Caller(transport="tls", name="CN=admin,O=Example"),
            "CN=admin,O=Example",
            "tls CN=admin,O=Example",
        ),
        (common_pb2.Caller(transport="sasl", name="alice"), "sasl alice", "sasl alice"),
        (
            common_pb2.Caller(transport="ssh", name="bob", read_only=True),
            "ssh bob",
            "ssh bob (read-only)",
        ),
        (common_pb2.Caller(transport="daemon"), "daemon", "daemon"),
        (common_pb2.Caller(), "-", "-"),
    ],
)
def test_the_caller_of_a_job(caller: common_pb2.Caller, short: str, detail: str) -> None:
    assert caller_text(caller) == short
    assert caller_detail(caller) == detail


def test_job_lines_widen_for_long_operation_names() -> None:
    job = openvz.Job(
        None,  # type: ignore[arg-type]  (a line needs no connection)
        common_pb2.Job(
            id="a" * 32,
            operation="set-user-password",
            veid=101,
            state=common_pb2.JOB_STATE_SUCCEEDED,
            progress_percent=100,
            caller=common_pb2.Caller(transport="unix", uid=1000),
        ),
    )
    width = len("set-user-password")
    header, line = job_header(width), job_line(job, width)
    assert line == f" {'a' * 32}  set-user-password    101  succeeded   100%  uid 1000"
    assert header.index("CT") + 2 == line.index("101") + 3
    assert header.index("Caller") == line.index("uid 1000")
