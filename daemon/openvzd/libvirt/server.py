"""The libvirt front-end's listeners: libvirt's RPC protocol on unix sockets
(and TLS, see tls.py), for unmodified libvirt clients.

One asyncio server per socket, each with its access level built in: the
read-only socket refuses every mutating procedure, whatever CONNECT_OPEN asks.
The caller is who the kernel says connected (SO_PEERCRED), recorded on every
job. Calls on one connection may overlap (up to CALLS_PER_CONNECTION); each is
answered when it ends, in whatever order. A packet that cannot be read (short
length, over the 32 MiB limit, stalled mid-packet) closes its connection; a
call that cannot be decoded, or names an unknown procedure or program, gets an
error reply and the connection stays open. Nothing a client sends can stop the
server.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import stat
import struct
import time
from collections.abc import Callable
from pathlib import Path

from openvzd.core.caller import Caller
from openvzd.core.facade import CoreFacade
from openvzd.events import LifecycleEvent
from openvzd.identity import peer_credentials
from openvzd.libvirt.errors import LibvirtError, OpenvzError, from_kind, unknown_procedure
from openvzd.libvirt.events import lifecycle_numbers, lifecycle_packet
from openvzd.libvirt.numbers import ErrorCode, ErrorDomain, Proc
from openvzd.libvirt.procedures import PROCEDURES
from openvzd.libvirt.protocol import (
    HEADER_SIZE,
    KEEPALIVE_PING,
    KEEPALIVE_PONG,
    KEEPALIVE_PROGRAM,
    KEEPALIVE_VERSION,
    REMOTE_PROGRAM,
    REMOTE_VERSION,
    FramingError,
    Header,
    MessageType,
    Status,
    encode_packet,
    message_header,
    pack_error,
    packet_length,
    parse_header,
    reply_header,
)
from openvzd.libvirt.sasl import SaslLogin
from openvzd.libvirt.session import DomainKey, Session
from openvzd.libvirt.xdr import Packer, Unpacker, XdrError
from openvzd.limiter import PerKeyLimiter, uncapped_uids
from openvzd.remote.settings import SaslSettings, TlsSettings
from openvzd.unixsock import listening_unix_socket

log = logging.getLogger(__name__)

CALLS_PER_CONNECTION = 64
# A client that starts a packet and stops sending is dropped after this long.
PACKET_BODY_TIMEOUT = 30.0
# A client that does not read its replies and events is dropped past this backlog.
SEND_BACKLOG_MAX = 64 * 1024 * 1024
_PEERCRED = struct.Struct("3i")
PROCEDURE_NAMES = {proc.value: proc.name for proc in Proc}


def prepare_socket_path(path: Path) -> None:
    """Make the parent folder; replace a socket a previous run left (the instance
    lock says no other openvzd serves it); refuse to replace anything else."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise OSError(f"{path} exists and is not a socket; move it away or set another path")
    path.unlink()


