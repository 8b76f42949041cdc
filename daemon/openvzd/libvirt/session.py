"""One client connection's state and the helpers every procedure shares: the
domain codec (remote_nonnull_domain), lookups and changes through the core.

Everything goes through the CoreFacade: reads from its queries, changes as an
Operation submitted with this connection's Caller and waited for, so jobs made
here are journaled, queued and evented exactly as the gRPC front-end's are.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from openvzd.core.caller import Caller
from openvzd.core.facade import CoreFacade, DomainRef, DomainView
from openvzd.core.ops import Define, Operation
from openvzd.jobs import JobState
from openvzd.libvirt.errors import LibvirtError, OpenvzError, from_kind, read_only
from openvzd.libvirt.numbers import ErrorCode
from openvzd.libvirt.xdr import Packer, Unpacker, XdrError

if TYPE_CHECKING:
    from openvzd.libvirt.protocol import Header
    from openvzd.libvirt.sasl import SaslLogin
    from openvzd.libvirt.streams import ConsoleStream

UUID_SIZE = 16
# The longest domain name a CTID or an OpenVZ NAME can be, with room to spare.
NAME_MAX = 4096

VIR_CONNECT_RO = 1


@dataclass(frozen=True, slots=True)
class DomainKey:
    """What remote_nonnull_domain carries: enough to name a domain after it is gone."""

    name: str
    uuid: bytes
    id: int

    @classmethod
    def of(cls, view: DomainView) -> DomainKey:
        return cls(view.name, uuid.UUID(view.uuid).bytes, view.id)

    def pack(self, packer: Packer) -> None:
        packer.string(self.name)
        packer.fixed_opaque(self.uuid, UUID_SIZE)
        packer.i32(self.id)

    @classmethod
    def unpack(cls, unpacker: Unpacker) -> DomainKey:
        name = unpacker.string(NAME_MAX)
        raw = unpacker.fixed_opaque(UUID_SIZE)
        return cls(name, raw, unpacker.i32())


@dataclass(frozen=True, slots=True)
class Registration:
    callback_id: int
    event_id: int
    # Only this domain's events (by UUID bytes); None: every domain's.
    only: bytes | None
    # The legacy registrations (105, 167) get DOMAIN_EVENT_LIFECYCLE messages
    # without a callback id; 316's get DOMAIN_EVENT_CALLBACK_LIFECYCLE.
    legacy: bool = False


@dataclass(slots=True, eq=False)
class Session:
    core: CoreFacade
    caller: Caller
    # The socket is read-only: a CONNECT_OPEN without the flag cannot lift it.
    socket_read_only: bool
    # Sends one whole packet to this client (events, replies).
    send: Callable[[bytes], None]
    # Waits until what was sent has (mostly) left for the client.
    drain: Callable[[], Awaitable[None]]
    # Whether the connection is encrypted or local (virConnectIsSecure).
    secure: bool = True
    opened: bool = False
    open_read_only: bool = False
    registrations: dict[int, Registration] = field(default_factory=dict)
    next_callback_id: int = 1
    # The SASL listener's login; until it completes only the AUTH_* calls are served.
    login: SaslLogin | None = None
    authenticated: bool = True
    # Set by the call that completes a SASL login: the stream is wrapped after its reply.
    secure_layer_pending: bool = False
    # The client asked about keepalive (feature 10), so it answers our PINGs.
    speaks_keepalive: bool = False
    last_heard: float = field(default_factory=time.monotonic)
    # Open consoles by their open call's serial, which their STREAM packets carry.
    streams: dict[int, ConsoleStream] = field(default_factory=dict)
    stream_tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def finish_login(self, identity: str, read_only: bool) -> None:
        self.caller = Caller("sasl", name=identity, read_only=read_only)
        self.socket_read_only = read_only
        self.authenticated = True
        self.secure_layer_pending = True

    @property
    def read_only(self) -> bool:
        return self.socket_read_only or self.open_read_only

    def require_write(self, procedure: str) -> None:
        if self.read_only:
            raise read_only(procedure)

    def start_stream(self, call: Header, stream: ConsoleStream) -> None:
        """Serve the stream a call opened, once its reply is sent, until it ends."""
        self.streams[call.serial] = stream
        task = stream.start(call)
        self.stream_tasks.add(task)

        def ended(finished: asyncio.Task[None]) -> None:
            self.stream_tasks.discard(finished)
            if self.streams.get(call.serial) is stream:
                del self.streams[call.serial]

        task.add_done_callback(ended)

    def receive_stream(self, packet: Header, body: bytes) -> None:
        """A STREAM packet from the client; one for no open stream (what was in
        flight when it ended) is dropped, as libvirtd does."""
        stream = self.streams.get(packet.serial)
        if stream is not None and stream.carries(packet):
            stream.receive(packet.status, body)

    def cancel_streams(self) -> None:
        """The connection is gone: each console ends, without a word to the client."""
        for task in self.stream_tasks:
            task.cancel()

    # -- domains -------------------------------------------------------------
    def view(self, key: DomainKey) -> DomainView:
        """A domain argument as the core sees it. The name is the CTID (or the OpenVZ
        name) and is looked up first, since the UUID alone would need a scan; the
        UUID must then agree, as libvirtd checks it."""
        wanted = str(uuid.UUID(bytes=key.uuid))
        try:
            view = self.core.domain(self.core.resolve(DomainRef(name=key.name)))
            if view.uuid == wanted:
                return view
            return self.core.domain(self.core.resolve(DomainRef(uuid=wanted)))
        except OpenvzError as err:
            raise LibvirtError(
                ErrorCode.NO_DOMAIN,
                f"Domain not found: no domain with matching uuid '{wanted}' ({key.name})",
            ) from err

    def resolve(self, key: DomainKey) -> int:
        return self.view(key).veid

    async def change(self, operation: Operation) -> int:
        """Submit, wait for the job and return the VEID it acted on (a define that
        picked its ID names it in the job's result); a failed job raises its error."""
        self.require_write(operation.NAME)
        making = isinstance(operation, Define)
        try:
            job = self.core.submit(operation, self.caller)
            job = await self.core.wait(job.id)
        except OpenvzError as err:
            raise from_kind(err.kind, err.message, making_domain=making) from None
        if job.state is not JobState.SUCCEEDED:
            if job.error is not None:
                raise from_kind(job.error.kind, job.error.message, making_domain=making)
            raise LibvirtError(ErrorCode.OPERATION_FAILED, f"job {job.id} ended {job.state.value}")
        return int((job.result or {}).get("veid") or job.veid)


def decode_error(err: XdrError, procedure: str) -> LibvirtError:
    return LibvirtError(ErrorCode.RPC, f"cannot decode the arguments of {procedure}: {err}")
