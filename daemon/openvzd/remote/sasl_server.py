"""The TCP listener with SASL (openvz+tcp://host/system).

Nothing but the handshake is served to a client that has not logged in. A
client that has is joined to the daemon's read-write or read-only unix socket,
so the access rules of those sockets apply unchanged. After GSSAPI every byte
in both directions travels inside a Kerberos wrap token with confidentiality;
SCRAM has no such layer and is served only with allow_cleartext = true.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from openvz.transport import sasl_wire as wire

from openvzd.access import Level
from openvzd.core.caller import Caller
from openvzd.identity import CALLERS, Callers
from openvzd.limiter import PerKeyLimiter
from openvzd.relay import source_address
from openvzd.remote.identity import level_for
from openvzd.remote.mechanisms import (
    GssapiServerMechanism,
    LoginRefused,
    ScramServerMechanism,
    ServerMechanism,
    acceptor_credentials,
    new_decoy_secret,
)
from openvzd.remote.passwords import PasswordDbError
from openvzd.remote.settings import SaslSettings

log = logging.getLogger(__name__)

_READ_CHUNK = wire.DATA_CHUNK


class SaslConfigError(Exception):
    """The [sasl] section cannot be served; the daemon refuses to start the listener."""


def check_sasl_settings(settings: SaslSettings) -> None:
    if not 0 <= settings.port <= 65535:
        raise SaslConfigError(f"port = {settings.port}: use a TCP port, 1 to 65535")
    if not settings.mechanisms:
        raise SaslConfigError(
            "[sasl] mechanisms is empty: name GSSAPI and/or SCRAM-SHA-256, or disable [sasl]"
        )
    unknown = [m for m in settings.mechanisms if m not in wire.MECHANISMS]
    if unknown:
        raise SaslConfigError(f"[sasl] mechanisms: unknown {unknown}; known: {wire.MECHANISMS}")
    if wire.SCRAM_SHA_256 in settings.mechanisms and not settings.allow_cleartext:
        raise SaslConfigError(
            "[sasl] SCRAM-SHA-256 leaves the session unencrypted after login; set "
            "allow_cleartext = true to accept that, or use GSSAPI, TLS or SSH"
        )
    if not settings.allowed_users and not settings.readonly_users:
        log.warning("[sasl] allowed_users and readonly_users are empty: every client is refused")


class SaslListener:
    """A running SASL listener; stop() closes it and every session it serves."""

    def __init__(
        self,
        settings: SaslSettings,
        sockets: dict[Level, Path],
        gss_credentials: Any,
        callers: Callers = CALLERS,
    ) -> None:
        self.settings = settings
        self._sockets = sockets
        self._callers = callers
        self._gss_credentials = gss_credentials
        self._decoy_secret = new_decoy_secret()
        # Places by source address: all connections, and those still logging in.
        self._clients: PerKeyLimiter[str] = PerKeyLimiter(
            settings.max_clients_per_source, settings.max_clients, what="clients"
        )
        self._logging_in: PerKeyLimiter[str] = PerKeyLimiter(
            settings.max_unauthenticated_per_source,
            settings.max_unauthenticated,
            what="clients logging in",
        )
        self._sessions: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def _open(self) -> None:
        self._server = await asyncio.start_server(
            self._accepted, self.settings.address, self.settings.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._sessions):
            task.cancel()
        await asyncio.gather(*self._sessions, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A plain callback that tracks its task at once: stop() sees every session, and
        # Python 3.11's stream server would log a handler cancelled before it first ran.
        # The places are taken here, at accept, and so is the login deadline.
        source = source_address(writer.transport)
        refusal = self._admit(source)
        deadline = asyncio.get_running_loop().time() + self.settings.auth_timeout
        task = asyncio.get_running_loop().create_task(
            self._serve(reader, writer, source, refusal, deadline)
        )
        self._sessions.add(task)
        task.add_done_callback(self._sessions.discard)

    def _admit(self, source: str) -> str | None:
        """Take a client place and a logging-in place for source; why not, if refused."""
        settings = self.settings
        if settings.max_clients and self._clients.held >= settings.max_clients:
            return "too many clients; try again later"
        if settings.max_unauthenticated and self._logging_in.held >= settings.max_unauthenticated:
            return "too many clients are logging in; try again later"
        refusal = self._clients.acquire(source)
        if refusal is not None:
            return refusal
        refusal = self._logging_in.acquire(source)
        if refusal is not None:
            self._clients.release(source)
        return refusal

    async def _serve(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        source: str,
        refusal: str | None,
        deadline: float,
    ) -> None:
        peer = _peer(writer)
        try:
            if refusal is not None:
                await _refuse(writer, refusal, peer)
                return
            try:
                _keepalive(writer)
                await self._session(reader, writer, peer, source, deadline)
            finally:
                self._clients.release(source)
        except (ConnectionError, wire.WireError) as err:
            log.debug("SASL session from %s ended: %s", peer, err)
        except asyncio.CancelledError:
            pass  # stop() ends the session
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _session(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer: str,
        source: str,
        deadline: float,
    ) -> None:
        try:
            async with asyncio.timeout_at(deadline):
                login = await self._login(reader, writer, peer)
        except TimeoutError:
            await _refuse(writer, "authentication took too long", peer)
            return
        finally:
            self._logging_in.release(source)
        if login is None:
            return
        mechanism, level = login
        caller = Caller("sasl", name=mechanism.identity, read_only=level is Level.READ_ONLY)
        try:
            daemon_reader, daemon_writer, daemon_peer = await self._callers.connect(
                self._sockets[level], caller
            )
        except OSError as err:
            log.error("cannot reach the daemon socket %s: %s", self._sockets[level], err)
            return
        try:
            await _join(reader, writer, daemon_reader, daemon_writer, mechanism.gss_context)
        finally:
            daemon_writer.close()
            self._callers.forget(daemon_peer)

    async def _login(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> tuple[ServerMechanism, Level] | None:
        writer.write(wire.frame(wire.greeting(self.settings.mechanisms)))
        payload = await reader_frame(reader)
        name, token = wire.parse_start(payload)
        try:
            mechanism = self._mechanism(name)
            while True:
                answer = mechanism.step(token)
                if mechanism.done:
                    break
                writer.write(wire.frame(wire.CHALLENGE + answer))
                kind, token = wire.split_kind(await reader_frame(reader))
                if kind != wire.RESPONSE:
                    raise wire.WireError("expected a response frame")
            level = self._level(mechanism)
        except LoginRefused as err:
            await _refuse(writer, str(err), peer)
            return None
        writer.write(wire.frame(wire.SUCCESS + answer))
        await writer.drain()
        log.info(
            "SASL login of %s via %s from %s (%s)", mechanism.identity, name, peer, level.value
        )
        return mechanism, level

    def _mechanism(self, name: str) -> ServerMechanism:
        if name not in self.settings.mechanisms:
            raise LoginRefused(
                f"mechanism {name!r} is not offered here; offered: "
                f"{' '.join(self.settings.mechanisms)}"
            )
        if name == wire.GSSAPI:
            return GssapiServerMechanism(self._gss_credentials)
        try:
            return ScramServerMechanism(self.settings.password_db, self._decoy_secret)
        except PasswordDbError as err:
            log.error("%s", err)
            raise LoginRefused("the server's password database is unusable") from None

    def _level(self, mechanism: ServerMechanism) -> Level:
        identity = mechanism.identity
        level = level_for(identity, self.settings.allowed_users, self.settings.readonly_users)
        if level is None:
            log.warning("SASL login of %r refused: not in [sasl] allowed_users", identity)
            raise LoginRefused(f"{identity!r} is not allowed on this daemon")
        if mechanism.stored_level is Level.READ_ONLY:
            return Level.READ_ONLY
        return level


async def reader_frame(reader: asyncio.StreamReader) -> bytes:
    payload = await wire.read_frame(reader, wire.MAX_HANDSHAKE_FRAME)
    if payload is None:
        raise wire.WireError("the client left during the handshake")
    return payload


async def _refuse(writer: asyncio.StreamWriter, message: str, peer: str) -> None:
    log.warning("SASL client %s refused: %s", peer, message)
    writer.write(wire.frame(wire.FAILURE + message.encode()))
    with contextlib.suppress(ConnectionError):
        await writer.drain()


async def _join(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    daemon_reader: asyncio.StreamReader,
    daemon_writer: asyncio.StreamWriter,
    gss_context: Any,
) -> None:
    """Copy both ways until either side ends; through GSS wrap when there is a context."""
    if gss_context is None:
        inbound = _copy(client_reader.read, daemon_writer, bytes)
        outbound = _copy(daemon_reader.read, client_writer, bytes)
    else:
        inbound = _copy(_unsealed(client_reader, gss_context), daemon_writer, bytes)
        outbound = _copy(
            daemon_reader.read, client_writer, lambda data: wire.seal(gss_context, data)
        )
    tasks = [asyncio.ensure_future(inbound), asyncio.ensure_future(outbound)]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _unsealed(reader: asyncio.StreamReader, gss_context: Any) -> Callable[[int], Any]:
    async def read(_: int) -> bytes:
        payload = await wire.read_frame(reader, wire.MAX_DATA_FRAME)
        return b"" if payload is None else wire.unseal(gss_context, payload)

    return read


async def _copy(
    read: Callable[[int], Any], writer: asyncio.StreamWriter, encode: Callable[[bytes], bytes]
) -> None:
    while data := await read(_READ_CHUNK):
        writer.write(encode(data))
        await writer.drain()


def _keepalive(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)


def _peer(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)


async def start_sasl_server(
    settings: SaslSettings, rw_socket: Path, ro_socket: Path
) -> SaslListener:
    """Check [sasl] and start listening; raises SaslConfigError when it cannot serve."""
    check_sasl_settings(settings)
    gss_credentials = None
    if wire.GSSAPI in settings.mechanisms:
        gss_credentials = keytab_credentials(settings.keytab)
    if wire.SCRAM_SHA_256 in settings.mechanisms:
        try:
            ScramServerMechanism(settings.password_db, b"")
        except PasswordDbError as err:
            raise SaslConfigError(str(err)) from None
    listener = SaslListener(
        settings, {Level.READ_WRITE: rw_socket, Level.READ_ONLY: ro_socket}, gss_credentials
    )
    await listener._open()
    log.info(
        "SASL listener on %s port %d (%s)",
        settings.address,
        listener.port,
        " ".join(settings.mechanisms),
    )
    return listener


def keytab_credentials(keytab: Path) -> Any:
    """GSSAPI acceptor credentials from [sasl]'s keytab; SaslConfigError names what to fix."""
    try:
        import gssapi  # noqa: F401 - the kerberos extra
    except ImportError:
        raise SaslConfigError(
            "[sasl] GSSAPI needs the python gssapi package: pip install 'openvzd[kerberos]'"
        ) from None
    if not keytab.is_file():
        raise SaslConfigError(f"[sasl] keytab {keytab} does not exist")
    try:
        credentials = acceptor_credentials(keytab)
        credentials.inquire()
    except Exception as err:  # gssapi raises many GSSError subclasses
        raise SaslConfigError(f"[sasl] cannot use the keytab {keytab}: {err}") from None
    return credentials
