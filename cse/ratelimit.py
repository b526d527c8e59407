"""Per-originator request rate limiting: one token bucket per originator.

Each originator may send `rate` requests per second on average and up to `burst` at once.
A request beyond that is refused before any work is done, with RSC 4005
OPERATION_NOT_ALLOWED and the time after which a retry will be admitted.  Release 3 has
no "too many requests" code: 4005 says "this operation is not allowed now" without
suggesting a missing privilege (4103) or a malformed request (4000); bindings that can
say more (HTTP 429 + Retry-After) find the delay in `OneM2MError.extra["retry_after"]`.

Requests without an originator (AE registration) are counted per remote address.  What
this module must never do: grow without bound (it forgets idle originators), or sleep.
"""
from __future__ import annotations

import math

from .errors import RSC, OneM2MError


class RateLimiter:
    def __init__(self, rate: float, burst: int, max_tracked: int = 10_000):
        self.rate = float(rate)
        self.burst = float(max(1, burst))
        self.max_tracked = max_tracked
        # originator -> [tokens left, time of the last refill]
        self._buckets: dict[str, list[float]] = {}

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def admit(self, originator: str | None, remote_address: str | None, now: float) -> None:
        """Take one token for this originator, or refuse with 4005."""
        key = originator or f"@{remote_address or 'unknown'}"
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_tracked:
                self._forget_idle(now)
            bucket = self._buckets[key] = [self.burst, now]
        else:
            elapsed = now - bucket[1]
            if elapsed > 0:
                bucket[0] = min(self.burst, bucket[0] + elapsed * self.rate)
                bucket[1] = now
        if bucket[0] < 1.0:
            wait = (1.0 - bucket[0]) / self.rate
            raise OneM2MError(
                RSC.OPERATION_NOT_ALLOWED,
                f"rate limit exceeded for originator {key!r}: at most {self.rate:g} requests per "
                f"second (bursts of {self.burst:g}); retry in {wait:.2f} s",
                retry_after=wait)
        bucket[0] -= 1.0

    def _forget_idle(self, now: float) -> None:
        """Drop buckets that are full again: forgetting them changes nothing."""
        refill = self.burst / self.rate
        self._buckets = {k: b for k, b in self._buckets.items() if now - b[1] < refill}
        if len(self._buckets) >= self.max_tracked:
            # Every tracked originator is busy (or someone invents originators): start over
            # rather than grow; a fresh bucket is full, so this errs on the side of admitting.
            self._buckets.clear()


def retry_after_seconds(delay: float) -> int:
    """Whole seconds for an HTTP Retry-After header (at least 1)."""
    return max(1, math.ceil(delay))
