"""libvirt's SASL transport (openvz+tcp://HOST/system, libvirt's port 16509):
GSSAPI (Kerberos) with its security layer, as RFC 4752 and Cyrus SASL do it.

The login travels as ordinary calls on the plain TCP stream: AUTH_LIST answers
[SASL], AUTH_SASL_INIT names the mechanisms, AUTH_SASL_START and _STEP carry
the tokens (as `char data<>`: 4 bytes per byte). Nothing else is served before
the login completes. Once the Kerberos context is up, the server offers only the
confidentiality layer (libvirt's client demands a strength of 56 on plain TCP,
which SCRAM or PLAIN cannot give) in a wrapped 4-byte message; the client
answers with its choice and its largest buffer. From the reply that completes
the login on, every byte in both directions is a 4-byte length and a GSS wrap
token with confidentiality.

The identity is the Kerberos principal, admitted by [sasl]'s allowed_users and
readonly_users; the keytab is [sasl]'s keytab, holding libvirt/HOSTNAME@REALM.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openvzd.access import Level
from openvzd.core.caller import Caller
from openvzd.libvirt.errors import LibvirtError
from openvzd.libvirt.numbers import ErrorCode
from openvzd.remote.identity import level_for
from openvzd.remote.sasl_server import SaslConfigError, keytab_credentials
from openvzd.remote.settings import SaslSettings

if TYPE_CHECKING:
    from openvzd.libvirt.server import LibvirtFrontEnd

log = logging.getLogger(__name__)

MECHANISM = "GSSAPI"
LAYER_NONE, LAYER_INTEGRITY, LAYER_CONFIDENTIALITY = 1, 2, 4
# The largest wrap token we accept, offered to the client in the layer message.
OUR_MAX_BUFFER = 65536
# What a Kerberos wrap adds to its message, with room to spare.
WRAP_OVERHEAD = 1024


class Stage(enum.Enum):
    CONTEXT = "context"
    AWAIT_EMPTY = "await-empty"
    AWAIT_LAYER = "await-layer"
    DONE = "done"


def _refused(message: str) -> LibvirtError:
    return LibvirtError(ErrorCode.AUTH_FAILED, f"authentication failed: {message}")


class SaslLogin:
    """One connection's GSSAPI login, then its security layer."""

    def __init__(self, credentials: Any, settings: SaslSettings) -> None:
        import gssapi
        from gssapi.raw.misc import GSSError

        self._gss_error = GSSError
        self._settings = settings
        self._context = gssapi.SecurityContext(creds=credentials, usage="accept")
        self._stage = Stage.CONTEXT
        self._peer_max_buffer = OUR_MAX_BUFFER
        self.identity = ""
        self.level: Level | None = None

    @property
    def done(self) -> bool:
        return self._stage is Stage.DONE

    def start(self, mechanism: str, token: bytes) -> tuple[bool, bytes]:
        if mechanism != MECHANISM:
            raise _refused(f"mechanism {mechanism!r} is not offered; this server offers GSSAPI")
        if self._stage is not Stage.CONTEXT:
            raise _refused("the login has already started on this connection")
        return self.step(token)

    def step(self, token: bytes) -> tuple[bool, bytes]:
        """(complete, the server's token)."""
        try:
            return self._step(token)
        except self._gss_error as err:
            raise _refused(
                f"Kerberos refused the login: {' '.join(str(err).split())[:300]}"
            ) from None

    def _step(self, token: bytes) -> tuple[bool, bytes]:
        if self._stage is Stage.CONTEXT:
            answer = bytes(self._context.step(token) or b"")
            if not self._context.complete:
                return False, answer
            if answer:
                self._stage = Stage.AWAIT_EMPTY
                return False, answer
            self._stage = Stage.AWAIT_LAYER
            return False, self._layer_offer()
        if self._stage is Stage.AWAIT_EMPTY:
            self._stage = Stage.AWAIT_LAYER
            return False, self._layer_offer()
        if self._stage is Stage.AWAIT_LAYER:
            choice = self._context.unwrap(token).message
            if len(choice) < 4 or not choice[0] & LAYER_CONFIDENTIALITY:
                raise _refused("the client did not choose the confidentiality layer")
            self._peer_max_buffer = int.from_bytes(choice[1:4], "big") or OUR_MAX_BUFFER
            self.identity = str(self._context.initiator_name)
            self.level = level_for(
                self.identity, self._settings.allowed_users, self._settings.readonly_users
            )
            if self.level is None:
                log.warning(
                    "libvirt SASL client %r refused: not in [sasl] allowed_users", self.identity
                )
                raise _refused(f"{self.identity} is not allowed on this server")
            self._stage = Stage.DONE
            return True, b""
        raise _refused("the login is already complete")

    def _layer_offer(self) -> bytes:
        offer = bytes([LAYER_CONFIDENTIALITY]) + OUR_MAX_BUFFER.to_bytes(3, "big")
        return bytes(self._context.wrap(offer, False).message)

    # -- after the login: the security layer ----------------------------------------

    def sender(self, writer: asyncio.StreamWriter) -> Callable[[bytes], None]:
        chunk = max(self._peer_max_buffer - WRAP_OVERHEAD, 1024)

        def send(packet: bytes) -> None:
            if writer.is_closing():
                return
            for start in range(0, len(packet), chunk):
                token = bytes(self._context.wrap(packet[start : start + chunk], True).message)
                writer.write(len(token).to_bytes(4, "big") + token)

        return send

    def unsealed(
        self, raw: asyncio.StreamReader
    ) -> tuple[asyncio.StreamReader, asyncio.Task[None]]:
        """A reader of the plain stream inside the client's wrap tokens, and the
        task that fills it (ended by the caller with the connection)."""
        plain = asyncio.StreamReader()

        async def pump() -> None:
            try:
                while True:
                    length = int.from_bytes(await raw.readexactly(4), "big")
                    if length > OUR_MAX_BUFFER + WRAP_OVERHEAD:
                        log.info("libvirt SASL: a wrap token of %d bytes is over the limit", length)
                        return
                    unwrapped = self._context.unwrap(await raw.readexactly(length))
                    if not unwrapped.encrypted:
                        log.info("libvirt SASL: a token without confidentiality; closing")
                        return
                    plain.feed_data(bytes(unwrapped.message))
            except (asyncio.IncompleteReadError, ConnectionError, self._gss_error):
                return
            finally:
                plain.feed_eof()

        task = asyncio.create_task(pump(), name="libvirt-sasl-unwrap")
        return plain, task


