"""One pacer shared by all workers: it decides when the next request may start.

Four things hold a request back, each for its own reason:
- a pause that a 429 (or an exhausted `RateLimit` window) imposes on the whole run at once,
  instead of each worker discovering it with a 429 of its own;
- the budget that Close's `RateLimit` header announces, per endpoint group as Close counts it:
  once `remaining` is spent by the requests started since (those still in flight included),
  new requests wait for the answers in flight, then for `reset`, so the run rides the limit
  instead of running into it;
- a cap the user sets (`--rate-limit N/SECONDS`), to leave room for other integrations that
  share the key;
- how many requests may be in flight: halved while 429s or 503s keep coming, grown back by one
  per round of successes when they stop (additive increase, multiplicative decrease).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from batch_sms.close.client import RateLimit

# Workers resuming after a 429's pause spread over this share of the pause (at most MAX_SPREAD
# seconds), so that they do not all hit the API in the same instant. Waiting for a window to
# reset, they spread much less: the in-flight limit already staggers them, and every
# millisecond of spread is a share of the limit left unused.
SPREAD_SHARE = 0.1
MAX_SPREAD = 0.25
WINDOW_SPREAD = 0.01
# Congestion halves the requests in flight at most once per this many seconds: the 429s of
# requests that were already in flight together are one signal, not several.
SLOW_DOWN_EVERY = 1.0
# Two RateLimit headers whose resets fall this close together describe the same window.
SAME_WINDOW = 0.05


@dataclass(frozen=True)
class RateCap:
    """At most `requests` starts in any window of `seconds`."""

    requests: int
    seconds: float

    def __post_init__(self) -> None:
        if self.requests < 1 or self.seconds <= 0:
            raise ValueError("a rate cap needs at least 1 request per a positive number of seconds")


def parse_rate_cap(value: str) -> RateCap:
    """`40/1` -> 40 requests per 1 second; `100/10` -> 100 per 10 seconds. ValueError with a
    message for the user otherwise."""
    count, _, seconds = value.partition("/")
    try:
        return RateCap(int(count), float(seconds or "1"))
    except ValueError:
        raise ValueError(f"'{value}' is not N/SECONDS, like 40/1") from None


class Halted(Exception):
    """The run stopped while a request waited for its turn: it never started."""


async def sleep_unless(halt: asyncio.Event, seconds: float) -> None:
    """Sleep for `seconds`, or until `halt` is set."""
    try:
        await asyncio.wait_for(halt.wait(), timeout=seconds)
    except TimeoutError:
        pass


async def _first_of(*waits: Coroutine[Any, Any, Any]) -> None:
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


@dataclass(frozen=True)
class Ticket:
    """A request that was allowed to start, and the endpoint group whose limit it spends."""

    number: int
    group: str


@dataclass
class _Window:
    """What the `RateLimit` headers of one endpoint group tell: Close limits each group on
    its own, so a list request's `remaining` says nothing about the PUTs'."""

    budget: int | None = None
    ends: float = 0.0
    freshest: int = -1
    flying: set[int] = field(default_factory=set)


class Pacer:
    def __init__(
        self,
        max_in_flight: int = 8,
        cap: RateCap | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_in_flight = max_in_flight
        self.cap = cap
        self._clock = clock
        self._resume_at = 0.0
        self._allowed = max_in_flight
        self._successes = 0
        self._last_slow_down = -SLOW_DOWN_EVERY
        self._starts: deque[float] = deque()
        self._windows: dict[str, _Window] = {}
        self._slot_freed = asyncio.Event()
        self._tickets = itertools.count()
        self._flying: set[int] = set()

    @property
    def in_flight_limit(self) -> int:
        """How many requests may be in flight now."""
        return self._allowed

    @property
    def paused_for(self) -> float:
        return max(0.0, self._resume_at - self._clock())

    @asynccontextmanager
    async def turn(
        self, halt: asyncio.Event | None = None, group: str = ""
    ) -> AsyncIterator[Ticket]:
        """Wait until a request to endpoint `group` may start, and hold its place in flight
        until it ends. Yields its ticket, which `observe` takes with the answer's header.
        Raises Halted if `halt` is set before the request could start."""
        window = self._windows.setdefault(group, _Window())
        await self._wait_for_start(halt or asyncio.Event(), window)
        ticket = Ticket(next(self._tickets), group)
        self._flying.add(ticket.number)
        window.flying.add(ticket.number)
        self._starts.append(self._clock())
        if window.budget is not None:
            window.budget -= 1
        try:
            yield ticket
        finally:
            self._flying.discard(ticket.number)
            window.flying.discard(ticket.number)
            self._slot_freed.set()

    async def _wait_for_start(self, halt: asyncio.Event, window: _Window) -> None:
        while not halt.is_set():
            delay = self._delay(window)
            if delay > 0:
                most = MAX_SPREAD if self.paused_for >= delay else WINDOW_SPREAD
                spread = random.uniform(0, min(most, delay * SPREAD_SHARE))
                await sleep_unless(halt, delay + spread)
            elif len(self._flying) >= self.in_flight_limit or _spent_pending_answers(window):
                self._slot_freed.clear()
                await _first_of(halt.wait(), self._slot_freed.wait())
            else:
                return
        raise Halted

    def _delay(self, window: _Window) -> float:
        """Seconds until the pause, the group's budget and the user's cap all allow a start."""
        now = self._clock()
        delay = self._resume_at - now
        if window.budget is not None and window.budget <= 0 and not window.flying:
            if now < window.ends:
                delay = max(delay, window.ends - now)
            else:
                # A new window: its budget is unknown until the next answer tells it.
                window.budget = None
        if self.cap is not None:
            while self._starts and self._starts[0] <= now - self.cap.seconds:
                self._starts.popleft()
            if len(self._starts) >= self.cap.requests:
                delay = max(delay, self._starts[0] + self.cap.seconds - now)
        return delay

    def observe(self, rate_limit: RateLimit | None, ticket: Ticket) -> None:
        """Take in the `RateLimit` header of the answer to request `ticket`. The other requests
        in flight may or may not have reached Close before it answered (on separate
        connections, a later one can arrive first), so each counts as still to spend the
        `remaining`: a lower bound, which grows exact as they answer. Answers arrive out of
        order, so in one window only the answer to the latest request counts."""
        if rate_limit is None:
            return
        window = self._windows[ticket.group]
        ends = self._clock() + rate_limit.reset
        new_window = ends > window.ends + SAME_WINDOW + rate_limit.reset / 10
        if not new_window and ticket.number < window.freshest:
            return
        window.budget = rate_limit.remaining - (len(window.flying) - 1)
        window.ends = ends
        window.freshest = ticket.number

    def pause(self, seconds: float) -> None:
        """Hold every new request back for `seconds` (a 429 said so)."""
        self._resume_at = max(self._resume_at, self._clock() + seconds)

    def congested(self) -> None:
        """A 429 or a 503: fewer requests in flight, halved at most once per second."""
        now = self._clock()
        if now - self._last_slow_down >= SLOW_DOWN_EVERY:
            self._last_slow_down = now
            self._allowed = max(1, self._allowed // 2)
            self._successes = 0

    def succeeded(self) -> None:
        """A request went through: one more in flight after a round of successes."""
        if self._allowed < self.max_in_flight:
            self._successes += 1
            if self._successes >= self._allowed:
                self._allowed += 1
                self._successes = 0


def _spent_pending_answers(window: _Window) -> bool:
    """The budget looks spent, but answers still to come will tell how much is left: the
    estimate counts every request in flight as not yet seen by Close."""
    return window.budget is not None and window.budget <= 0 and bool(window.flying)
