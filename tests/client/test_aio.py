"""openvz.aio against a real `openvzd --simulate` process."""

from __future__ import annotations

import asyncio
from pathlib import Path

import openvz
import openvz.aio
import pytest
from openvz.v1 import events_pb2

from tests.daemon_process import running_daemon, start_daemon


async def test_async_library(tmp_path: Path) -> None:
    with running_daemon(tmp_path / "sim") as daemon:
        uri = f"openvz+unix:///system?socket={daemon.rw_socket}"
        async with await openvz.aio.open(uri) as conn:
            assert (await conn.version()).simulated
            xml = (daemon.sim_dir / "example-150.xml").read_text()
            dom = await conn.define_xml(xml)
            assert isinstance(dom, openvz.aio.Domain)
            events = conn.events()
            first = asyncio.ensure_future(anext(events))
            await asyncio.sleep(0.2)
            job = await dom.create(wait=False)
            assert job is not None
            await job.wait(timeout=30)
            event = await asyncio.wait_for(first, 10)
            assert event.lifecycle.veid == 150
            await events.aclose()
            assert await dom.state() == ("running", "booted")
            with pytest.raises(openvz.WrongState):
                await dom.create()
            assert "<name>150</name>" in await dom.xml_desc()
            names = [d.name() for d in await conn.list_all_domains()]
            assert names == ["150"]
        async with await openvz.aio.open_read_only(uri) as conn:
            dom = await conn.lookup_by_id(150)
            with pytest.raises(openvz.PermissionDenied):
                await dom.destroy()


def public_names(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


@pytest.mark.parametrize(
    ("sync", "asynchronous"),
    [
        (openvz.Connection, openvz.aio.Connection),
        (openvz.Domain, openvz.aio.Domain),
        (openvz.Job, openvz.aio.Job),
    ],
)
def test_the_asyncio_flavour_has_the_same_surface(sync: type, asynchronous: type) -> None:
    missing = public_names(sync) - public_names(asynchronous)
    assert missing == set(), f"openvz.aio.{asynchronous.__name__} lacks {sorted(missing)}"


async def test_async_queries_changes_and_errors(tmp_path: Path) -> None:
    with running_daemon(tmp_path / "sim") as daemon:
        uri = f"openvz+unix:///system?socket={daemon.rw_socket}"
        async with await openvz.aio.open(uri) as conn:
            for veid in (155, 156):
                xml = (daemon.sim_dir / "example-150.xml").read_text().replace("150", str(veid))
                job = await conn.define_xml(xml, wait=False)
                assert isinstance(job, openvz.aio.Job)
                await job.wait(timeout=30)
            dom = await conn.lookup("155")
            await dom.create()
            assert [d.name() for d in await conn.list_all_domains(openvz.LIST_ACTIVE)] == ["155"]
            assert await conn.list_defined_domains() == ["156"]
            assert await conn.num_of_domains() == 1
            off = await conn.lookup_by_uuid((await conn.lookup_by_name("156")).uuid_string())
            await off.set_autostart(True)
            assert await off.autostart()
            auto = await conn.list_all_domains(openvz.LIST_AUTOSTART)
            assert [d.name() for d in auto] == ["156"]
            await off.set_memory_parameters(swap_hard_limit_kib=1048576)
            assert (await off.memory_parameters()).swap_hard_limit_kib == 1048576
            await off.set_hostname("ct156.example")
            assert await off.hostname() == "ct156.example"
            assert (await dom.stats()).domain.name == "155"
            assert len(await conn.get_all_domain_stats()) == 2
            assert (await conn.node_info()).cpus > 0 and await conn.hostname()
            assert all(check.name for check in await conn.host_check())
            jobs = await conn.list_jobs(156)
            # Newest first, each named by its operation.
            assert [j.message.operation for j in jobs] == [
                "set-hostname",
                "set-memory-parameters",
                "set-autostart",
                "define",
            ]
            assert (await conn.job(jobs[0].id)).state == "succeeded"
            with pytest.raises(openvz.NotFound):
                await conn.lookup_by_id(4242)
            with pytest.raises(openvz.InvalidArgument):
                await off.set_memory_parameters(bogus_kib=1)
            await dom.destroy()
            await dom.undefine(keep_storage=True)
            assert [d.name() for d in await conn.list_all_domains()] == ["156"]


async def test_async_events_resume_after_a_daemon_restart(tmp_path: Path) -> None:
    sim_dir = tmp_path / "sim"
    first = start_daemon(sim_dir)
    second = None
    try:
        uri = f"openvz+unix:///system?socket={first.rw_socket}"
        xml = (sim_dir / "example-150.xml").read_text().replace("150", "157")
        async with await openvz.aio.open(uri) as watcher, await openvz.aio.open(uri) as conn:
            await conn.define_xml(xml)
            events = watcher.events()
            pending = asyncio.ensure_future(anext(events))
            await asyncio.sleep(0.5)  # the stream is open before the change
            await (await conn.lookup_by_name("157")).create()
            started = await asyncio.wait_for(pending, 30)
            assert started.lifecycle.kind == events_pb2.LIFECYCLE_KIND_STARTED

            pending = asyncio.ensure_future(anext(events))
            await asyncio.to_thread(first.stop)
            second = await asyncio.to_thread(start_daemon, sim_dir)
            async with await openvz.aio.open(uri) as again:
                await (await again.lookup_by_name("157")).destroy()
            seen = [await asyncio.wait_for(pending, 60)]
            while not seen[-1].HasField("lifecycle") and len(seen) < 5:
                seen.append(await asyncio.wait_for(anext(events), 60))
            await events.aclose()
        assert seen[-1].lifecycle.kind == events_pb2.LIFECYCLE_KIND_STOPPED
        assert seen[-1].seq > started.seq
    finally:
        for process in (first, second):
            if process is not None:
                process.stop()
