"""The public listeners' front: accept, identify, cap, relay to a private gRPC server.

The unix fronts read each peer's credentials from the kernel, apply the per-uid
and per-socket caps, and relay the connection byte for byte to the gRPC server
of the same access level, which listens on a private socket (identity.py says
how the server learns the caller). A connection over a cap is closed at once,
before grpc ever sees it, so one uid's idle connections cannot use up the places
of another. The TCP front does the same for the TLS listener, by source address,
with the TLS handshake itself left to grpc (its handshake timeout counts from
the moment the front connects, which is the moment of accept).

A unix client may instead open with the local exec channel's preamble
(openvz.execwire): its connection is then served in this process by the handler
the front was given (api/local_exec.py), with the same Caller, under the same caps.

The relay is two asyncio protocols that write what one receives straight into
the other's transport, pausing the reader when the other side's buffer fills: no
task per connection beyond its connect, and no copy in Python beyond asyncio's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import pwd
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, cast

from openvz.execwire import PREAMBLE as EXEC_PREAMBLE

from openvzd.access import Level
from openvzd.core.caller import Caller
from openvzd.identity import CALLERS, Callers, peer_credentials
from openvzd.limiter import PerKeyLimiter
from openvzd.remote.ssh_helper import SSH_PREAMBLE
from openvzd.unixsock import listening_unix_socket

log = logging.getLogger(__name__)

# SSH_PREAMBLE: the first bytes openvzd-ssh-helper sends, before the client's
# own. A client that sends them only changes how its caller is described ("ssh"
# and the user name of its uid): the uid itself always comes from the kernel.
# Seconds a new unix client has to send its first bytes (a gRPC client sends its
# connection preface at once); a silent one would hold a place of its uid.
FIRST_BYTES_TIMEOUT = 10.0
_BACKLOG = 1024


class HandedOver(Protocol):
    """A connection served in the daemon instead of relayed: what the relay passes on."""

    def data_received(self, data: bytes) -> None: ...
    def eof_received(self) -> None: ...
    def connection_lost(self) -> None: ...
    def pause_writing(self) -> None: ...
    def resume_writing(self) -> None: ...


LocalExecHandler = Callable[[asyncio.Transport, Caller], HandedOver]


def private_dir(run_dir: Path) -> Path:
    """Root's own directory for the gRPC servers' sockets, made 0700 whatever it was."""
    path = run_dir / "private"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.is_symlink() or not path.is_dir():
        raise OSError(errno.EEXIST, f"{path} is not a directory; remove it")
    os.chmod(path, 0o700)
    return path


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


class _Upstream(asyncio.Protocol):
    """The relay's connection to the private gRPC server, on behalf of one client."""

    def __init__(self, client: _Accepted) -> None:
        self.client = client

    def data_received(self, data: bytes) -> None:
        self.client.from_server(data)

    def eof_received(self) -> bool:
        # The server is done: the connection is over once what it sent is delivered.
        if self.client.local is None:
            self.client.transport.close()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.client.local is None:  # else the client's connection went elsewhere
            self.client.transport.close()

    def pause_writing(self) -> None:
        self.client.transport.pause_reading()

    def resume_writing(self) -> None:
        self.client.transport.resume_reading()


