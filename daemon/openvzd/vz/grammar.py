"""The grammar of every value that reaches a config file or a command line.

vzctl writes what it is given into CTID.conf as `KEY="value"` without escaping,
and its action scripts source that file as root: a value holding `$(...)`, a
backtick, a quote or a line break runs as a command on the host (issue 13,
item 2). So each class of value has its own strict grammar here, checked before
a value is journaled, and each refusal names the class and what it accepts.
Every accepted value is inert in a shell: no character of it means anything
to `sh` inside double quotes (tests/fuzz/test_fuzz_grammar.py sources them).

spec.py re-exports these under the names the rest of the daemon imports.
"""

from __future__ import annotations

import ipaddress
import re

from openvzd.vz.errors import VzError, bad_argument

# Linux takes up to 15 bytes (IFNAMSIZ - 1) and refuses '/', whitespace and ':'
# (aliases); NETIF separates its fields with ',', ';' and '='. openvzd is
# stricter still: ASCII letters, digits, '_', '.', '-', never a leading '-'
# (an option to vzctl) or '.' ('.' and '..' are not names).
_INTERFACE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}\Z", re.ASCII)
_HOSTNAME = re.compile(
    r"(?=.{1,253}\Z)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9][A-Za-z0-9-]{0,62})*\Z",
    re.ASCII,
)
_MAC = re.compile(r"([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}\Z", re.ASCII)
_TEMPLATE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}\Z", re.ASCII)
# passwd(5)'s portable user name (useradd's NAME_REGEX): a trailing '$' is a
# Samba machine account. str.isalnum() would take 'roöt'.
_USER = re.compile(r"(?=.{1,32}\Z)[a-z_][a-z0-9_-]*\$?\Z", re.ASCII)
# Characters that would break a quoted config value or a shell sourcing the config.
_UNSAFE_PATH_CHARS = set("\"'\\`$;|&<>*?[]{}~!#%^()=,") | {chr(c) for c in range(33)} | {"\x7f"}
MAX_PATH = 4096
INHERIT = "inherit"


def validate_interface_name(name: str, what: str = "interface name") -> str:
    """A network interface name on the host (a veth's host end, a bridge)."""
    if not _INTERFACE.match(name):
        raise bad_argument(
            f"{what} {name!r} is not an interface name: 1 to 15 ASCII letters, digits, '_', "
            "'.' or '-', not starting with '-' or '.' (no '/', ':', spaces or quotes)"
        )
    return name


def validate_bridge(name: str) -> str:
    return validate_interface_name(name, "bridge name")


def validate_ip(text: str) -> str:
    """An IPv4 or IPv6 address with an optional /prefix, normalised. An IPv6
    scope id (fe80::1%eth0) must be an interface name: ipaddress keeps any text
    after '%' verbatim."""
    address, percent, rest = text.partition("%")
    scope, slash, prefix = rest.partition("/")
    if percent:
        if ":" not in address or not _INTERFACE.match(scope):
            raise bad_argument(
                f"IP address {text!r}: a scope after '%' is only for an IPv6 address and must "
                "be an interface name (fe80::1%eth0): 1 to 15 ASCII letters, digits, '_', '.' "
                "or '-'"
            )
        plain = address + (slash + prefix)
    else:
        plain = text
    try:
        interface = ipaddress.ip_interface(plain)
    except ValueError:
        raise bad_argument(
            f"IP address {text!r} is not an IPv4 or IPv6 address (prefix allowed, as "
            "10.0.0.1/24 or 2001:db8::1/64)"
        ) from None
    scoped = f"{interface.ip}%{scope}" if percent else str(interface.ip)
    return f"{scoped}/{interface.network.prefixlen}" if "/" in plain else scoped


def validate_nameserver(text: str) -> str:
    """A resolver's address for NAMESERVER (no prefix), or vzctl's "inherit"
    (the host's resolvers)."""
    if text == INHERIT:
        return text
    if "/" in text:
        raise bad_argument(
            f"nameserver {text!r}: a resolver is one address, without a /prefix "
            "(or 'inherit' for the host's)"
        )
    try:
        return validate_ip(text)
    except VzError as err:
        raise bad_argument(
            f"nameserver: {err.message} (or 'inherit' for the host's resolvers)"
        ) from None


def validate_hostname(name: str) -> str:
    if not _HOSTNAME.match(name):
        raise bad_argument(
            f"host name {name!r} is not a host name (ASCII letters, digits, '-', dot-separated "
            "labels of at most 63, at most 253 in all)"
        )
    return name


def validate_search_domain(name: str) -> str:
    """A domain for SEARCHDOMAIN: a host name, or vzctl's "inherit"."""
    if name != INHERIT and not _HOSTNAME.match(name):
        raise bad_argument(
            f"search domain {name!r} is not a domain name (ASCII letters, digits, '-', "
            "dot-separated) nor 'inherit'"
        )
    return name


def validate_mac(text: str) -> str:
    if not _MAC.match(text):
        raise bad_argument(f"MAC address {text!r} is not a MAC address like 00:18:51:12:34:56")
    return text.upper()


def validate_template(name: str) -> str:
    if not _TEMPLATE.match(name):
        raise bad_argument(
            f"OS template {name!r} is not a template name (letters, digits, '.', '_', '+', '-', "
            "as in centos-7-x86_64-minimal)"
        )
    return name


def validate_user_name(name: str) -> str:
    """A user name inside the container, as passwd(5) and useradd take it."""
    if not _USER.match(name):
        raise bad_argument(
            f"user name {name!r} is not a user name: [a-z_][a-z0-9_-]*, optionally ending in "
            "'$', at most 32 characters (as useradd takes it)"
        )
    return name


def validate_private_dir(path: str) -> str:
    """A directory path for VE_PRIVATE: absolute, normalised, no '..', nothing
    a quoted config value or a shell sourcing the config would misread.
    (vz/storage.py decides where such a directory may be.)"""
    unsafe = sorted(set(path) & _UNSAFE_PATH_CHARS)
    parts = path.split("/")
    if (
        not path.startswith("/")
        or unsafe
        or ".." in parts
        or "." in parts
        or len(path.encode()) > MAX_PATH
        or path.rstrip("/") == ""
    ):
        raise bad_argument(
            f"path {path!r}: <source dir> must be an absolute directory path other than '/', "
            "without '.' or '..' parts, spaces, control characters, quotes or any of "
            "$`\\;|&<>*?[]{}~!#%^()=,"
        )
    return "/" + "/".join(part for part in parts if part)
