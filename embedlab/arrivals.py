"""Whether sessions are arriving in a burst: a class opening the app at once.

A new session's first screen (components/shared/first_screen.py) spends one more script run of the server to let
the browser paint the scores sooner. That pays when the browser is the slow part (one visitor), not when the server
is (a hundred students at once: each extra run delays every other student). ``Arrivals.burst()`` tells them apart.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

BURST_SESSIONS = 4  # this many other new sessions ...
BURST_WINDOW_S = 2.0  # ... within this long before a new one: a burst


class Arrivals:
    """New sessions' arrival times in one process, the last ``count`` of them. Thread-safe: every session's script
    runs in a thread of its own."""

    def __init__(
        self, count: int = BURST_SESSIONS, window_s: float = BURST_WINDOW_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.window_s = window_s
        self.clock = clock
        self._times: deque[float] = deque(maxlen=count)
        self._lock = threading.Lock()

    def burst(self) -> bool:
        """Note a new session's arrival; True when ``count`` others arrived within ``window_s`` before it."""
        now = self.clock()
        with self._lock:
            busy = len(self._times) == self._times.maxlen and now - self._times[0] < self.window_s
            self._times.append(now)
        return busy