def gss_credentials(keytab: Path) -> Any:
    """Acceptor credentials from [sasl]'s keytab; OSError names what to fix."""
    try:
        return keytab_credentials(keytab)
    except SaslConfigError as err:
        raise OSError(f"[libvirt] sasl_port: {err}") from None


async def start_libvirt_sasl(
    front_end: LibvirtFrontEnd, settings: SaslSettings, address: str, port: int
) -> asyncio.Server:
    if not 1 <= port <= 65535:
        raise OSError(f"[libvirt] sasl_port = {port}: use a TCP port, 1 to 65535 (0: off)")
    credentials = gss_credentials(settings.keytab)
    if not settings.allowed_users and not settings.readonly_users:
        log.warning("[sasl] allowed_users and readonly_users are empty: every client is refused")

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        caller = Caller("sasl", name=f"not logged in ({peer[0] if peer else 'unknown'})")
        login = SaslLogin(credentials, settings)
        await front_end.serve(
            reader, writer, read_only=True, caller=caller, secure=True, login=login
        )

    try:
        server = await asyncio.start_server(serve, address, port)
    except OSError as err:
        raise OSError(
            f"[libvirt] cannot listen on {address} port {port}: {err.strerror}; "
            "change sasl_address or sasl_port"
        ) from None
    log.info(
        "libvirt SASL (GSSAPI) listener on %s port %d", address, server.sockets[0].getsockname()[1]
    )
    return server
