"""A token bucket: one per destination instance, sized from its declared limits.

``rate`` tokens are added per second up to ``burst``; every request takes one.
``acquire`` blocks until a token is free, so a sync never exceeds the rate the
vendor documents, and the HTTP helper's retries only have to absorb the
vendor's own throttling, not ours.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    def __init__(
        self,
        rate: float,
        burst: int | float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive (requests per second)")
        self.rate = float(rate)
        self.capacity = float(burst if burst and burst > 0 else max(1.0, rate))
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._lock = threading.Lock()
        self.waited_seconds = 0.0

    def _refill(self) -> None:
        now = self._clock()
        elapsed = now - self._updated
        if elapsed > 0:
            self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
            self._updated = now

    def try_acquire(self, tokens: float = 1.0) -> bool:
        """Take ``tokens`` if they are available now; never waits."""
        with self._lock:
            self._refill()
            if self._tokens >= tokens:
                self._tokens -= tokens
                return True
            return False

    def acquire(self, tokens: float = 1.0) -> float:
        """Wait until ``tokens`` are available, take them, return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                self._refill()
                if self._tokens >= tokens:
                    self._tokens -= tokens
                    self.waited_seconds += waited
                    return waited
                missing = tokens - self._tokens
                delay = missing / self.rate
            self._sleep(delay)
            waited += delay
