"""The remote program's procedures: decode the arguments, call the core, encode
the reply. Argument and reply layouts are those of libvirt's remote_protocol.x
(named in each docstring as `args -> ret`).

Procedures not in PROCEDURES get libvirtd's own answer for a procedure it does
not know (see errors.unknown_procedure), and the connection stays open.
"""

from openvzd.libvirt.procedures import changes, connection, console, reads
from openvzd.libvirt.procedures.registry import PROCEDURES, Procedure

# Importing the modules registers their procedures.
__all__ = ["PROCEDURES", "Procedure", "changes", "connection", "console", "reads"]
