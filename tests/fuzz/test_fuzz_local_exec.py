"""daemon/openvzd/api/local_exec.py: the local exec channel's request decoder takes
any bytes and answers a (domain, spec) pair or a BAD_ARGUMENT OpenvzError with a
message, never another exception; ExecSpec.check on what it accepts does the same."""

from __future__ import annotations

import json
from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st
from openvz import execwire
from openvzd.api.local_exec import request_of
from openvzd.core.errors import ErrorKind, OpenvzError

from tests.fuzz.profiles import fuzz, no_hang
from tests.fuzz.strategies import FRAGMENT

JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), FRAGMENT),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(FRAGMENT, inner, max_size=4)
    ),
    max_leaves=12,
)
REQUEST_VALUES = {
    "domain": st.one_of(FRAGMENT, JSON_VALUES),
    "argv": st.one_of(st.lists(FRAGMENT, max_size=5), JSON_VALUES),
    "env": st.one_of(st.dictionaries(FRAGMENT, FRAGMENT, max_size=4), JSON_VALUES),
    "cwd": st.one_of(FRAGMENT, JSON_VALUES),
    "tty": st.one_of(st.booleans(), JSON_VALUES),
    "rows": st.one_of(st.integers(-5, 20_000), JSON_VALUES),
    "columns": st.one_of(st.integers(-5, 20_000), JSON_VALUES),
}


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
@given(
    st.fixed_dictionaries(
        {}, optional={**REQUEST_VALUES, **{key: JSON_VALUES for key in ("shell", "")}}
    )
)
def test_request_shaped_objects(request: dict[str, object]) -> None:
    payload = json.dumps(request).encode()
    if len(payload) <= execwire.MAX_PAYLOAD:
        check(payload)
