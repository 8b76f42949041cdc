"""Caps per key: connections per uid on the unix sockets, per source address on
the TCP listeners, streams per uid. One small class, so every front-end (the
libvirt one included) counts the same way.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)

ROOT_UID = 0


def uncapped_uids() -> dict[Any, int]:
    """The per-key limit overrides (0: no limit) of the uids that own the daemon:
    root, and the uid it runs as (an `openvzd --simulate` of an ordinary user)."""
    return {ROOT_UID: 0, os.getuid(): 0}


class PerKeyLimiter(Generic[K]):
    """At most `per_key` holders for one key and `total` across all keys.

    A limit of 0 means none. `overrides` gives some keys a limit of their own
    (root on the unix sockets). acquire() answers at once: a refusal is a
    sentence that says which cap was reached, so the caller can log or send it.
    """

    def __init__(
        self,
        per_key: int,
        total: int = 0,
        *,
        what: str = "connections",
        overrides: Mapping[K, int] | None = None,
    ) -> None:
        self.per_key = per_key
        self.total = total
        self.what = what
        self._overrides = dict(overrides or {})
        self._counts: dict[K, int] = {}
        self._held = 0

    def limit_for(self, key: K) -> int:
        return self._overrides.get(key, self.per_key)

    def count(self, key: K) -> int:
        return self._counts.get(key, 0)

    @property
    def held(self) -> int:
        return self._held

    def acquire(self, key: K, describe: str | Callable[[], str] = "") -> str | None:
        """Take a place for key; None when taken, else why it was refused.

        describe names the key in the refusal (a callable is called only then)."""
        if self.total and self._held >= self.total:
            return f"too many {self.what} at once ({self.total}); try again later"
        limit = self.limit_for(key)
        count = self._counts.get(key, 0)
        if limit and count >= limit:
            who = describe() if callable(describe) else describe
            return (
                f"too many {self.what} from {who or key} ({limit} at once); "
                "close some, or try again later"
            )
        self._counts[key] = count + 1
        self._held += 1
        return None

    def release(self, key: K) -> None:
        count = self._counts.get(key, 0)
        if count <= 0:
            raise RuntimeError(f"release of {key!r} without an acquire")
        if count == 1:
            del self._counts[key]
        else:
            self._counts[key] = count - 1
        self._held -= 1


class RateLimiter(Generic[K]):
    """A token bucket per key: `rate` calls a second, in bursts of up to `rate`.

    delay() reserves a token and says how long to wait for it (0 when one is
    there). A caller that waits holds its other places meanwhile, so one that
    loops on calls is slowed to the rate without costing the daemon any work.
    A rate of 0 means none; `overrides` as for PerKeyLimiter.
    """

    def __init__(
        self,
        rate: int,
        *,
        overrides: Mapping[K, int] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self._overrides = dict(overrides or {})
        self._clock = clock
        self._buckets: dict[K, tuple[float, float]] = {}

    def delay(self, key: K) -> float:
        rate = self._overrides.get(key, self.rate)
        if not rate:
            return 0.0
        now = self._clock()
        tokens, then = self._buckets.get(key, (float(rate), now))
        tokens = min(float(rate), tokens + (now - then) * rate) - 1.0
        self._buckets[key] = (tokens, now)
        return 0.0 if tokens >= 0 else -tokens / rate
