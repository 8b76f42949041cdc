"""client/openvz/uri.py: parse_uri returns a URI or raises InvalidArgument with a
message, whatever the text; what it accepts is usable (transport, port, socket).
plain_local_socket (ovzsh exec's fast path, without urllib) agrees with parse_uri on
every text it answers for."""

from __future__ import annotations

import os

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from openvz.errors import InvalidArgument
from openvz.uri import URI, parse_uri, plain_local_socket

from tests.fuzz.profiles import fuzz, no_hang
from tests.fuzz.strategies import FRAGMENT, HOSTILE_TEXT, mutated

VALID = [
    "openvz:///system",
    "openvz+unix:///system?socket=/run/x/openvzd.sock&readonly",
    "openvz://host.example:16514/system",
    "openvz+tcp://10.0.0.1:16509/system",
    "openvz+ssh://root@[2001:db8::1]:2222/system?keyfile=/root/.ssh/id",
]
# Inputs the fuzzers found, kept as regressions: each once raised ValueError.
FOUND = [
    "openvz://[::1/system",  # unclosed IPv6 bracket
    "openvz://]/system",
    "openvz://host:99999/system",  # port out of range
    "openvz://h\uff03st/system",  # netloc that NFKC-normalizes to a URL delimiter
    "openvz+unix:///system?socket=/",  # found by atheris: socket_path() raised ValueError
    "openvz:///system?socket=.&readonly",
]


def check(text: str) -> None:
    agrees_with_parse_uri(text)
    with no_hang():
        try:
            uri = parse_uri(text)
        except InvalidArgument as refusal:
            assert refusal.message.strip(), text
            return
    assert isinstance(uri, URI)
    assert uri.transport in ("unix", "tls", "tcp", "ssh"), uri
    assert uri.port is None or 0 <= uri.port <= 65535, uri
    uri.socket_path(read_only=True)
    uri.socket_path(read_only=False)
    assert uri.read_only in (True, False)


def agrees_with_parse_uri(text: str) -> None:
    for read_only in (False, True):
        plain = plain_local_socket(text, read_only)
        if plain is None:
            continue
        uri = parse_uri(text)
        assert uri.transport == "unix", text
        parsed = uri.socket_path(read_only or uri.read_only)
        assert os.path.normpath(plain) == os.path.normpath(parsed), text


PLAIN = [
    "openvz:///system",
    "openvz+unix:///system/",
    "openvz:///system?",
    "openvz+unix:///system?socket=/run/x/openvzd.sock&readonly",
    "openvz:///system?readonly=0&socket=relative.sock",
    "openvz:///system?socket=/run/x/a-ro.sock&readonly",
    "openvz:///system?socket=/a/./b.sock&readonly=no",
]


@pytest.mark.parametrize("text", PLAIN)
def test_plain_local_uris_are_read_as_parse_uri_reads_them(text: str) -> None:
    for read_only in (False, True):
        assert plain_local_socket(text, read_only) is not None
    agrees_with_parse_uri(text)


@pytest.mark.parametrize(
    "text",
    [
        "openvz://host/system",
        "openvz:///system?socket=/a%2Fb",
        "openvz:///system?socket=/a+b",
        "openvz:///system?socket=/",
        "openvz:///system?socket=",
        "openvz:///system?keyfile=x",
        "openvz:///system?socket=/a&socket=/b",
        "openvz:///system?socket=/a b",
        "openvz:///system#x",
        "openvz:///systemd",
    ],
)
def test_other_uris_are_left_to_parse_uri(text: str) -> None:
    assert plain_local_socket(text, False) is None


@fuzz()
@given(
    st.sampled_from(["openvz:///system", "openvz+unix:///system", "openvz:///system/"]),
    st.lists(st.tuples(st.sampled_from(["socket", "readonly", "x"]), FRAGMENT), max_size=3).map(
        lambda pairs: "&".join(f"{k}={v}" for k, v in pairs)
    ),
)
def test_plain_shaped_text(prefix: str, query: str) -> None:
    agrees_with_parse_uri(f"{prefix}?{query}")


@pytest.mark.parametrize("text", FOUND)
def test_found_inputs_are_refused_with_a_message(text: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_uri(text)


@fuzz()
@given(st.text(max_size=200))
@example("openvz://[")
def test_any_text(text: str) -> None:
    check(text)


SCHEMES = st.sampled_from(
    ["openvz", "openvz+unix", "openvz+tcp", "openvz+ssh", "openvz+tls", "openvz+x", "OPENVZ"]
)
HOSTS = st.one_of(
    st.sampled_from(["", "localhost", "10.0.0.1", "[::1]", "[::1", "::1]", "[fe80::1%eth0]"]),
    HOSTILE_TEXT,
)
PORTS = st.one_of(st.just(""), st.integers(-70000, 70000).map(lambda p: f":{p}"), FRAGMENT)
PATHS = st.sampled_from(["/system", "/system/", "/session", "", "/", "//system"])
QUERIES = st.lists(
    st.tuples(st.sampled_from(["socket", "readonly", "keyfile", "no_verify", ""]), FRAGMENT),
    max_size=3,
).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs))


@fuzz()
@given(
    SCHEMES,
    st.one_of(st.just(""), FRAGMENT.map(lambda user: f"{user}@")),
    HOSTS,
    PORTS,
    PATHS,
    QUERIES,
)
def test_uri_shaped_text(
    scheme: str, user: str, host: str, port: str, path: str, query: str
) -> None:
    check(f"{scheme}://{user}{host}{port}{path}" + (f"?{query}" if query else ""))


@fuzz()
@given(st.sampled_from(VALID).flatmap(mutated))
def test_mutated_valid_uris(text: str) -> None:
    check(text)
