"""The client end of openvz+tcp://[user@]host[:port]/system: SASL over TCP.

Each grpc connection becomes one TCP session that logs in (GSSAPI from the
user's Kerberos credentials, or SCRAM-SHA-256 with a password) before any gRPC
byte flows; after a GSSAPI login the stream travels in Kerberos wrap tokens.

URI parameters: auth=sasl.gssapi | sasl.scram-sha-256 (default: SCRAM when
password_file is given, else GSSAPI when the server offers it), password_file=PATH
(SCRAM: the first line is the password), service (the Kerberos service name,
default "openvzd": the daemon's key is openvzd/HOST@REALM).
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from openvz.transport import sasl_wire as wire
from openvz.transport.errors import AuthenticationFailed, ServerBusy, TransportError
from openvz.transport.ports import DEFAULT_SASL_PORT
from openvz.transport.relay import LocalRelay, close_stream

DEFAULT_SERVICE = "openvzd"
PasswordSource = Callable[[], str]


class SaslSession:
    """One authenticated TCP session; after GSSAPI it seals and unseals every byte."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        gss_context: Any,
        host: str,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._gss = gss_context
        self._host = host

    async def send(self, data: bytes) -> None:
        self._writer.write(data if self._gss is None else wire.seal(self._gss, data))
        await self._writer.drain()

    async def receive(self) -> bytes:
        if self._gss is None:
            return await self._reader.read(wire.DATA_CHUNK)
        payload = await wire.read_frame(self._reader, wire.MAX_DATA_FRAME)
        return b"" if payload is None else wire.unseal(self._gss, payload)

    async def failure(self) -> TransportError:
        return TransportError(
            f"{self._host} closed the session after login "
            "(is the daemon behind the SASL listener running?)"
        )

    async def close(self) -> None:
        await close_stream(self._writer)


