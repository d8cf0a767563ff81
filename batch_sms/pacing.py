"""One pacer shared by all workers, so that Close's rate limit pauses the whole run at once
instead of each worker discovering it with a 429 of its own."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

from batch_sms.close import RateLimit

# Workers resuming after a pause spread over this share of the pause (at most MAX_SPREAD
# seconds), so that they do not all hit the API in the same instant.
SPREAD_SHARE = 0.1
MAX_SPREAD = 0.25


class Pacer:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._resume_at = 0.0

    def observe(self, rate_limit: RateLimit | None) -> None:
        """Hold every new request back when the window is used up, until it resets."""
        if rate_limit is not None and rate_limit.remaining <= 0:
            self.pause(rate_limit.reset)

    def pause(self, seconds: float) -> None:
        self._resume_at = max(self._resume_at, self._clock() + seconds)

    @property
    def paused_for(self) -> float:
        return max(0.0, self._resume_at - self._clock())

    async def wait_turn(self) -> None:
        while (delay := self.paused_for) > 0:
            await asyncio.sleep(delay + random.uniform(0, min(MAX_SPREAD, delay * SPREAD_SHARE)))
