"""daemon/openvzd/api/local_exec.py: the local exec channel's request decoder takes
any bytes and answers a (domain, spec) pair or a BAD_ARGUMENT OpenvzError with a
message, never another exception; ExecSpec.check on what it accepts does the same.
And what openvz.execwire encodes, it decodes unchanged."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st
from openvz import execwire
from openvzd.api.local_exec import request_of
from openvzd.core.errors import ErrorKind, OpenvzError

from tests.fuzz.profiles import fuzz, no_hang
from tests.fuzz.strategies import FRAGMENT

WORDS = st.lists(FRAGMENT, max_size=5)
REQUEST_HEADS = st.tuples(
    st.integers(0, 3),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF),
    st.integers(0, 8),
    st.integers(0, 8),
)


def refused(action: Callable[[], object]) -> bool:
    """True when action refused with BAD_ARGUMENT and a message; it raises nothing else."""
    with no_hang():
        try:
            action()
        except OpenvzError as refusal:
            assert refusal.kind is ErrorKind.BAD_ARGUMENT, refusal
            assert refusal.message.strip()
            return True
    return False


def check(payload: bytes) -> None:
    if not refused(lambda: request_of(payload)):
        # What the decoder lets through has the types ExecSpec's own checks expect
        # (the session manager runs them, after the domain is resolved).
        refused(request_of(payload)[1].check)


@fuzz()
@given(st.binary(max_size=300))
def test_any_bytes(payload: bytes) -> None:
    check(payload)


@fuzz()
@given(REQUEST_HEADS, WORDS)
def test_request_shaped_payloads(head: tuple[int, int, int, int, int], words: list[str]) -> None:
    """A well-formed head over NUL-ended strings, in agreeing and disagreeing counts."""
    strings = "".join(word + "\0" for word in words).encode(errors="surrogatepass")
    payload = execwire.REQUEST_HEAD.pack(*head) + strings
    if len(payload) <= execwire.MAX_PAYLOAD:
        check(payload)


@fuzz()
@given(FRAGMENT, WORDS, st.dictionaries(FRAGMENT, FRAGMENT, max_size=4), FRAGMENT, st.booleans())
def test_what_the_client_encodes_decodes_as_it_was(
    domain: str, argv: list[str], env: dict[str, str], cwd: str, tty: bool
) -> None:
    request = execwire.ExecRequest(domain, argv, env, cwd, tty, 40, 120)
    try:
        payload = request.encode()
    except execwire.WireError:
        return  # a NUL, a name with '=', or text that is not UTF-8: refused by the client
    back = execwire.ExecRequest.decode(payload)
    assert (back.domain, back.argv, back.env, back.cwd, back.tty, back.rows, back.columns) == (
        domain,
        argv,
        env,
        cwd,
        tty,
        40,
        120,
    )