class LibvirtFrontEnd:
    def __init__(
        self,
        core: CoreFacade,
        *,
        max_connections_per_uid: int = 0,
        keepalive_interval: float = 30.0,
        keepalive_count: int = 5,
    ) -> None:
        self._core = core
        self._keepalive = (keepalive_interval, keepalive_count)
        # As on openvzd's own sockets, the uids that own the daemon are not capped.
        self._limiter: PerKeyLimiter[str] = PerKeyLimiter(
            max_connections_per_uid,
            what="libvirt connections",
            overrides={f"uid {uid}": limit for uid, limit in uncapped_uids().items()},
        )
        self._sessions: set[Session] = set()
        self._servers: list[asyncio.Server] = []
        self.tls_port = 0
        self.sasl_port = 0
        self._fan_out: asyncio.Task[None] | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start_unix(self, rw_path: Path, ro_path: Path, rw_mode: int, ro_mode: int) -> None:
        if self._fan_out is None:
            self._fan_out = asyncio.create_task(self._deliver_events(), name="libvirt-events")
        for path, mode, read_only in ((rw_path, rw_mode, False), (ro_path, ro_mode, True)):
            prepare_socket_path(path)
            old = os.umask(0o777)
            try:
                server = await asyncio.start_unix_server(
                    functools.partial(self.serve, read_only=read_only),
                    sock=listening_unix_socket(path),
                )
            finally:
                os.umask(old)
            os.chmod(path, mode)
            self._servers.append(server)
            log.info("libvirt %s socket on %s", "read-only" if read_only else "read-write", path)

    async def start_sasl(self, settings: SaslSettings, address: str, port: int) -> None:
        from openvzd.libvirt.sasl import start_libvirt_sasl

        server = await start_libvirt_sasl(self, settings, address, port)
        self.sasl_port = server.sockets[0].getsockname()[1]
        self._servers.append(server)

    async def start_tls(self, settings: TlsSettings, address: str, port: int) -> None:
        from openvzd.libvirt.tls import start_libvirt_tls

        server = await start_libvirt_tls(self, settings, address, port)
        self.tls_port = server.sockets[0].getsockname()[1]
        self._servers.append(server)

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._connections):
            task.cancel()
        if self._fan_out is not None:
            self._fan_out.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._fan_out
        for server in self._servers:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 2.0)

    # -- one connection ---------------------------------------------------------------

    async def serve(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        read_only: bool,
        caller: Caller | None = None,
        secure: bool = True,
        login: SaslLogin | None = None,
    ) -> None:
        """Serve one connection until it closes. `caller` is given by transports that
        know the peer otherwise (TLS: the certificate's DN); on a unix socket it is
        the peer's credentials. With a SASL `login`, only the AUTH_* calls are served
        until it completes, and the stream is wrapped after the reply that does."""
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        if caller is None:
            pid, uid, gid = peer_credentials(writer.get_extra_info("socket"))
            caller = Caller("libvirt", uid, gid, pid, read_only=read_only)
        limit_key = f"uid {caller.uid}" if caller.uid is not None else f"name {caller.name}"
        refused = self._limiter.acquire(limit_key, caller.describe)
        if refused is not None:
            log.warning("libvirt: refused a connection: %s", refused)
            writer.close()
            return
        session = Session(
            self._core,
            caller,
            read_only,
            self._sender(writer),
            writer.drain,
            secure=secure,
            login=login,
            authenticated=login is None,
        )
        self._sessions.add(session)
        calls = asyncio.Semaphore(CALLS_PER_CONNECTION)
        running: set[asyncio.Task[None]] = {
            asyncio.create_task(self._keep_alive(session, writer), name="libvirt-keepalive")
        }
        try:
            await self._read_calls(reader, writer, session, calls, running)
        except (FramingError, TimeoutError) as err:
            log.info("libvirt: closing the connection of %s: %s", caller.describe(), err)
        except (OSError, asyncio.IncompleteReadError):
            pass  # the peer went away (reset, TLS error): nothing to answer
        finally:
            for call in running:
                call.cancel()
            session.cancel_streams()
            self._sessions.discard(session)
            self._limiter.release(limit_key)
            writer.close()
            if task is not None:
                self._connections.discard(task)

    async def _read_calls(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        session: Session,
        calls: asyncio.Semaphore,
        running: set[asyncio.Task[None]],
    ) -> None:
        while True:
            try:
                prefix = await reader.readexactly(4)
            except asyncio.IncompleteReadError:
                return
            length = packet_length(prefix)
            packet = await asyncio.wait_for(reader.readexactly(length - 4), PACKET_BODY_TIMEOUT)
            session.last_heard = time.monotonic()
            header = parse_header(packet)
            body = packet[HEADER_SIZE:]
            if header.program == KEEPALIVE_PROGRAM:
                if header.version == KEEPALIVE_VERSION and header.procedure == KEEPALIVE_PING:
                    session.send(encode_packet(message_header(KEEPALIVE_PONG, KEEPALIVE_PROGRAM)))
                continue
            if header.type == MessageType.STREAM:
                session.receive_stream(header, body)
                continue
            if header.type != MessageType.CALL:
                # fd passing is not offered; what is not a call gets no answer,
                # as no reply is awaited for it.
                continue
            if header.program != REMOTE_PROGRAM or header.version != REMOTE_VERSION:
                self._reply_error(
                    session,
                    header,
                    LibvirtError(
                        ErrorCode.RPC,
                        f"unknown program 0x{header.program:x} version {header.version}",
                        ErrorDomain.RPC,
                    ),
                )
                continue
            known = PROCEDURES.get(header.procedure)
            if known is None or not known.mutating:
                # Reads never wait for anything: answered at once, in order, without
                # a task of their own (a listing's thousand GET_STATE calls add up).
                await self._call(session, header, body)
                if session.secure_layer_pending and session.login is not None:
                    # The login's last reply went out plain; all that follows is wrapped.
                    session.secure_layer_pending = False
                    reader, unwrapping = session.login.unsealed(reader)
                    running.add(unwrapping)
                    session.send = session.login.sender(writer)
                continue
            await calls.acquire()
            call = asyncio.create_task(self._call(session, header, body))
            running.add(call)

            def done(finished: asyncio.Task[None]) -> None:
                calls.release()
                running.discard(finished)

            call.add_done_callback(done)

    async def _keep_alive(self, session: Session, writer: asyncio.StreamWriter) -> None:
        """As libvirtd does: a client silent for an interval gets a PING (it answers
        PONG); one silent for `count` more intervals is gone (a dead peer, a cut
        network) and its connection is dropped. Clients that never asked about
        keepalive are not pinged."""
        interval, count = self._keepalive
        while True:
            await asyncio.sleep(interval)
            silent = time.monotonic() - session.last_heard
            if not session.speaks_keepalive or silent < interval:
                continue
            if silent >= interval * (count + 1):
                log.info(
                    "libvirt: %s did not answer keepalive for %.0f s; closing",
                    session.caller.describe(),
                    silent,
                )
                writer.transport.abort()
                return
            session.send(encode_packet(message_header(KEEPALIVE_PING, KEEPALIVE_PROGRAM)))

    async def _call(self, session: Session, header: Header, body: bytes) -> None:
        number = header.procedure
        known = PROCEDURES.get(number)
        name = PROCEDURE_NAMES.get(number) or str(number)
        result = Packer()
        try:
            if known is None:
                raise unknown_procedure(number)
            if not session.authenticated and not known.before_auth:
                raise LibvirtError(
                    ErrorCode.AUTH_FAILED, "authentication required: log in with SASL first"
                )
            if not session.opened and not known.before_open:
                raise LibvirtError(ErrorCode.RPC, "connection not open", ErrorDomain.RPC)
            if known.mutating:
                session.require_write(name)
            opened = await known.handler(session, Unpacker(body), result)
        except LibvirtError as err:
            self._reply_error(session, header, err)
            return
        except XdrError as err:
            self._reply_error(
                session,
                header,
                LibvirtError(ErrorCode.RPC, f"cannot decode the arguments of {name}: {err}"),
            )
            return
        except OpenvzError as err:
            self._reply_error(session, header, from_kind(err.kind, err.message))
            return
        except Exception:
            log.exception("libvirt: procedure %s failed", name)
            self._reply_error(
                session,
                header,
                LibvirtError(ErrorCode.INTERNAL_ERROR, f"openvzd failed in {name}; see its log"),
            )
            return
        try:
            session.send(encode_packet(reply_header(header), result.data()))
        except FramingError as err:
            self._reply_error(session, header, LibvirtError(ErrorCode.INTERNAL_ERROR, str(err)))
            return
        if opened is not None:
            # No await since the reply was queued: the stream's first packet follows it.
            session.start_stream(header, opened)

    @staticmethod
    def _reply_error(session: Session, header: Header, err: LibvirtError) -> None:
        body = pack_error(err.code, err.domain, err.message)
        session.send(encode_packet(reply_header(header, Status.ERROR), body))

    @staticmethod
    def _sender(writer: asyncio.StreamWriter) -> Callable[[bytes], None]:
        def send(packet: bytes) -> None:
            if writer.is_closing():
                return
            writer.write(packet)
            if writer.transport.get_write_buffer_size() > SEND_BACKLOG_MAX:
                log.warning("libvirt: dropping a client that does not read its replies")
                writer.transport.abort()

        return send

    # -- events -------------------------------------------------------------------------

    async def _deliver_events(self) -> None:
        """One subscription to the core's events for every connection: each lifecycle
        event goes to the connections that registered for it. A domain that is gone
        (undefined) is named as it was last seen."""
        core = self._core
        known = {view.veid: DomainKey.of(view) for view in core.list_domains()}
        async for event in core.events():
            payload = event.payload
            if not isinstance(payload, LifecycleEvent):
                continue
            numbers = lifecycle_numbers(payload)
            key: DomainKey | None
            try:
                key = known[payload.veid] = DomainKey.of(core.domain(payload.veid))
            except OpenvzError:
                key = known.get(payload.veid)
            if payload.kind == "UNDEFINED":
                known.pop(payload.veid, None)
            if numbers is None or key is None:
                continue
            for session in list(self._sessions):
                for registration in list(session.registrations.values()):
                    packet = lifecycle_packet(registration, key, *numbers)
                    if packet is not None:
                        session.send(packet)
