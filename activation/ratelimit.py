"""A token bucket: one per destination instance, sized from its declared limits.

``rate`` tokens are added per second up to ``burst``; every request takes one.
``acquire`` blocks until a token is free, so a sync never exceeds the rate the
vendor documents, and the HTTP helper's retries only have to absorb the
vendor's own throttling, not ours.

``windows`` adds sliding windows, ``(count, seconds)``: at most ``count`` requests
leave in any ``seconds``. A vendor that counts in fixed windows (Klaviyo: 10 a
second, 150 a minute) is never exceeded by a sliding window of the same size, and
a full burst still leaves at once, which a slow refill would forbid.

``pause(seconds)`` holds every ``acquire`` until then: when the vendor answers one
thread with ``Retry-After``, all the threads sharing the bucket wait it out
instead of spending their requests on more 429s.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence


class TokenBucket:
    def __init__(
        self,
        rate: float,
        burst: int | float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        windows: Sequence[tuple[int, float]] = (),
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive (requests per second)")
        self.rate = float(rate)
        self.capacity = float(burst if burst and burst > 0 else max(1.0, rate))
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._paused_until = float("-inf")
        self._pause_owner: int | None = None
        self.windows = [(int(count), float(seconds)) for count, seconds in windows]
        if any(count < 1 or seconds <= 0 for count, seconds in self.windows):
            raise ValueError("a window is (count >= 1, seconds > 0)")
        # When the last requests left (as many as the largest window counts).
        self._sent: deque[float] = deque(maxlen=max((c for c, _ in self.windows), default=1))
        self._lock = threading.Lock()
        self.waited_seconds = 0.0
        self.pauses = 0

    def _refill(self) -> None:
        now = self._clock()
        elapsed = now - self._updated
        if elapsed > 0:
            self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
            self._updated = now

    def pause(self, seconds: float) -> None:
        """No token for anyone during the next ``seconds`` (the vendor asked us to wait).

        A pause never shortens one already in force. The threads resume within the declared
        rate (at most the bucket's burst at once).
        The thread that pauses the bucket is not held by its own pause: it waits the vendor's
        time in its retry already.
        """
        with self._lock:
            self._refill()
            until = self._clock() + max(0.0, float(seconds))
            if until > self._paused_until:
                self._paused_until = until
                self._pause_owner = threading.get_ident()
                self.pauses += 1

    def _paused_for(self, waited_until: float = float("-inf")) -> float:
        """Seconds of a pause this thread still has to wait (0 for its own, or one it waited out)."""
        if self._paused_until <= waited_until or self._pause_owner == threading.get_ident():
            return 0.0
        return self._paused_until - self._clock()

    def _window_wait(self) -> float:
        """Seconds until every window has room for one more request."""
        now = self._clock()
        wait = 0.0
        for count, seconds in self.windows:
            if len(self._sent) >= count:
                wait = max(wait, self._sent[-count] + seconds - now)
        return wait

    def _take(self, tokens: float) -> None:
        self._tokens -= tokens
        if self.windows:
            self._sent.append(self._clock())

    def try_acquire(self, tokens: float = 1.0) -> bool:
        """Take ``tokens`` if they are available now; never waits."""
        with self._lock:
            if self._paused_for() > 0 or self._window_wait() > 0:
                return False
            self._refill()
            if self._tokens >= tokens:
                self._take(tokens)
                return True
            return False

    def acquire(self, tokens: float = 1.0) -> float:
        """Wait until ``tokens`` are available, take them, return the seconds waited."""
        waited = 0.0
        waited_until = float("-inf")  # the end of a pause this call slept through
        while True:
            with self._lock:
                paused = self._paused_for(waited_until)
                window = self._window_wait() if paused <= 0 else 0.0
                if paused > 0:
                    delay = paused
                    waited_until = self._paused_until
                elif window > 0:
                    delay = window
                else:
                    self._refill()
                    if self._tokens >= tokens:
                        self._take(tokens)
                        self.waited_seconds += waited
                        return waited
                    missing = tokens - self._tokens
                    delay = missing / self.rate
            self._sleep(delay)
            waited += delay
