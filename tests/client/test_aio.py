"""openvz.aio against a real `openvzd --simulate` process."""

from __future__ import annotations

import asyncio
from pathlib import Path

import openvz
import openvz.aio
import pytest

from tests.daemon_process import running_daemon


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
