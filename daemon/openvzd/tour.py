"""What `make run` prints once the simulated daemon is ready."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from openvzd.config import Config

EXAMPLE_XML = """\
<domain type='openvz'>
  <name>150</name>
  <description>a first container</description>
  <memory unit='MiB'>512</memory>
  <vcpu>1</vcpu>
  <os>
    <type>exe</type>
    <init>/sbin/init</init>
  </os>
  <devices>
    <filesystem type='template'>
      <source name='centos-7-x86_64-minimal'/>
      <target dir='/'/>
    </filesystem>
    <interface type='ethernet'>
      <ip address='10.0.150.1' prefix='24'/>
    </interface>
  </devices>
</domain>
"""


def write_example(sim_dir: Path) -> Path:
    path = sim_dir / "example-150.xml"
    if not path.exists():
        path.write_text(EXAMPLE_XML)
    return path


def print_tour(config: Config, sim_dir: Path) -> None:
    example = shlex.quote(str(write_example(sim_dir)))
    ovzsh = shlex.quote(str(Path(sys.executable).parent / "ovzsh"))
    vzctl = shlex.quote(str(config.tools.vzctl))
    # Quoted for the shell it is pasted into, whatever the folder is called.
    uri = shlex.quote(f"openvz+unix:///system?socket={config.rw_socket}")
    libvirt_uri = shlex.quote(f"openvz+unix:///system?socket={config.libvirt.rw_path}")
    libvirt = (
        f"\nlibvirt's clients use libvirt's socket: virsh -c {libvirt_uri} list --all\n"
        if config.libvirt.enabled
        else ""
    )
    print(
        f"""
openvzd is ready, serving the simulated OpenVZ host in {config.paths.host_root}
  read-write socket: {config.rw_socket}
  read-only socket:  {config.ro_socket}

In another terminal, from this folder:

  export OPENVZ_DEFAULT_URI={uri}
  {ovzsh} list --all                 # the containers, as virsh lists them
  {ovzsh} define {example}           # a container from a template
  {ovzsh} start 150                  # a job on container 150's lane
  {ovzsh} dominfo 150
  {ovzsh} exec 150 -- echo hello from 150   # a command inside the container
  {ovzsh} dumpxml 150
  {ovzsh} event --loop --timeout 30  # lifecycle events; try `vzctl` by hand meanwhile:
  {vzctl} stop 150
{libvirt}
Ctrl-C stops the daemon; the containers keep their state.
""",
        flush=True,
    )
