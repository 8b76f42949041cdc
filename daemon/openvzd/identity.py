"""Who is calling, from the call's context.

MINIMAL STAND-IN, UNFINISHED: the *access* and *core* helpers are writing the
real module (peer credentials on unix sockets, the TLS DN, the SASL user, the
ssh user). Until their version is merged, a TLS caller is named by its
certificate's subject and every other caller is an unnamed unix one. Only the
read-write servers reach the callers of this module, so read_only is False.
"""

from __future__ import annotations

from typing import Any

import grpc

from openvzd.core.caller import Caller


def caller_of(context: grpc.aio.ServicerContext[Any, Any]) -> Caller:
    subject = next(iter(context.auth_context().get("x509_subject") or ()), None)
    if subject is not None:
        return Caller(transport="tls", name=subject.decode(errors="replace"))
    return Caller(transport="unix")
