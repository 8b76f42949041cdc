"""`vzsim init`: lay out a host under ROOT (idempotent: existing containers are kept)."""

from __future__ import annotations

import io
import sys
import tarfile
from pathlib import Path

from vzsim import bridges, hostinfo, knobs, samples
from vzsim.host import Host
from vzsim.kernel import KERNEL_VERSION, Kernel
from vzsim.locking import host_lock

TEMPLATES = (
    "centos-6-x86",
    "centos-7-x86_64-minimal",
    "debian-11.0-x86_64-minimal",
    "fedora-9-i386-minimal",
)
HOST_DIRS = (
    "etc/vz/conf",
    "etc/vz/names",
    "etc/vz/dists",
    "vz/private",
    "vz/root",
    "vz/template/cache",
    "vz/lock",
    "vz/dump",
    "proc/vz",
    "var/log",
    "usr/sbin",
    ".vzsim/mounted",
    ".vzsim/bridges",
)
# vmbr0 is Proxmox's and OpenVZ's usual name, br0 the one libvirt's examples use.
HOST_BRIDGES = ("vmbr0", "br0")
# tool name -> module whose entry_point(script) runs it
ENTRY_POINTS = {
    "vzctl": "vzsim.vzctl",
    "vzlist": "vzsim.vzlist",
    "vzmigrate": "vzsim.vzmigrate",
    "vznetaddbr": "vzsim.netscripts",
    "vznetcfg": "vzsim.netscripts",
}


def template_tarball(name: str) -> bytes:
    """A tiny root filesystem: enough files for exec and a distro to be recognizable."""
    distro = name.split("-")[0]
    files = {
        "sbin/init": "#!/bin/sh\nexec sleep infinity\n",
        "bin/sh": "#!/bin/sh\n",
        "etc/os-release": f'NAME="{distro}"\nID={distro}\nPRETTY_NAME="{name}"\n',
        "etc/hostname": "localhost\n",
        "etc/resolv.conf": "",
        "etc/passwd": "root:x:0:0:root:/root:/bin/bash\n",
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for directory in ("bin", "sbin", "etc", "root", "tmp", "var"):
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            archive.addfile(info)
        for path, content in files.items():
            data = content.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o755 if path.endswith(("init", "sh")) else 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def entry_point_script(module: str, tool: str) -> str:
    package_parent = str(Path(__file__).resolve().parents[1])
    return (
        f"#!{sys.executable} -S\n"
        f"# {tool}: vzsim stand-in; ROOT is two folders above this script.\n"
        "import sys\n"
        f"sys.path.insert(0, {package_parent!r})\n"
        f"from {module} import entry_point\n"
        f"entry_point(__file__)\n"
    )


def _write_if_missing(path: Path, text: str) -> None:
    if not path.exists():
        path.write_text(text)


def init_host(
    root: Path,
    personality: str | None,
    delays: str | None,
    hostname: str,
    cpus: int,
    memory_mb: int,
) -> None:
    root.mkdir(parents=True, exist_ok=True)
    host = Host(root)
    for directory in HOST_DIRS:
        (root / directory).mkdir(parents=True, exist_ok=True)
    settings = knobs.read_file(host.state_dir)
    previous = settings.get("personality")
    if personality is not None or "personality" not in settings:
        settings["personality"] = personality or "4.x"
    if delays is not None or "delay" not in settings:
        settings["delay"] = knobs.delays_from(delays or "none")
    settings.setdefault("faults", [])
    knobs.write_file(host.state_dir, settings)
    legacy = settings["personality"] == "3.0.23"
    vz_conf = host.path("/etc/vz/vz.conf")
    if not vz_conf.exists() or previous != settings["personality"]:
        vz_conf.write_text(samples.vz_conf(legacy))
    for name, text in samples.sample_configs(legacy).items():
        _write_if_missing(host.conf_dir / name, text)
    _write_if_missing(host.conf_dir / "0.conf", "# CT0 (host) settings\n")
    _write_if_missing(host.path("/etc/vz/vznet.conf"), samples.VZNET_CONF)
    cache = host.path("/vz/template/cache")
    for name in TEMPLATES:
        tarball = cache / f"{name}.tar.gz"
        if not tarball.exists():
            tarball.write_bytes(template_tarball(name))
    for tool, module in ENTRY_POINTS.items():
        script = root / "usr" / "sbin" / tool
        script.write_text(entry_point_script(module, tool))
        script.chmod(0o755)
    (root / "etc" / "hostname").write_text(hostname + "\n")
    proc = host.proc_dir
    (proc / "cpuinfo").write_text(hostinfo.cpuinfo(cpus))
    (proc / "meminfo").write_text(hostinfo.meminfo(memory_mb))
    (proc / "stat").write_text(hostinfo.stat(cpus))
    (proc / "vz" / "version").write_text(KERNEL_VERSION + "\n")
    vswap = proc / "vz" / "vswap"
    if legacy:
        vswap.unlink(missing_ok=True)
    else:
        vswap.touch()
    for marker in ("cpt", "rst"):
        (proc / marker).touch()
    for bridge in HOST_BRIDGES:
        if not bridges.exists(host, bridge):
            bridges.create(host, bridge)
    kernel = Kernel(host)
    with host_lock(host.state_dir):
        kernel.commit(kernel.load())
