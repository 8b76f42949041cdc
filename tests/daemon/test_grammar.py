"""daemon/openvzd/vz/grammar.py: one grammar per value class, each refusal naming
its class (tests/fuzz/test_fuzz_grammar.py sources every accepted value)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from openvzd.vz.errors import ErrorKind, VzError
from openvzd.vz.grammar import (
    validate_bridge,
    validate_hostname,
    validate_interface_name,
    validate_ip,
    validate_nameserver,
    validate_private_dir,
    validate_search_domain,
    validate_user_name,
)


@pytest.mark.parametrize(
    ("validate", "value", "normalised"),
    [
        (validate_ip, "fe80::1%eth0", "fe80::1%eth0"),
        (validate_ip, "FE80::0001%veth101.0/64", "fe80::1%veth101.0/64"),
        (validate_ip, "10.0.0.1/24", "10.0.0.1/24"),
        (validate_nameserver, "inherit", "inherit"),
        (validate_nameserver, "2001:DB8::53", "2001:db8::53"),
        (validate_search_domain, "inherit", "inherit"),
        (validate_interface_name, "veth101.0", "veth101.0"),
        (validate_interface_name, "a" * 15, "a" * 15),
        (validate_bridge, "vmbr0", "vmbr0"),
        (validate_user_name, "root", "root"),
        (validate_user_name, "_svc-1", "_svc-1"),
        (validate_user_name, "machine$", "machine$"),
        (validate_user_name, "a" * 32, "a" * 32),
        (validate_private_dir, "/srv//containers/230/", "/srv/containers/230"),
    ],
)
def test_valid_values_are_accepted_and_normalised(
    validate: Callable[[str], str], value: str, normalised: str
) -> None:
    assert validate(value) == normalised


@pytest.mark.parametrize(
    ("validate", "value", "what"),
    [
        (validate_ip, "fe80::1%$(id>/tmp/x)", "IP address"),
        (validate_ip, "fe80::1%", "IP address"),
        (validate_ip, "10.0.0.1%eth0", "IP address"),
        (validate_ip, "fe80::1%eth0:1", "IP address"),
        (validate_ip, "fe80::1%aaaaaaaaaaaaaaaa", "IP address"),
        (validate_nameserver, "10.0.0.53/24", "nameserver"),
        (validate_nameserver, "fe80::1%`id`", "nameserver"),
        (validate_nameserver, "dns.example.com", "nameserver"),
        (validate_search_domain, "example.com;", "search domain"),
        (validate_hostname, "web$(id)", "host name"),
        (validate_interface_name, "a" * 16, "interface name"),
        (validate_interface_name, "eth0:1", "interface name"),
        (validate_interface_name, "br/0", "interface name"),
        (validate_interface_name, "-veth", "interface name"),
        (validate_interface_name, ".", "interface name"),
        (validate_interface_name, "vëth0", "interface name"),
        (validate_bridge, "br0 ", "bridge name"),
        (validate_user_name, "roöt", "user name"),
        (validate_user_name, "Root", "user name"),
        (validate_user_name, "1root", "user name"),
        (validate_user_name, "ro$ot", "user name"),
        (validate_user_name, "a" * 33, "user name"),
        (validate_user_name, "", "user name"),
        (validate_private_dir, "/srv/my containers", "path"),
        (validate_private_dir, "/srv/a,b", "path"),
    ],
)
def test_invalid_values_are_refused_naming_their_class(
    validate: Callable[[str], str], value: str, what: str
) -> None:
    with pytest.raises(VzError) as caught:
        validate(value)
    assert caught.value.kind is ErrorKind.BAD_ARGUMENT
    assert caught.value.message.startswith(what) or f"{what} " in caught.value.message
