"""The SCRAM-SHA-256 password database of the SASL listener, and `openvzd passwd`.

One line per user, like /etc/shadow, never a password in the clear:

    NAME:LEVEL:ITERATIONS:SALT:STORED_KEY:SERVER_KEY

LEVEL is rw or ro; salt and keys are base64 (RFC 5802's StoredKey and
ServerKey, from which the password cannot be recovered except by guessing).
The file is rewritten whole through a temp file and a rename, mode 0600.
"""

from __future__ import annotations

import argparse
import base64
import getpass
import hashlib
import hmac
import os
import re
import secrets
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from scramp import ScramMechanism  # type: ignore[import-untyped]

from openvzd.access import Level
from openvzd.remote.settings import SaslSettings

ITERATIONS = 16384
# No '@', so a SCRAM user can never look like a Kerberos principal in the allow-list.
USER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,63}")


class PasswordDbError(Exception):
    """The password database cannot be read or written; the message says why."""


@dataclass(frozen=True, slots=True)
class ScramEntry:
    name: str
    level: Level
    iterations: int
    salt: bytes
    stored_key: bytes
    server_key: bytes

    def line(self) -> str:
        b64 = [base64.b64encode(v).decode() for v in (self.salt, self.stored_key, self.server_key)]
        return ":".join([self.name, self.level.value, str(self.iterations), *b64])

    def auth_info(self) -> tuple[bytes, bytes, bytes, int]:
        """What scramp's server asks for a user."""
        return self.salt, self.stored_key, self.server_key, self.iterations


def valid_user_name(name: str) -> bool:
    return USER_NAME.fullmatch(name) is not None


def make_entry(name: str, password: str, level: Level, iterations: int = ITERATIONS) -> ScramEntry:
    mechanism = ScramMechanism("SCRAM-SHA-256")
    salt, stored_key, server_key, iterations = mechanism.make_auth_info(password, iterations)
    return ScramEntry(name, level, iterations, salt, stored_key, server_key)


def decoy_entry(name: str, secret: bytes) -> ScramEntry:
    """Stand-in for an unknown user, so that the exchange fails only at the proof
    and does not tell a prober which names exist. Stable per name and secret."""
    salt = hmac.new(secret, name.encode(), hashlib.sha256).digest()[:16]
    return ScramEntry(
        name, Level.READ_ONLY, ITERATIONS, salt, secrets.token_bytes(32), secrets.token_bytes(32)
    )


def read_db(path: Path) -> dict[str, ScramEntry]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise PasswordDbError(f"cannot read {path}: {err.strerror}") from None
    entries: dict[str, ScramEntry] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            name, level, iterations, salt, stored, server = line.split(":")
            entries[name] = ScramEntry(
                name,
                Level(level),
                int(iterations),
                base64.b64decode(salt, validate=True),
                base64.b64decode(stored, validate=True),
                base64.b64decode(server, validate=True),
            )
        except ValueError:
            raise PasswordDbError(
                f"{path} line {number} is damaged; fix it or delete the user with "
                "`openvzd passwd NAME --delete`"
            ) from None
    return entries


def write_db(path: Path, entries: dict[str, ScramEntry]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = "".join(entries[name].line() + "\n" for name in sorted(entries))
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _read_password(prompt_on_tty: bool) -> str:
    if not prompt_on_tty:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Retype new password: ") != first:
        raise PasswordDbError("the passwords do not match; nothing was changed")
    return first


def _passwd_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="openvzd passwd",
        description="Set, change or delete a SCRAM-SHA-256 password of the SASL listener. "
        "The password is read from a prompt, or from the first line of stdin when stdin "
        "is not a terminal; only salted keys are stored.",
    )
    parser.add_argument("user", help="the user name (letters, digits, . _ -)")
    what = parser.add_mutually_exclusive_group()
    what.add_argument(
        "--readonly", action="store_true", help="this user may only read, never change the host"
    )
    what.add_argument("--delete", action="store_true", help="remove the user")
    parser.add_argument(
        "--db",
        type=Path,
        default=SaslSettings().password_db,
        help="the password database (default: %(default)s)",
    )
    return parser


def passwd_main(argv: list[str]) -> int:
    """`openvzd passwd USER [--readonly|--delete] [--db PATH]`; returns the exit status."""
    args = _passwd_parser().parse_args(argv)
    try:
        if not valid_user_name(args.user):
            raise PasswordDbError(
                f"{args.user!r} is not a valid user name: use up to 64 letters, digits, . _ -"
            )
        entries = read_db(args.db)
        if args.delete:
            if entries.pop(args.user, None) is None:
                raise PasswordDbError(f"no user {args.user!r} in {args.db}")
            write_db(args.db, entries)
            print(f"deleted {args.user} from {args.db}")
            return 0
        password = _read_password(sys.stdin.isatty())
        if not password:
            raise PasswordDbError("an empty password is not allowed; nothing was changed")
        level = Level.READ_ONLY if args.readonly else Level.READ_WRITE
        entries[args.user] = make_entry(args.user, password, level)
        write_db(args.db, entries)
    except PasswordDbError as err:
        print(f"openvzd passwd: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"openvzd passwd: cannot write {args.db}: {err.strerror}", file=sys.stderr)
        return 1
    access = "read-only" if args.readonly else "read-write"
    print(
        f"set the password of {args.user} ({access}) in {args.db}; the user must also "
        "be in [sasl] allowed_users or readonly_users"
    )
    return 0
