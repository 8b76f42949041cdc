"""The server side of each SASL mechanism: one exchange, one identity.

A mechanism consumes client tokens and produces server tokens until it is done,
then names who logged in. It raises LoginRefused for anything short of a
verified identity; the message is safe to show the client.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any, Protocol

from scramp import ScramException, ScramMechanism  # type: ignore[import-untyped]

from openvzd.access import Level
from openvzd.remote.passwords import decoy_entry, read_db, valid_user_name


class LoginRefused(Exception):
    """Authentication failed; the message is what the client is told."""


class ServerMechanism(Protocol):
    def step(self, token: bytes) -> bytes:
        """The answer to a client token; raises LoginRefused."""

    @property
    def done(self) -> bool: ...

    @property
    def identity(self) -> str: ...

    @property
    def stored_level(self) -> Level:
        """The level the credential store grants (SCRAM's --readonly); rw otherwise."""

    @property
    def gss_context(self) -> Any:
        """The established GSS context, whose wrap protects the session; None for SCRAM."""


class ScramServerMechanism:
    """SCRAM-SHA-256 against the password database, read at each login so that
    `openvzd passwd` takes effect at once."""

    def __init__(self, password_db: Path, decoy_secret: bytes) -> None:
        self._entries = read_db(password_db)
        self._decoy_secret = decoy_secret
        self._server = ScramMechanism("SCRAM-SHA-256").make_server(self._auth_info)
        self._round = 0
        self._user = ""
        self._known = False

    def _auth_info(self, user: str) -> tuple[bytes, bytes, bytes, int]:
        self._user = user
        entry = self._entries.get(user) if valid_user_name(user) else None
        self._known = entry is not None
        return (entry or decoy_entry(user, self._decoy_secret)).auth_info()

    def step(self, token: bytes) -> bytes:
        self._round += 1
        try:
            if self._round == 1:
                self._server.set_client_first(token.decode("utf-8"))
                return str(self._server.get_server_first()).encode()
            if self._round == 2:
                self._server.set_client_final(token.decode("utf-8"))
                if not self._known:
                    raise LoginRefused("wrong user name or password")
                return str(self._server.get_server_final()).encode()
        except (ScramException, UnicodeDecodeError):
            raise LoginRefused("wrong user name or password") from None
        raise LoginRefused("SCRAM-SHA-256 takes two rounds")

    @property
    def done(self) -> bool:
        return self._round == 2

    @property
    def identity(self) -> str:
        return self._user

    @property
    def stored_level(self) -> Level:
        entry = self._entries.get(self._user)
        return entry.level if entry else Level.READ_ONLY

    @property
    def gss_context(self) -> Any:
        return None


class GssapiServerMechanism:
    """Kerberos through GSSAPI, as acceptor with the service key from a keytab.

    The context must offer confidentiality, integrity, replay and sequence
    detection: the session after login is carried in its wrap tokens, and a
    context without them would leave the stream open to reading or reordering.
    """

    REQUIRED = ("confidentiality", "integrity", "replay_detection", "out_of_sequence_detection")

    def __init__(self, credentials: Any) -> None:
        import gssapi
        from gssapi.raw.misc import GSSError

        self._gssapi = gssapi
        self._gss_error = GSSError
        self._context = gssapi.SecurityContext(creds=credentials, usage="accept")

    def step(self, token: bytes) -> bytes:
        try:
            answer = self._context.step(token)
        except self._gss_error as err:
            raise LoginRefused(f"Kerberos refused the login: {_gss_message(err)}") from None
        if self._context.complete:
            flags = self._context.actual_flags
            missing = [
                name
                for name in self.REQUIRED
                if getattr(self._gssapi.RequirementFlag, name) not in flags
            ]
            if missing:
                raise LoginRefused(f"the Kerberos context lacks {', '.join(missing)}")
        return bytes(answer or b"")

    @property
    def done(self) -> bool:
        return bool(self._context.complete)

    @property
    def identity(self) -> str:
        return str(self._context.initiator_name)

    @property
    def stored_level(self) -> Level:
        return Level.READ_WRITE

    @property
    def gss_context(self) -> Any:
        return self._context


def acceptor_credentials(keytab: Path) -> Any:
    """Acceptor credentials for any service key in keytab (so the host name a
    client used need not match a configured one)."""
    import gssapi

    return gssapi.Credentials(usage="accept", store={"keytab": str(keytab)})


def new_decoy_secret() -> bytes:
    return secrets.token_bytes(32)


def _gss_message(err: Exception) -> str:
    text = " ".join(str(err).split())
    return text[:300]