class _Accepted(asyncio.Protocol):
    """One client of a front: identified, admitted and joined to the private
    socket at accept (so a client that waits for the server to speak first is
    served at once), released when it goes.

    On a unix front the client's first bytes may be the ssh helper's preamble:
    they are held back until that is decided, and the registered caller becomes
    the ssh one before any byte of the client's reaches grpc. Or they may be the
    local exec channel's: the connection is then handed over (`local`) and grpc
    sees none of it.
    """

    transport: asyncio.Transport

    def __init__(self, front: _Front) -> None:
        self.front = front
        self.upstream: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._sniffing = front.sniffs_preamble
        self._release: Callable[[], None] | None = None
        self._peer = ""
        self._timer: asyncio.TimerHandle | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._closed = False
        self._client_ended = False
        self.local: HandedOver | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        front = self.front
        front.clients.add(self)
        admitted = front.admit(self.transport)
        if admitted is None:
            self.transport.close()
            return
        self._release = admitted
        try:
            sock, self._peer = front.callers.open_socket(front.caller(self.transport, ssh=False))
        except OSError as err:
            log.error("%s: cannot open a relay socket: %s", front.name, err)
            self.transport.close()
            return
        if self._sniffing:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(FIRST_BYTES_TIMEOUT, self._silent)
        self._connecting = asyncio.get_running_loop().create_task(self._connect(sock))

    def _silent(self) -> None:
        log.info(
            "%s: a client sent nothing for %.0f s; closed", self.front.name, FIRST_BYTES_TIMEOUT
        )
        self.transport.close()

    def from_server(self, data: bytes) -> None:
        # grpc speaks first (SETTINGS), and some clients wait for it: it is passed on at
        # once. A local exec client skips what came before the daemon's own preamble.
        if self.local is None:
            self.transport.write(data)

    def _stop_sniffing(self) -> None:
        self._sniffing = False
        if self._timer is not None:
            self._timer.cancel()

    def data_received(self, data: bytes) -> None:
        if self.local is not None:
            self.local.data_received(data)
            return
        if self.upstream is not None and not self._sniffing:
            self.upstream.write(data)
            return
        self._buffer += data
        if not self._sniffing:
            return
        first = bytes(self._buffer)
        if any(len(first) < len(p) and p.startswith(first) for p in self.front.preambles):
            return  # maybe a preamble: wait for the rest
        if first.startswith(EXEC_PREAMBLE) and self.front.local_exec is not None:
            self._stop_sniffing()
            self._hand_over(self.front.local_exec, first[len(EXEC_PREAMBLE) :])
            return
        self._stop_sniffing()
        if first.startswith(SSH_PREAMBLE):
            self.front.callers.update(self._peer, self.front.caller(self.transport, ssh=True))
            del self._buffer[: len(SSH_PREAMBLE)]
        if self.upstream is not None:
            self._flush()

    def _hand_over(self, handler: LocalExecHandler, rest: bytes) -> None:
        """Serve the connection here: grpc never sees it, the caps stay taken."""
        self._buffer.clear()
        if self.upstream is not None:
            self.upstream.close()
            self.upstream = None
        elif self._connecting is not None:
            self._connecting.cancel()
        self.front.callers.forget(self._peer)
        self.local = handler(self.transport, self.front.caller(self.transport, ssh=False))
        if rest:
            self.local.data_received(rest)

    def _flush(self) -> None:
        if self._buffer and self.upstream is not None:
            self.upstream.write(bytes(self._buffer))
            self._buffer.clear()

    async def _connect(self, sock: socket.socket) -> None:
        front = self.front
        loop = asyncio.get_running_loop()
        try:
            await loop.sock_connect(sock, str(front.private_socket))
            transport, _ = await loop.create_unix_connection(lambda: _Upstream(self), sock=sock)
        except OSError as err:
            sock.close()
            log.error("%s: cannot reach %s: %s", front.name, front.private_socket, err)
            self.transport.close()
            return
        except asyncio.CancelledError:
            sock.close()
            raise
        if self._closed or self.local is not None:
            transport.close()
            return
        self.upstream = transport
        if not self._sniffing:
            self._flush()
        if self._client_ended:
            transport.write_eof()

    def eof_received(self) -> bool:
        if self.local is not None:
            self.local.eof_received()
            return True
        if self._sniffing:  # a client that said less than a preamble and stopped
            self._stop_sniffing()
        # The client has sent all it will (the ssh helper at the end of its stdin):
        # pass the end on, and keep the way back open until the server ends too.
        self._client_ended = True
        if self.upstream is not None:
            self._flush()
            self.upstream.write_eof()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self.front.clients.discard(self)
        if self.local is not None:
            self.local.connection_lost()
        if self._timer is not None:
            self._timer.cancel()
        if self.upstream is not None:
            self.upstream.close()
        elif self._connecting is not None:
            self._connecting.cancel()
        if self._peer:
            self.front.callers.forget(self._peer)
        if self._release is not None:
            self._release()
            self._release = None

    def pause_writing(self) -> None:
        if self.local is not None:
            self.local.pause_writing()
        elif self.upstream is not None:
            self.upstream.pause_reading()

    def resume_writing(self) -> None:
        if self.local is not None:
            self.local.resume_writing()
        elif self.upstream is not None:
            self.upstream.resume_reading()


class _Front:
    """What the unix and TCP fronts share: admission, relaying, stop."""

    sniffs_preamble = False
    preambles: tuple[bytes, ...] = ()
    local_exec: LocalExecHandler | None = None

    def __init__(self, name: str, private_socket: Path, callers: Callers) -> None:
        self.name = name
        self.private_socket = private_socket
        self.callers = callers
        self.clients: set[_Accepted] = set()
        self._server: asyncio.AbstractServer | None = None
        self._refused_logged: set[object] = set()

    def admit(self, transport: asyncio.Transport) -> Callable[[], None] | None:
        """Take the client's places; returns what gives them back, None if refused."""
        raise NotImplementedError

    def caller(self, transport: asyncio.Transport, ssh: bool) -> Caller:
        """The client's Caller; ssh when it came through the ssh helper."""
        raise NotImplementedError

    def _log_refusal(self, key: object, why: str) -> None:
        # Once per key until it is under its cap again: a flood must not flood the log.
        if key not in self._refused_logged:
            self._refused_logged.add(key)
            log.warning("%s: connection refused: %s", self.name, why)

    def close(self) -> None:
        """Accept no more connections; the relayed ones go on."""
        if self._server is not None:
            self._server.close()

    async def stop(self) -> None:
        self.close()
        for client in list(self.clients):
            client.transport.abort()
        await asyncio.sleep(0)


