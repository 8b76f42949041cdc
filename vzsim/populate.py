"""`vzsim populate`: write N complete containers directly, without running vzctl per CT."""

from __future__ import annotations

import io
import os
import tarfile
import time
from pathlib import Path

from vzsim import conffile, knobs
from vzsim.host import Host
from vzsim.kernel import Kernel, running_from_config
from vzsim.locking import host_lock


class PopulateError(Exception):
    pass


def _skeleton(host: Host, template: str) -> Path:
    """The template unpacked once under .vzsim/skel; each CT gets hard links to its files."""
    skeleton = host.state_dir / "skel" / template
    if skeleton.is_dir():
        return skeleton
    cache = host.path(f"{host.template_dir_host}/cache/{template}.tar.gz")
    if not cache.is_file():
        raise PopulateError(f"template cache {cache} not found")
    temp = skeleton.with_name(f".{template}.{os.getpid()}")
    temp.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(cache.read_bytes())) as archive:
        archive.extractall(temp, filter="data")
    os.replace(temp, skeleton)
    return skeleton


def _clone(skeleton: Path, target: Path) -> None:
    target.mkdir(parents=True)
    for directory, subdirs, files in os.walk(skeleton):
        relative = os.path.relpath(directory, skeleton)
        base = target if relative == "." else target / relative
        for name in subdirs:
            (base / name).mkdir()
        for name in files:
            os.link(os.path.join(directory, name), base / name)


def ip_for(ctid: int) -> str:
    return f"10.{(ctid >> 16) & 255}.{(ctid >> 8) & 255}.{ctid & 255}"


def populate(root: Path, count: int, first_id: int, running: int, template: str) -> int:
    host = Host(root)
    if host.vz_conf is None:
        raise PopulateError(f"{root} is not a vzsim host (run `vzsim init {root}` first)")
    legacy = knobs.load(host.state_dir).personality == "3.0.23"
    sample_name = host.global_value("CONFIGFILE", "basic")
    sample_text = (host.conf_dir / f"ve-{sample_name}.conf-sample").read_text()
    skeleton = _skeleton(host, template)
    kernel = Kernel(host)
    created = 0
    started = []
    for ctid in range(first_id, first_id + count):
        conf_path = host.conf_file(ctid)
        if conf_path.exists():
            continue
        changes = {
            "IP_ADDRESS": ip_for(ctid),
            "HOSTNAME": f"ct{ctid}.example.com",
            "VE_ROOT": "/vz/root/$VEID",
            "VE_PRIVATE": "/vz/private/$VEID",
            "OSTEMPLATE": template,
        }
        if not legacy:
            changes.update(VE_LAYOUT="simfs", ORIGIN_SAMPLE=sample_name)
        text = conffile.render_update(sample_text, changes)
        _clone(skeleton, host.path(f"/vz/private/{ctid}"))
        conffile.write_atomically(conf_path, text)
        if created < running:
            host.path(f"/vz/root/{ctid}").mkdir(parents=True, exist_ok=True)
            host.set_mounted(ctid, True)
            started.append((ctid, conffile.parse_text(text)))
        created += 1
    if started:
        with host_lock(host.state_dir):
            state = kernel.load()
            now = time.time()
            for ctid, config in started:
                state[ctid] = running_from_config(host.vz_conf or {}, config, [ip_for(ctid)], now)
            kernel.commit(state)
    return created
