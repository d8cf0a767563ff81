"""One pacer shared by all workers: it decides when the next request may start.

Four things hold a request back, each for its own reason:
- a pause that a 429 imposes on the whole run at once, instead of each worker discovering it
  with a 429 of its own;
- the budget that Close's `RateLimit` header announces, per endpoint group as Close counts it:
  once `remaining` is spent by the requests started since, new requests wait for `reset`, and
  the next window opens with the whole `limit` to spend, so the run rides the limit instead of
  running into it;
- a cap the user sets (`--rate-limit N/SECONDS`), to leave room for other integrations that
  share the key;
- how many requests may be in flight, which `InFlightControl` (concurrency.py) adapts to the
  pace the budget or the cap allows and to how fast Close answers, up to `--concurrency`.

Requests wait in line, one line per endpoint group, and start in the order they came: each
freed place wakes one waiter, so the cost of a start does not grow with the number waiting.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from batch_sms.close.client import RateLimit, request_leaving
from batch_sms.close.concurrency import INITIAL, InFlightControl, Mark, Room

# The default ceiling on requests in flight: enough for 200 requests a second at 1 s an answer.
MAX_IN_FLIGHT = 256
# `reset` counts from when Close saw the request, which is about when it left here, not when
# its answer came back (at 1 s an answer, that is a whole window later). A new window is
# assumed open this long after the estimated end, for the spread in how long requests take to
# reach Close.
ROLLOVER_MARGIN = 0.005
# Two RateLimit headers whose resets point this close together describe the same window.
SAME_WINDOW = 0.05
# A request that left this shortly before another may still be counted after it, so the
# `remaining` of the other's answer may not count it yet: requests take separate connections,
# and a server counts them in the order its workers get to them (the sandbox's threads take
# turns on Python's lock; 5 ms earned 429s on it at 200/s, 50 ms left budget unused, 20 ms
# neither in the grid).
REORDER = 0.02
# A request on a connection it opened may reach the server later still: the server has to
# accept the connection first (the sandbox took up to 83 ms with 180 opened at once). Within a
# window it counts as not yet counted by Close until its answer comes; when a window ends, it
# is taken to have left this much later than it did.
FRESH_DELAY = 0.05
# A window that the pacer takes to be open is opened by one request alone; the rest of its
# budget goes once that one has left (or after this long). Let go together, a hundred requests
# take turns on the event loop, and the first leaves 15 ms later: lost from every window.
OPENER_WAIT = 0.05


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


@dataclass(frozen=True)
class Ticket:
    """A request that was allowed to start, and the endpoint group whose limit it spends."""

    number: int
    group: str
    started: float
    mark: Mark


@dataclass
class _Window:
    """What the `RateLimit` headers of one endpoint group tell: Close limits each group on
    its own, so a list request's `remaining` says nothing about the PUTs'."""

    limit: int | None = None
    length: float = 0.0  # the longest `reset` seen: the window's length, as far as it shows
    answered: bool = False  # an answer came from this group: whether it has a budget is known
    budget: int | None = None  # starts left in the current window; None: unknown
    ends: float = -math.inf  # the end of the current window
    # Once a window has ended by the clock, the next one is taken to be open, with the whole
    # limit to spend, before any answer tells of it (`rolled`). Close opens it with the first
    # request that reaches it, so it is taken to end `length` after the first one that left.
    rolled: bool = False
    anchored: bool = False  # a request has left since it rolled: `ends` counts from it
    # The end that the request which opened the window puts it at: answers may only move it
    # later. It went alone, so Close read it at once; the rest of a burst may be read tens of
    # milliseconds late, and each such answer puts the end that much early.
    floor: float = -math.inf
    opening: bool = False  # a request was let go alone to open it (see OPENER_WAIT)
    counted: _Counted | None = None  # the last request Close counted in the window, as known
    # Requests of this run in the current window, as the pacer counts them; None once an
    # answer shows a window the pacer did not see open.
    sent: int | None = 0
    # An answer showed Close counting more requests in a window than this run sent in it:
    # another integration spends the same key's budget (or the pacer misjudged a window). It
    # stays so for the rest of the run.
    shared: bool = False
    estimates: list[float] = field(default_factory=list)  # of its end, from its answers, sorted
    flying: list[tuple[float, int]] = field(default_factory=list)  # (started, number), in order
    # Requests in flight by when they left, which on fresh connections can be tens of
    # milliseconds after they started, and in another order; and those that have not left yet.
    gone: list[tuple[float, int]] = field(default_factory=list)
    fresh: list[tuple[float, int]] = field(default_factory=list)  # in `gone`: on new connections
    unsent: int = 0
    leaving: int = 0  # allowed to start, not yet started: Close counts them after all others


@dataclass(frozen=True)
class _Counted:
    """The request whose answer showed the least `remaining` in a window: the last one Close
    counted in it, as far as the answers so far tell."""

    remaining: int
    left: float


@dataclass(frozen=True, eq=False)
class _Waiter:
    order: int
    future: asyncio.Future[None]


class Pacer:
    def __init__(
        self,
        max_in_flight: int = MAX_IN_FLIGHT,
        cap: RateCap | None = None,
        clock: Callable[[], float] = time.monotonic,
        initial: int = INITIAL,
    ) -> None:
        self.max_in_flight = max_in_flight
        self.cap = cap
        self.control = InFlightControl(max_in_flight, initial)
        self._clock = clock
        self._resume_at = -math.inf
        self._starts: deque[float] = deque()
        self._windows: dict[str, _Window] = {}
        self._lines: dict[str, deque[_Waiter]] = {}
        self._order = itertools.count()
        self._tickets = itertools.count()
        self._flying = 0
        self._reserved = 0  # places given to waiters that have not yet taken off
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self._left_at: dict[int, float] = {}  # when requests in flight left (see FRESH_DELAY)
        # Whether the transport says when requests leave (httpx's own does; a MockTransport
        # does not, and then each request counts as gone when it starts). None: not known yet.
        self._traced: bool | None = None

    @property
    def in_flight_limit(self) -> int:
        """How many requests may be in flight now."""
        return min(self.control.limit, self.max_in_flight)

    @property
    def in_flight(self) -> int:
        return self._flying + self._reserved

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
        if halt is not None and halt.is_set():
            raise Halted
        window = self._windows.setdefault(group, _Window())
        if self._queued() or not self._may_start(window, self._clock()):
            await self._wait_in_line(window, group, halt)
        else:
            self._reserve(window, self._clock())
        ticket = self._take_off(window, group)
        leaving = request_leaving.set(lambda fresh: self._left(ticket, fresh))
        try:
            yield ticket
        finally:
            request_leaving.reset(leaving)
            self._land(window, ticket)

    def observe(self, rate_limit: RateLimit | None, ticket: Ticket) -> None:
        """Take in the answer to request `ticket` (whatever its status), and its `RateLimit`
        header if it has one."""
        window = self._windows[ticket.group]
        window.answered = True
        left = self._left_at.get(ticket.number)
        fresh = left is not None and _index_of(window.fresh, (left, ticket.number)) is not None
        if rate_limit is not None:
            self._learn(window, rate_limit, ticket, left, fresh)
        self.control.answered(ticket.mark, self._clock(), self._pace(window), left, fresh)
        self._release()

    def pause(self, seconds: float, counted_from: Ticket | None = None) -> None:
        """Hold every new request back for `seconds` (a 429 said so). `counted_from`: the
        request whose `RateLimit` header said it: Close counts `reset` from when it had the
        request, not from when the answer got here, a whole answer time later."""
        start = self._clock()
        if counted_from is not None:
            start = min(start, self._left_at.get(counted_from.number, counted_from.started))
        self._resume_at = max(self._resume_at, start + seconds)

    def congested(self, rate_limited: Ticket | None = None) -> None:
        """A 429 (to the request `rate_limited`) or a 503: fewer requests in flight for a
        while."""
        budgeted = rate_limited is not None and self._windows[rate_limited.group].limit is not None
        self.control.congested(self._clock(), self._fastest_pace(), within_budget=budgeted)

    # Waiting in line

    def _queued(self) -> bool:
        return any(self._lines.values())

    def _may_start(self, window: _Window, now: float) -> bool:
        return self.in_flight < self.in_flight_limit and self._delay(window, now) <= 0

    async def _wait_in_line(self, window: _Window, group: str, halt: asyncio.Event | None) -> None:
        waiter = _Waiter(next(self._order), asyncio.get_running_loop().create_future())
        line = self._lines.setdefault(group, deque())
        line.append(waiter)
        self._release()
        try:
            await _until(waiter.future, halt)
            if halt is not None and halt.is_set():
                raise Halted
        except BaseException:
            if waiter.future.done() and not waiter.future.cancelled():
                self._reserved -= 1  # its place was given and is not taken: pass it on
                window.leaving -= 1
                self._release()
            else:
                waiter.future.cancel()
                line.remove(waiter)
            raise

    def _release(self) -> None:
        """Let waiters start, oldest first, as far as the pause, the budgets, the cap and the
        in-flight limit allow; set a timer for the moment the first time-bound one may."""
        now = self._clock()
        wait = math.inf
        while True:
            ready: tuple[_Window, deque[_Waiter]] | None = None
            for group, line in self._lines.items():
                if not line:
                    continue
                window = self._windows[group]
                delay = self._delay(window, now)
                if delay > 0:
                    wait = min(wait, delay)
                elif ready is None or line[0].order < ready[1][0].order:
                    ready = (window, line)
            if ready is None:
                break
            window, line = ready
            if self.in_flight >= self.in_flight_limit:
                look_again = self._held(window, now)
                if self.in_flight >= self.in_flight_limit:
                    wait = min(wait, look_again)
                    break
            self._reserve(window, now)
            line.popleft().future.set_result(None)
        self._wake_in(wait)

    def _held(self, window: _Window, now: float) -> float:
        """Tell the controller; returns when to look again if nothing happens meanwhile."""
        if not window.answered:
            return math.inf  # its budget may be tight: the first answer will tell
        pace = self._pace(window)
        if pace is None:
            pace = self._fastest_pace()
        oldest = min((w.flying[0][0] for w in self._windows.values() if w.flying), default=now)
        room = None
        if window.budget is not None and window.ends > now:
            room = Room(window.budget, window.ends - now)
        look_again = self.control.held(now, pace, now - oldest, room)
        return math.inf if look_again is None else look_again

    def _wake_in(self, wait: float) -> None:
        if math.isinf(wait):
            return
        at = self._clock() + wait
        if self._timer is not None and self._timer_at <= at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = asyncio.get_running_loop().call_later(wait, self._on_timer)

    def _on_timer(self) -> None:
        self._timer, self._timer_at = None, math.inf
        self._release()

    # Starting and ending

    def _reserve(self, window: _Window, now: float) -> None:
        self._reserved += 1
        window.leaving += 1
        if window.rolled and not window.anchored and self._traced:
            window.opening = True
        if window.budget is not None:
            window.budget -= 1
        if window.sent is not None:
            window.sent += 1
        if self.cap is not None:
            self._starts.append(now)

    def _take_off(self, window: _Window, group: str) -> Ticket:
        # Timed when the request is about to leave, not when its place was given: in a burst,
        # the last of a hundred leaves a good while after the first.
        now = self._clock()
        self._reserved -= 1
        window.leaving -= 1
        self._flying += 1
        number = next(self._tickets)
        window.flying.append((now, number))
        window.unsent += 1
        ticket = Ticket(number, group, now, Mark(now, self._flying))
        if self._traced is False:
            self._gone(window, ticket.number, now)
        return ticket

    def _left(self, ticket: Ticket, fresh: bool) -> None:
        """The request is written whole (client.request_leaving); `fresh`: on a connection it
        opened."""
        self._traced = True
        if ticket.number not in self._left_at:
            now = self._clock() + (FRESH_DELAY if fresh else 0.0)
            window = self._windows[ticket.group]
            self._gone(window, ticket.number, now)
            if fresh:
                bisect.insort(window.fresh, (now, ticket.number))
            if window.rolled and not window.anchored and now >= window.ends - window.length:
                window.ends = window.floor = now + window.length
                window.anchored = True
                if window.opening:
                    self._release()  # the rest of the window's budget may go now

    def _gone(self, window: _Window, number: int, left: float) -> None:
        self._left_at[number] = left
        window.unsent -= 1
        bisect.insort(window.gone, (left, number))

    def _untraced(self) -> None:
        """The transport does not say when requests leave: take each to leave as it starts."""
        self._traced = False
        for window in self._windows.values():
            for started, number in window.flying:
                if number not in self._left_at:
                    self._gone(window, number, started)

    def _land(self, window: _Window, ticket: Ticket) -> None:
        if self._traced is None and ticket.number not in self._left_at:
            self._untraced()
        self._flying -= 1
        del window.flying[bisect.bisect_left(window.flying, (ticket.started, ticket.number))]
        left = self._left_at.pop(ticket.number, None)
        if left is None:
            window.unsent -= 1  # it never left: no connection, say
        else:
            del window.gone[bisect.bisect_left(window.gone, (left, ticket.number))]
            index = _index_of(window.fresh, (left, ticket.number))
            if index is not None:
                del window.fresh[index]
        self._release()

    # Budgets

    def _delay(self, window: _Window, now: float) -> float:
        """Seconds until the pause, the group's budget and the user's cap all allow a start."""
        delay = max(self._resume_at - now, self._window_delay(window, now))
        if self.cap is not None:
            while self._starts and self._starts[0] <= now - self.cap.seconds:
                self._starts.popleft()
            if len(self._starts) >= self.cap.requests:
                delay = max(delay, self._starts[0] + self.cap.seconds - now)
        return delay

    def _window_delay(self, window: _Window, now: float) -> float:
        if window.limit is None:
            return 0.0
        if now >= window.ends + ROLLOVER_MARGIN:
            self._roll_over(window, now)
        if window.budget is not None and window.budget <= 0:
            return window.ends + ROLLOVER_MARGIN - now
        if window.opening and window.rolled and not window.anchored:
            return max(0.0, window.ends - window.length + OPENER_WAIT - now)
        return 0.0

    def _roll_over(self, window: _Window, now: float) -> None:
        """The window has ended: the next is open with the whole limit to spend, less the
        requests that left since, without waiting for an answer to say so (at 1 s an answer,
        that would leave every other window idle)."""
        assert window.limit is not None
        window.sent = self._gone_since(window, window.ends)
        window.budget = window.limit - window.sent
        window.ends = now + window.length
        window.floor = -math.inf
        window.rolled = True
        window.anchored = False
        window.opening = False
        window.counted = None

    def _learn(
        self,
        window: _Window,
        rate_limit: RateLimit,
        ticket: Ticket,
        left: float | None,
        fresh: bool,
    ) -> None:
        """The budget left in the window the request landed in: the least `remaining` its
        answers showed, less the requests in flight that Close may not have counted then (those
        that left after that request, or just before it). Answers come back out of order, and
        each one that lands shows that its request was counted. `left`: when the request left,
        if the transport said; `fresh`: it went on a connection it opened."""
        window.limit = rate_limit.limit
        window.length = max(window.length, rate_limit.reset)
        # When a request left is known to within a turn of the event loop either way, and
        # Close may read it a little late: the window ends at the median of what its answers
        # say (the latest would be late by the slowest turn, the earliest early by the slowest
        # read), and not before the end its opener put it at (see `floor`).
        ends = (ticket.started if left is None else left) + rate_limit.reset
        near = SAME_WINDOW + rate_limit.reset / 10
        if ends < window.ends - near:
            return  # about a window that has ended
        if ends > window.ends + near:
            window.counted = None  # a window that opened before the pacer took it to
            window.floor = -math.inf
            if window.ends > -math.inf:  # not the first: which requests are in it is unknown
                window.sent = None
        if window.rolled or ends > window.ends + near:
            window.rolled = False  # what Close says beats a guess
            window.estimates.clear()
        bisect.insort(window.estimates, ends)
        window.ends = max(window.floor, window.estimates[len(window.estimates) // 2])
        if window.counted is None or rate_limit.remaining < window.counted.remaining:
            counted_left = ticket.started if left is None else left
            window.counted = _Counted(rate_limit.remaining, counted_left)
        counted = window.counted
        moment = counted.left - REORDER
        # Requests on new connections count as uncounted for FRESH_DELAY longer: the server
        # may have accepted their connections that much later still. Not for longer: at 1 s
        # an answer, each growth of the limit holds a window's worth of them in flight.
        since = moment - FRESH_DELAY
        fresh_before = bisect.bisect_left(window.fresh, (moment, -1))
        fresh_before -= bisect.bisect_left(window.fresh, (since, -1))
        uncounted = self._gone_since(window, counted.left) + fresh_before
        if left is None or left >= moment or (fresh and left >= since):
            uncounted -= 1  # this request, answered: counted
        window.budget = counted.remaining - uncounted
        unspent = self._unspent_by_run(window, counted)
        if unspent is not None:
            window.budget = max(window.budget, unspent)

    def _unspent_by_run(self, window: _Window, counted: _Counted) -> int | None:
        """What this run has not spent of the window's limit, while nothing shows another
        spender on the key; None once something does, or the run's count is not known.

        In a burst, every request left within REORDER of the others, so each one that Close
        counted before the answered one is taken as uncounted too: at 16 a window and 600 ms
        an answer, the first answers left 1 or 2 of the budget unspent in 1 window of 3. While
        only this run spends the key, Close counts no more than it sent."""
        assert window.limit is not None
        if window.sent is None or window.shared:
            return None
        later = self._gone_since(window, counted.left + 2 * REORDER)
        window.shared = window.limit - counted.remaining > window.sent - later
        return None if window.shared else window.limit - window.sent

    def _gone_since(self, window: _Window, moment: float) -> int:
        """Requests in flight or about to be that may reach Close after `moment`: those that
        left after it (or just before it), and those that have not left yet."""
        later = len(window.gone) - bisect.bisect_left(window.gone, (moment - REORDER, -1))
        return later + window.unsent + window.leaving

    def _fastest_pace(self) -> float | None:
        """The fastest pace any endpoint group's budget or the cap allows; None if none known."""
        known = [pace for w in self._windows.values() if (pace := self._pace(w)) is not None]
        return max(known, default=None)

    def _pace(self, window: _Window) -> float | None:
        """Requests a second that the group's budget and the user's cap allow; None when
        neither is known."""
        paces = []
        if window.limit is not None and window.length > 0:
            paces.append(window.limit / window.length)
        if self.cap is not None:
            paces.append(self.cap.requests / self.cap.seconds)
        return min(paces, default=None)


def _index_of(ordered: list[tuple[float, int]], item: tuple[float, int]) -> int | None:
    """Where `item` is in the sorted list `ordered`, None when it is not there."""
    index = bisect.bisect_left(ordered, item)
    return index if ordered[index : index + 1] == [item] else None


async def _until(future: asyncio.Future[None], halt: asyncio.Event | None) -> None:
    """Wait for `future`, or until `halt` is set."""
    if halt is None:
        await future
        return
    halted = asyncio.ensure_future(halt.wait())
    try:
        await asyncio.wait((future, halted), return_when=asyncio.FIRST_COMPLETED)
    finally:
        halted.cancel()