class UnixFront(_Front):
    """One public unix socket (read-write or read-only) in front of its gRPC server."""

    sniffs_preamble = True

    def __init__(
        self,
        path: Path,
        level: Level,
        private_socket: Path,
        per_uid: PerKeyLimiter[int],
        max_clients: int,
        callers: Callers = CALLERS,
        local_exec: LocalExecHandler | None = None,
    ) -> None:
        super().__init__(path.name, private_socket, callers)
        self.local_exec = local_exec
        self.preambles = (SSH_PREAMBLE, EXEC_PREAMBLE) if local_exec else (SSH_PREAMBLE,)
        self.path = path
        self.level = level
        self.per_uid = per_uid
        self.total: PerKeyLimiter[str] = PerKeyLimiter(0, max_clients, what="clients")
        self._credentials: dict[asyncio.Transport, tuple[int, int, int]] = {}

    async def start(self, mode: int, gid: int | None) -> None:
        """Listen at path with the given mode and group; never more open than that."""
        path = self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink() or (path.exists() and not path.is_socket()):
            raise OSError(
                errno.EEXIST, f"{path} exists and is not a socket; remove it or choose another path"
            )
        # The instance lock is held: a socket file here is a dead daemon's.
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        old = os.umask(0o177)
        try:
            self._server = await asyncio.get_running_loop().create_unix_server(
                lambda: _Accepted(self), sock=listening_unix_socket(path, _BACKLOG)
            )
        finally:
            os.umask(old)
        if gid is not None:
            os.chown(path, -1, gid)
        os.chmod(path, mode)

    def close(self) -> None:
        # Python 3.11's unix server leaves its socket file behind.
        if self._server is not None and self._server.is_serving():
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        super().close()

    def admit(self, transport: asyncio.Transport) -> Callable[[], None] | None:
        try:
            pid, uid, gid = peer_credentials(transport.get_extra_info("socket"))
        except OSError as err:
            log.warning("%s: no peer credentials (%s); connection closed", self.name, err)
            return None
        refusal = self.total.acquire(self.name)
        if refusal is None:
            refusal = self.per_uid.acquire(uid, f"uid {uid}")
            if refusal is not None:
                self.total.release(self.name)
        if refusal is not None:
            self._log_refusal(uid, refusal)
            return None
        self._refused_logged.discard(uid)
        self._credentials[transport] = (pid, uid, gid)

        def release() -> None:
            del self._credentials[transport]
            self.per_uid.release(uid)
            self.total.release(self.name)

        return release

    def caller(self, transport: asyncio.Transport, ssh: bool) -> Caller:
        pid, uid, gid = self._credentials[transport]
        read_only = self.level is Level.READ_ONLY
        if ssh:
            return Caller("ssh", uid, gid, pid, name=_user_name(uid), read_only=read_only)
        return Caller("unix", uid, gid, pid, read_only=read_only)


class TcpFront(_Front):
    """A TCP listener in front of a gRPC server on a private socket (the TLS one):
    at most per_source connections from one address and max_clients in all."""

    def __init__(
        self,
        address: str,
        port: int,
        private_socket: Path,
        per_source: int,
        max_clients: int,
        transport: str,
        callers: Callers = CALLERS,
    ) -> None:
        super().__init__(f"{transport} listener", private_socket, callers)
        self.address = address
        self.port = port
        self.transport = transport
        self.per_source: PerKeyLimiter[str] = PerKeyLimiter(
            per_source, max_clients, what="connections"
        )

    async def start(self) -> None:
        server = await asyncio.get_running_loop().create_server(
            lambda: _Accepted(self), self.address, self.port, reuse_address=True, backlog=_BACKLOG
        )
        self._server = server
        self.port = server.sockets[0].getsockname()[1]

    def admit(self, transport: asyncio.Transport) -> Callable[[], None] | None:
        source = source_address(transport)
        refusal = self.per_source.acquire(source)
        if refusal is not None:
            self._log_refusal(source, refusal)
            return None
        self._refused_logged.discard(source)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return lambda: self.per_source.release(source)

    def caller(self, transport: asyncio.Transport, ssh: bool) -> Caller:
        # The name (the certificate's DN) is grpc's to find out: identity.caller_of.
        return Caller(self.transport)


def source_address(transport: asyncio.BaseTransport) -> str:
    """The peer's address without its port: what per-source caps count by."""
    peer = transport.get_extra_info("peername")
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return str(peer)
