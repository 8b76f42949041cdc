"""openvz.calls without I/O: each call's requests and how it reads the replies,
driven by hand the way the sync and asyncio faces drive them over gRPC."""

from __future__ import annotations

from typing import Any

import pytest
from openvz import calls
from openvz.cli.base import as_dict
from openvz.v1 import common_pb2, domains_pb2


def drive(call: calls.Call[Any], replies: list[Any]) -> tuple[list[calls.Rpc], Any]:
    """Run a call against canned replies: the Rpcs it made, and its result."""
    made = [next(call)]
    for reply in replies:
        try:
            made.append(call.send(reply))
        except StopIteration as finished:
            return made, finished.value
    raise AssertionError(f"the call wanted more than {len(replies)} replies: {made}")


def job_reply(veid: int) -> common_pb2.JobReply:
    return common_pb2.JobReply(job=common_pb2.Job(id="j1", result_veid=veid))


def test_define_waits_then_reads_the_domain_it_made() -> None:
    made, result = drive(
        calls.define("Define", "<domain/>", wait=True),
        [job_reply(150), domains_pb2.Domain(id=-1, name="150")],
    )
    assert [(r.service, r.method) for r in made] == [("Domains", "Define"), ("Domains", "Lookup")]
    assert made[0].timeout is None  # a change waits as long as its job takes
    assert made[1].request == common_pb2.DomainRef(id=150)
    assert result.name == "150"


def test_define_without_waiting_answers_its_job() -> None:
    made, result = drive(calls.define("Create", "<domain/>", wait=False), [job_reply(0)])
    assert made[0].request.options.no_wait
    assert result.id == "j1"


@pytest.mark.parametrize(
    ("method", "request_message", "reads_back"),
    [
        ("Start", domains_pb2.DomainCall(domain=common_pb2.DomainRef(id=7)), True),
        ("Undefine", domains_pb2.UndefineRequest(domain=common_pb2.DomainRef(id=7)), False),
        ("Migrate", domains_pb2.MigrateRequest(domain=common_pb2.DomainRef(id=7)), False),
        (
            "Migrate",
            domains_pb2.MigrateRequest(domain=common_pb2.DomainRef(id=7), keep_source=True),
            True,
        ),
    ],
)
def test_a_waited_change_reads_the_domain_back_unless_it_is_gone(
    method: str, request_message: Any, reads_back: bool
) -> None:
    fresh = domains_pb2.Domain(id=7, name="7", state=domains_pb2.DOMAIN_STATE_RUNNING)
    made, (job, domain) = drive(
        calls.change(method, request_message, wait=True), [job_reply(7), fresh]
    )
    assert job.id == "j1"
    assert [r.method for r in made] == [method, "Lookup"] if reads_back else [method]
    assert domain == (fresh if reads_back else None)


def test_interface_stats_reads_the_xml_only_for_a_guest_name() -> None:
    stats = domains_pb2.DomainStats(interfaces=[domains_pb2.InterfaceStats(device="veth7.0")])
    ref = common_pb2.DomainRef(id=7)
    made, found = drive(
        calls.interface_stats("7", ref, "veth7.0"), [domains_pb2.GetStatsResponse(stats=[stats])]
    )
    assert [r.method for r in made] == ["GetStats"] and found.device == "veth7.0"
    xml = (
        "<domain><devices><interface type='bridge'><target dev='veth7.0'/>"
        "<guest dev='eth0'/></interface></devices></domain>"
    )
    made, found = drive(
        calls.interface_stats("7", ref, "eth0"),
        [domains_pb2.GetStatsResponse(stats=[stats]), domains_pb2.DomainXML(xml=xml)],
    )
    assert [r.method for r in made] == ["GetStats", "GetXML"] and found.device == "veth7.0"


def test_json_has_state_words_and_numbers() -> None:
    job = common_pb2.Job(
        id="j", state=common_pb2.JOB_STATE_FAILED, error=common_pb2.JobError(kind=1)
    )
    job.created.FromSeconds(0)
    assert as_dict(job) == {
        "id": "j",
        "state": "failed",
        "error": {"kind": "not_found"},
        "created": "1970-01-01T00:00:00Z",
    }
    info = domains_pb2.DomainInfo(
        domain=domains_pb2.Domain(state=domains_pb2.DOMAIN_STATE_SHUTOFF, id=-1),
        max_memory_kib=2**40,
    )
    assert as_dict(info) == {
        "domain": {"id": -1, "state": "shut off"},
        "max_memory_kib": 2**40,
    }
