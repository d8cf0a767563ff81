"""A run against a simulated Close on a simulated clock: seconds of traffic in milliseconds.

`VirtualClockLoop` is an asyncio loop whose clock jumps to the next timer instead of waiting for
it, so `asyncio.sleep(0.8)` costs nothing and the same seed gives the same run every time.
`SimulatedClose` answers like the sandbox: fixed windows per endpoint group that open with the
first request after the last one ended, a `RateLimit` header on every answer, 429s past the
limit, answer times drawn log-normally around a mean that may change mid-run. `simulate` drives
the real `Pacer` the way the sender does: `turn`, `observe`, `succeeded` or `congested` and
`pause`, and a 429 retried after the shared pause.
"""

from __future__ import annotations

import asyncio
import math
import random
import selectors
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from batch_sms.close.client import RateLimit, request_leaving
from batch_sms.close.pacing import Pacer, RateCap

T = TypeVar("T")

STRAY_EDGE = 0.02  # how far past a window's end a stray 429 may come


class _NoWaitSelector(selectors.DefaultSelector):
    """Polls instead of blocking, and moves the loop's clock on by the time it would block."""

    def __init__(self, loop: VirtualClockLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[Any]:
        events = super().select(0)
        if not events:
            if timeout is None:
                raise RuntimeError("the simulation waits for nothing that will ever happen")
            self._loop.now += timeout
        return events


class VirtualClockLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self.now = 0.0
        super().__init__(_NoWaitSelector(self))

    def time(self) -> float:
        return self.now


def run_virtual(main: Callable[[VirtualClockLoop], Coroutine[Any, Any, T]]) -> T:
    loop = VirtualClockLoop()
    try:
        return loop.run_until_complete(main(loop))
    finally:
        loop.close()


@dataclass(frozen=True)
class Latency:
    """Mean answer time in seconds, changing at `steps` (seconds after the start, new mean)."""

    mean: float
    steps: tuple[tuple[float, float], ...] = ()
    spread: float = 0.5  # log-normal sigma: Close-like tails

    def at(self, elapsed: float) -> float:
        mean = self.mean
        for after, later in self.steps:
            if elapsed >= after:
                mean = later
        return mean

    def draw(self, elapsed: float, rng: random.Random) -> float:
        sigma = self.spread
        return self.at(elapsed) * (rng.lognormvariate(-sigma * sigma / 2, sigma) if sigma else 1)


@dataclass
class SimulatedClose:
    limit: int | None  # per window; None: no limit
    latency: Latency
    window: float = 1.0
    headers: bool = True  # False: no RateLimit header, 429s answer Retry-After only
    capacity: float | None = None  # answers per second it can give; beyond, requests queue
    # Seconds after the start from which the next request that opens a window is refused
    # instead, counted in the full window before it: a request read a little early, or
    # another's read a little late, as a real server's edges are.
    strays: tuple[float, ...] = ()
    seed: int = 1
    requests: int = 0
    rejected: int = 0
    arrivals: list[float] = field(default_factory=list)
    window_starts: list[float] = field(default_factory=list)
    _window_start: float = -math.inf
    _count: int = 0
    _busy_until: float = 0.0
    _rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def arrive(self, now: float, started: float) -> tuple[bool, RateLimit | None, float]:
        """Whether a request arriving at `now` is let through, the header of its answer, and
        the seconds until it is answered."""
        self.requests += 1
        self.arrivals.append(now)
        limit = self.limit or 1_000_000
        ended = self._window_start + self.window
        if self.strays and now - started >= self.strays[0] and ended <= now < ended + STRAY_EDGE:
            self.strays = self.strays[1:]
            self.rejected += 1
            delay = self.latency.draw(now - started, self._rng)
            return False, RateLimit(limit, 0, STRAY_EDGE) if self.headers else None, delay
        if now - self._window_start >= self.window:
            self._window_start, self._count = now, 0
            self.window_starts.append(now)
        self._count += 1
        allowed = self._count <= limit
        reset = self._window_start + self.window - now
        header = RateLimit(limit, max(limit - self._count, 0), round(reset, 3))
        if not allowed:
            self.rejected += 1
        delay = self.latency.draw(now - started, self._rng)
        if self.capacity is not None:
            # One server queue: each answer takes 1/capacity of its time, on top of the latency.
            self._busy_until = max(self._busy_until, now) + 1 / self.capacity
            delay += self._busy_until - now
        return allowed, header if self.headers else None, delay


@dataclass(frozen=True)
class Outcome:
    rows: int
    requests: int
    rejected: int
    first_at: float
    last_at: float
    peak_in_flight: int
    limits: tuple[tuple[float, int], ...]  # (time, in-flight limit) whenever it changed
    window: float
    limit: int | None
    last_window_at: float
    last_window_requests: int

    @property
    def share_of_limit(self) -> float:
        """Requests a second over the limit's, from the first request to one window after the
        last (the benchmark's measure: a run that fills every window it touches scores 1.0)."""
        assert self.limit is not None
        span = self.last_at - self.first_at + self.window
        return self.requests / span / (self.limit / self.window)

    @property
    def share_of_windows(self) -> float:
        """The same, with the last window counted for the share of its limit it was needed:
        the measure does not punish a last row that lands late in its window."""
        assert self.limit is not None
        used = self.last_window_requests / self.limit * self.window
        span = self.last_window_at - self.first_at + used
        return self.requests / span / (self.limit / self.window)

    @property
    def rejected_share(self) -> float:
        return self.rejected / self.requests


class _Done(Exception):
    pass


async def _drive(
    loop: VirtualClockLoop,
    server: SimulatedClose,
    rows: int,
    workers: int,
    pacer: Pacer,
    rejected_pause: float,
    traced: bool,
) -> Outcome:
    queue = list(range(rows))
    flying = 0
    peak = 0
    limits: list[tuple[float, int]] = [(loop.now, pacer.in_flight_limit)]
    start = loop.now

    async def send() -> None:
        nonlocal flying, peak
        while True:
            async with pacer.turn(group="PUT") as ticket:
                flying += 1
                peak = max(peak, flying)
                if traced and (leaving := request_leaving.get()) is not None:
                    leaving(False)  # as httpx's trace does when the request is written
                allowed, header, delay = server.arrive(loop.now, start)
                await asyncio.sleep(delay)
                flying -= 1
                pacer.observe(header, ticket)
                if not allowed:
                    pacer.congested(rate_limited=ticket)
                    wait = header.reset if header is not None else rejected_pause
                    pacer.pause(wait, counted_from=ticket if header is not None else None)
            if limits[-1][1] != pacer.in_flight_limit:
                limits.append((loop.now, pacer.in_flight_limit))
            if allowed:
                return

    async def worker() -> None:
        while queue:
            queue.pop()
            await send()

    await asyncio.gather(*(worker() for _ in range(workers)))
    arrivals = server.arrivals
    return Outcome(
        rows,
        server.requests,
        server.rejected,
        arrivals[0],
        arrivals[-1],
        peak,
        tuple(limits),
        server.window,
        server.limit,
        server.window_starts[-1],
        server._count,
    )


def simulate(
    server: SimulatedClose,
    rows: int,
    ceiling: int = 256,
    cap: RateCap | None = None,
    workers: int | None = None,
    rejected_pause: float = 1.0,
    traced: bool = True,
) -> Outcome:
    """Send `rows` requests to `server` through a fresh Pacer on a virtual clock. `traced`:
    the transport says when each request leaves, as httpx's does."""

    async def main(loop: VirtualClockLoop) -> Outcome:
        pacer = Pacer(ceiling, cap, clock=loop.time)
        workers_ = workers or ceiling
        return await _drive(loop, server, rows, workers_, pacer, rejected_pause, traced)

    return run_virtual(main)


def grid(
    limits: Sequence[int], latencies: Sequence[float], seconds: float = 12.0, **options: Any
) -> dict[tuple[int, float], Outcome]:
    """One simulated run per (limit, mean latency), `seconds` worth of rows each."""
    return {
        (limit, latency): simulate(
            SimulatedClose(limit, Latency(latency)), round(limit * seconds), **options
        )
        for limit in limits
        for latency in latencies
    }
