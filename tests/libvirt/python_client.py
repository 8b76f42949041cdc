"""A libvirt-python script, run by tests/libvirt/test_python.py under Debian's
/usr/bin/python3 with its python3-libvirt (not the project's venv).

argv: read-write URI, read-only-socket URI, domain XML file, domain name.
Prints one JSON object per step on stdout; after "events-ready" it waits for a
line on stdin ("go": the test has stopped the domain behind openvzd's back) and
reports how long the lifecycle event took from then.
"""

import json
import pathlib
import sys
import threading
import time

import libvirt


def report(step, **values):
    print(json.dumps({"step": step, **values}), flush=True)


def code_of(call):
    try:
        call()
    except libvirt.libvirtError as err:
        return err.get_error_code()
    return None


def main():
    rw_uri, ro_uri, xml_path, name = sys.argv[1:5]
    libvirt.virEventRegisterDefaultImpl()
    running = True

    def loop():
        while running:
            libvirt.virEventRunDefaultImpl()

    threading.Thread(target=loop, daemon=True).start()
    libvirt.registerErrorHandler(lambda ctx, err: None, None)

    conn = libvirt.open(rw_uri)
    xml = pathlib.Path(xml_path).read_text()
    dom = conn.defineXML(xml)
    report("define", name=dom.name(), uuid=dom.UUIDString(), active=dom.isActive())
    dom.create()
    report("create", id=dom.ID(), state=dom.state())
    report("list", names=sorted(d.name() for d in conn.listAllDomains(0)))
    by_name = conn.lookupByName(name)
    by_uuid = conn.lookupByUUIDString(dom.UUIDString())
    report("lookup", by_name=by_name.name(), by_uuid=by_uuid.name(), id=by_name.ID())
    report("info", info=by_name.info(), state=by_name.state())
    report("xml", has_name=f"<name>{name}</name>" in by_name.XMLDesc(0))
    by_name.setAutostart(1)
    stats = conn.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_STATE, 0)
    report(
        "host-and-stats",
        node=conn.getInfo(),
        autostart=by_name.autostart(),
        stats={dom.name(): values for dom, values in stats},
        memory=by_name.memoryStats(),
    )
    by_name.destroy()
    report("destroy", state=by_name.state())

    report(
        "errors",
        no_domain=code_of(lambda: conn.lookupByName("999999")),
        dom_exist=code_of(lambda: conn.createXML(xml, 0)),
        invalid_arg=code_of(lambda: by_name.setMemoryFlags(10, 0)),
        operation_invalid=code_of(by_name.suspend),
        no_support=code_of(lambda: conn.listAllNetworks(0)),
        still_open=conn.getHostname(),
    )

    ro_socket = libvirt.open(ro_uri)
    ro_open = libvirt.openReadOnly(rw_uri)
    report(
        "read-only",
        socket_create=code_of(ro_socket.lookupByName(name).create),
        socket_reads=ro_socket.lookupByName(name).state(),
        open_create=code_of(ro_open.lookupByName(name).create),
    )
    ro_socket.close()
    ro_open.close()

    by_name.create()
    seen = []
    arrived = threading.Event()

    def lifecycle(conn, dom, event, detail, opaque):
        seen.append((dom.name(), event, detail))
        if event == libvirt.VIR_DOMAIN_EVENT_STOPPED:
            arrived.set()

    callback = conn.domainEventRegisterAny(
        None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, lifecycle, None
    )
    report("events-ready")
    sys.stdin.readline()
    started = time.monotonic()
    got = arrived.wait(5.0)
    report("event", arrived=got, seconds=time.monotonic() - started, seen=seen)
    conn.domainEventDeregisterAny(callback)

    by_name.undefine()
    report("undefine", gone=code_of(lambda: conn.lookupByName(name)))
    conn.close()
    running = False


main()