class SaslTunnel(LocalRelay):
    """openvz+tcp: start() logs in once (errors surface there) and returns the grpc target."""

    def __init__(
        self,
        host: str,
        port: int | None = None,
        user: str | None = None,
        params: Mapping[str, str] | None = None,
        password: PasswordSource | None = None,
    ) -> None:
        params = params or {}
        self._host = host.strip("[]")
        self._port = port or DEFAULT_SASL_PORT
        self._user = user
        self._service = params.get("service", DEFAULT_SERVICE)
        self._mechanism = _requested_mechanism(params)
        self._password = password
        if params.get("password_file"):
            self._password = _file_password(Path(params["password_file"]))
            self._mechanism = self._mechanism or wire.SCRAM_SHA_256
        self._cached_password: str | None = None
        super().__init__(self._login, label=f"sasl {self._host}")

    async def _login(self) -> SaslSession:
        try:
            reader, writer = await asyncio.open_connection(self._host, self._port)
        except OSError as err:
            raise TransportError(
                f"cannot reach {self._host} port {self._port}: {err.strerror or err}"
            ) from None
        try:
            offered = wire.parse_greeting(
                _unless_refused(await _handshake_frame(reader), self._host)
            )
            mechanism = self._choose(offered)
            if mechanism == wire.GSSAPI:
                context = await self._gssapi(reader, writer)
            else:
                await self._scram(reader, writer)
                context = None
        except BaseException:
            writer.close()
            raise
        return SaslSession(reader, writer, context, self._host)

    def _choose(self, offered: list[str]) -> str:
        wanted = self._mechanism
        if wanted is None:
            wanted = wire.GSSAPI if wire.GSSAPI in offered else wire.SCRAM_SHA_256
        if wanted not in offered:
            raise AuthenticationFailed(
                f"{self._host} does not offer {wanted} (it offers {' '.join(offered) or 'none'})"
            )
        return wanted

    async def _gssapi(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Any:
        try:
            import gssapi
        except ImportError:
            raise TransportError(
                "GSSAPI needs the python gssapi package (pip install 'openvzd[kerberos]')"
            ) from None
        from gssapi.raw.misc import GSSError

        wanted = gssapi.RequirementFlag
        flags = (
            wanted.mutual_authentication
            | wanted.confidentiality
            | wanted.integrity
            | wanted.replay_detection
            | wanted.out_of_sequence_detection
        )
        try:
            target = gssapi.Name(f"{self._service}@{self._host}", gssapi.NameType.hostbased_service)
            context = gssapi.SecurityContext(name=target, usage="initiate", flags=flags)
            # The first step may ask the KDC for a ticket: blocking network I/O.
            token = await asyncio.to_thread(context.step)
        except GSSError as err:
            raise AuthenticationFailed(f"Kerberos: {_one_line(err)}") from None
        writer.write(wire.frame(wire.start(wire.GSSAPI, token or b"")))
        kind = wire.CHALLENGE
        while kind == wire.CHALLENGE:
            kind, body = await _server_step(reader, self._host)
            if kind == wire.SUCCESS and not body:
                break
            try:
                answer = context.step(body)
            except GSSError as err:
                raise AuthenticationFailed(f"Kerberos: {_one_line(err)}") from None
            if kind == wire.CHALLENGE:
                writer.write(wire.frame(wire.RESPONSE + (answer or b"")))
        if not context.complete:
            raise AuthenticationFailed(f"{self._host} ended the Kerberos login early")
        if gssapi.RequirementFlag.confidentiality not in context.actual_flags:
            raise AuthenticationFailed("the Kerberos context cannot encrypt; refusing to go on")
        return context

    async def _scram(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from scramp import (  # type: ignore[import-untyped]  # scramp ships no types
            ScramClient,
            ScramException,
        )

        user = self._user or getpass.getuser()
        client = ScramClient([wire.SCRAM_SHA_256], user, self._get_password())
        writer.write(wire.frame(wire.start(wire.SCRAM_SHA_256, client.get_client_first().encode())))
        kind, body = await _server_step(reader, self._host)
        try:
            client.set_server_first(body.decode())
            writer.write(wire.frame(wire.RESPONSE + client.get_client_final().encode()))
            kind, body = await _server_step(reader, self._host)
            if kind != wire.SUCCESS:
                raise AuthenticationFailed(f"{self._host} wants more SCRAM rounds than exist")
            client.set_server_final(body.decode())
        except (ScramException, UnicodeDecodeError) as err:
            raise AuthenticationFailed(f"SCRAM with {self._host}: {err}") from None

    def _get_password(self) -> str:
        if self._cached_password is None:
            if self._password is None:
                raise AuthenticationFailed(
                    "SCRAM-SHA-256 needs a password: give ?password_file= or a password callback"
                )
            self._cached_password = self._password()
        return self._cached_password


async def _handshake_frame(reader: asyncio.StreamReader) -> bytes:
    try:
        payload = await wire.read_frame(reader, wire.MAX_HANDSHAKE_FRAME)
    except wire.WireError as err:
        raise TransportError(f"not an openvzd SASL listener: {err}") from None
    if payload is None:
        raise TransportError("the server closed the connection during the login")
    return payload


def _unless_refused(first: bytes, host: str) -> bytes:
    """The server's first frame, unless it is a refusal: a listener at its limits
    says so instead of greeting (the client is not at fault, and may retry)."""
    kind, body = wire.split_kind(first)
    if kind == wire.FAILURE:
        raise ServerBusy(f"{host} is busy: {body.decode(errors='replace')}")
    return first


async def _server_step(reader: asyncio.StreamReader, host: str) -> tuple[bytes, bytes]:
    kind, body = wire.split_kind(await _handshake_frame(reader))
    if kind == wire.FAILURE:
        raise AuthenticationFailed(f"{host} refused the login: {body.decode(errors='replace')}")
    if kind not in (wire.CHALLENGE, wire.SUCCESS):
        raise TransportError(f"{host} broke the login protocol (frame {kind!r})")
    return kind, body


def _requested_mechanism(params: Mapping[str, str]) -> str | None:
    auth = params.get("auth")
    if not auth:
        return None
    name = auth.removeprefix("sasl.").upper()
    if name not in wire.MECHANISMS:
        raise TransportError(f"auth={auth!r}: use sasl.gssapi or sasl.scram-sha-256")
    return name


def _file_password(path: Path) -> PasswordSource:
    def read() -> str:
        try:
            return path.read_text(encoding="utf-8").splitlines()[0]
        except (OSError, IndexError) as err:
            raise TransportError(f"cannot read a password from {path}: {err}") from None

    return read


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())[:300]
