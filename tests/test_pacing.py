from __future__ import annotations

import asyncio
import time

import pytest

from batch_sms.close.client import CloseAPIError, RateLimit, request_leaving
from batch_sms.close.paced import note_refusal
from batch_sms.close.pacing import Halted, Pacer, RateCap, parse_rate_cap
from tests.simulation import VirtualClockLoop, run_virtual


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_pause_keeps_the_longest_one_asked_for() -> None:
    clock = FakeClock()
    pacer = Pacer(clock=clock)
    pacer.pause(2.0)
    pacer.pause(0.5)
    assert pacer.paused_for == 2.0
    clock.now += 1.5
    assert pacer.paused_for == 0.5
    clock.now += 1.0
    assert pacer.paused_for == 0


async def start_times(pacer: Pacer, requests: int, workers: int, hold: float = 0.0) -> list[float]:
    """Start `requests` through the pacer from `workers` tasks; when each one started."""
    started: list[float] = []
    queue = list(range(requests))

    async def worker() -> None:
        while queue:
            queue.pop()
            async with pacer.turn():
                started.append(time.monotonic())
                await asyncio.sleep(hold)

    await asyncio.gather(*(worker() for _ in range(workers)))
    return sorted(started)


async def cancel(*tasks: asyncio.Future[None]) -> None:
    """Stop requests still in flight at the end of a test."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def most_in_any_window(times: list[float], window: float) -> int:
    return max(sum(1 for t in times if start <= t < start + window) for start in times)


def test_the_cap_holds_over_several_short_windows() -> None:
    pacer = Pacer(max_in_flight=8, cap=RateCap(5, 0.1))
    times = asyncio.run(start_times(pacer, 23, workers=8))
    assert most_in_any_window(times, 0.1) <= 5
    # 23 starts at 5 per 0.1 s need four more windows after the first.
    assert times[-1] - times[0] >= 0.4


def test_remaining_spent_holds_new_requests_until_reset() -> None:
    async def main() -> list[float]:
        pacer = Pacer(max_in_flight=4)
        async with pacer.turn() as ticket:
            pacer.observe(RateLimit(limit=3, remaining=0, reset=0.2), ticket)
        return await start_times(pacer, 2, workers=2)

    started = time.monotonic()
    times = asyncio.run(main())
    assert times[0] - started >= 0.2


def test_requests_sent_after_an_answer_spend_its_remaining() -> None:
    async def main() -> float:
        pacer = Pacer(max_in_flight=4)
        async with pacer.turn() as first, pacer.turn(), pacer.turn():
            # Two requests left the client after `first`: they use up the 2 remaining.
            pacer.observe(RateLimit(limit=10, remaining=2, reset=0.15), first)
        before = time.monotonic()
        async with pacer.turn():
            return time.monotonic() - before

    assert asyncio.run(main()) >= 0.15


def test_an_older_answer_does_not_undo_a_fresher_one() -> None:
    async def main() -> float:
        pacer = Pacer(max_in_flight=4)
        async with pacer.turn() as older:
            async with pacer.turn() as newer:
                pacer.observe(RateLimit(limit=10, remaining=0, reset=0.15), newer)
            pacer.observe(RateLimit(limit=10, remaining=5, reset=0.15), older)
        before = time.monotonic()
        async with pacer.turn():
            return time.monotonic() - before

    assert asyncio.run(main()) >= 0.14


def test_congestion_halves_the_requests_in_flight_once_per_burst() -> None:
    clock = FakeClock()
    pacer = Pacer(max_in_flight=8, clock=clock)
    pacer.congested()
    pacer.congested()  # the same burst: halved once
    assert pacer.in_flight_limit == 4
    clock.now += 1.0
    pacer.congested()
    assert pacer.in_flight_limit == 2


def test_a_lone_429_under_a_budget_the_headers_announce_pauses_but_keeps_the_limit() -> None:
    async def main() -> tuple[int, int]:
        clock = FakeClock()
        pacer = Pacer(max_in_flight=8, clock=clock)
        async with pacer.turn(group="PUT") as ticket:
            pass
        pacer.observe(RateLimit(limit=10, remaining=0, reset=0.5), ticket)
        before = pacer.in_flight_limit
        pacer.congested(rate_limited=ticket)
        assert before == 7  # 8, less one: far above what 20/s needs
        clock.now += 2.0
        pacer.congested(rate_limited=ticket)  # 2 in 10 s at 20/s: 1% of what the pace allows
        kept = pacer.in_flight_limit
        clock.now += 2.0
        pacer.congested()  # a 503 halves it whatever the budget
        return kept, pacer.in_flight_limit

    assert asyncio.run(main()) == (7, 3)


def test_a_429_without_a_budget_halves_the_limit_at_once() -> None:
    async def main() -> int:
        pacer = Pacer(max_in_flight=8, clock=FakeClock())
        async with pacer.turn(group="PUT") as ticket:
            pass
        pacer.observe(None, ticket)  # no RateLimit header
        pacer.congested(rate_limited=ticket)
        return pacer.in_flight_limit

    assert asyncio.run(main()) == 4


def test_a_429s_reset_counts_from_when_the_request_left_not_from_its_answer() -> None:
    async def main(loop: VirtualClockLoop) -> float:
        pacer = Pacer(clock=loop.time)
        async with pacer.turn() as ticket:
            leaving = request_leaving.get()
            assert leaving is not None
            leaving(False)
            await asyncio.sleep(0.6)  # a slow answer
            header = RateLimit(limit=10, remaining=0, reset=0.4)
            note_refusal(pacer, ticket, CloseAPIError(429, "too many", 0.4, header))
        async with pacer.turn():
            return loop.time()

    # The window ended at 0.4 s, before the answer came: nothing to wait for.
    assert run_virtual(main) == pytest.approx(0.6)


def test_a_retry_after_without_a_header_counts_from_the_answer() -> None:
    async def main(loop: VirtualClockLoop) -> float:
        pacer = Pacer(clock=loop.time)
        async with pacer.turn() as ticket:
            await asyncio.sleep(0.6)
            note_refusal(pacer, ticket, CloseAPIError(429, "too many", 1.0, None))
        async with pacer.turn():
            return loop.time()

    assert run_virtual(main) == pytest.approx(1.6)


def test_fewer_requests_fly_while_congested() -> None:
    async def main() -> int:
        pacer = Pacer(max_in_flight=8)
        pacer.congested()
        flying = 0
        most = 0

        async def one() -> None:
            nonlocal flying, most
            async with pacer.turn():
                flying += 1
                most = max(most, flying)
                await asyncio.sleep(0.01)
                flying -= 1

        await asyncio.gather(*(one() for _ in range(20)))
        return most

    assert asyncio.run(main()) == 4


def test_a_halted_wait_never_starts_its_request() -> None:
    async def main() -> None:
        pacer = Pacer()
        pacer.pause(5.0)
        halt = asyncio.Event()
        asyncio.get_running_loop().call_later(0.05, halt.set)
        with pytest.raises(Halted):
            async with pacer.turn(halt):
                raise AssertionError("started")

    started = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize(
    ("value", "cap"), [("40/1", RateCap(40, 1.0)), ("5/0.5", RateCap(5, 0.5)), ("7", RateCap(7, 1))]
)
def test_rate_caps_parse(value: str, cap: RateCap) -> None:
    assert parse_rate_cap(value) == cap


@pytest.mark.parametrize("value", ["", "x/1", "0/1", "5/0", "5/-1", "5/x"])
def test_bad_rate_caps_say_what_is_expected(value: str) -> None:
    with pytest.raises(ValueError, match="is not N/SECONDS, like 40/1"):
        parse_rate_cap(value)


def test_a_budget_that_looks_spent_waits_for_the_answers_in_flight_not_the_reset() -> None:
    async def main() -> float:
        pacer = Pacer(max_in_flight=4)
        first = pacer.turn()
        second = pacer.turn()
        ticket = await first.__aenter__()
        later = await second.__aenter__()
        # Counting `later` as unseen by Close, nothing is left: wait for its answer.
        pacer.observe(RateLimit(limit=10, remaining=1, reset=0.5), ticket)
        await first.__aexit__(None, None, None)
        waiting = asyncio.create_task(start_times(pacer, 1, workers=1))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        before = time.monotonic()
        # Its answer shows that Close had seen it: room for more, no need to wait for reset.
        pacer.observe(RateLimit(limit=10, remaining=5, reset=0.45), later)
        await second.__aexit__(None, None, None)
        await waiting
        return time.monotonic() - before

    assert asyncio.run(main()) < 0.2


def test_each_endpoint_group_has_its_own_budget() -> None:
    async def main() -> float:
        pacer = Pacer(max_in_flight=4)
        async with pacer.turn(group="PUT") as put:
            pacer.observe(RateLimit(limit=10, remaining=0, reset=0.3), put)
        async with pacer.turn(group="GET") as get:
            # The list endpoint has room; that says nothing of the PUTs' window.
            pacer.observe(RateLimit(limit=10, remaining=9, reset=0.3), get)
        before = time.monotonic()
        async with pacer.turn(group="PUT"):
            return time.monotonic() - before

    assert asyncio.run(main()) >= 0.25


# --- On a simulated clock: the gate, the windows, when requests leave --------------------------


def test_a_freed_place_wakes_one_waiter_so_a_start_costs_the_same_however_many_wait() -> None:
    def cpu_per_start(waiting: int) -> float:
        async def main(loop: VirtualClockLoop) -> None:
            pacer = Pacer(max_in_flight=4, clock=loop.time)
            queue = list(range(2000))

            async def worker() -> None:
                while queue:
                    queue.pop()
                    async with pacer.turn():
                        await asyncio.sleep(0.01)

            await asyncio.gather(*(worker() for _ in range(waiting)))

        started = time.process_time()
        run_virtual(main)
        return (time.process_time() - started) / 2000

    # A stampede (every waiter woken by every freed place) would cost 100 times more.
    assert cpu_per_start(1000) < 3 * cpu_per_start(10) + 0.0002


def test_waiters_start_in_the_order_they_came() -> None:
    async def main(loop: VirtualClockLoop) -> list[int]:
        pacer = Pacer(max_in_flight=1, clock=loop.time)
        order: list[int] = []

        async def one(number: int) -> None:
            await asyncio.sleep(number * 0.001)  # arrive in order
            async with pacer.turn():
                order.append(number)
                await asyncio.sleep(0.1)

        await asyncio.gather(*(one(n) for n in range(20)))
        return order

    assert run_virtual(main) == list(range(20))


def test_a_new_window_opens_with_the_whole_limit_before_any_answer_tells_of_it() -> None:
    async def main(loop: VirtualClockLoop) -> list[float]:
        pacer = Pacer(clock=loop.time, initial=64)
        async with pacer.turn() as ticket:
            pacer.observe(RateLimit(limit=30, remaining=0, reset=0.5), ticket)
        started: list[float] = []

        async def one() -> None:
            async with pacer.turn():
                started.append(loop.time())
                await asyncio.sleep(2.0)  # no answer before the window after next

        await asyncio.gather(*(one() for _ in range(40)))
        return started

    started = run_virtual(main)
    # The window that the answer told of ends at 0.5 s: the next one's 30 start at once, and
    # the last 10 as the one after opens.
    assert started == [pytest.approx(0.505)] * 30 + [pytest.approx(1.01)] * 10


def test_the_end_of_a_window_counts_from_when_the_request_left_not_when_it_could() -> None:
    async def main(loop: VirtualClockLoop) -> float:
        pacer = Pacer(clock=loop.time)
        async with pacer.turn() as ticket:
            await asyncio.sleep(0.3)  # a slow connection
            leaving = request_leaving.get()
            assert leaving is not None
            leaving(False)
            await asyncio.sleep(0.1)
            pacer.observe(RateLimit(limit=10, remaining=0, reset=1.0), ticket)
        async with pacer.turn():
            return loop.time()

    # Close counted it at 0.3 s: its window ends at 1.3 s, not at 1.0 s.
    assert run_virtual(main) == pytest.approx(1.305, abs=0.001)


def test_answers_read_late_do_not_end_a_window_before_its_opener_put_it() -> None:
    """A server busy with a burst reads its requests late, so each answer's `reset` puts the
    window's end early; the opener went alone and was read at once."""

    async def main(loop: VirtualClockLoop) -> float:
        pacer = Pacer(clock=loop.time, initial=64)
        async with pacer.turn() as ticket:
            pacer.observe(RateLimit(limit=10, remaining=0, reset=1.0), ticket)
        window_ends = 0.0

        async def one() -> None:
            nonlocal window_ends
            async with pacer.turn() as ticket:
                leaving = request_leaving.get()
                assert leaving is not None
                leaving(False)
                left = loop.time()
                opener = not window_ends
                window_ends = window_ends or left + 1.0
                read = left if opener else left + 0.06
                await asyncio.sleep(0.1)
                pacer.observe(RateLimit(limit=10, remaining=0, reset=window_ends - read), ticket)

        await asyncio.gather(*(one() for _ in range(10)))
        async with pacer.turn():
            return loop.time() - window_ends

    # Nine answers of ten say the window ends 60 ms early: the next starts after it has ended.
    assert run_virtual(main) == pytest.approx(0.005, abs=0.001)


def test_requests_that_leave_after_a_window_ends_spend_the_next_ones_budget() -> None:
    async def main(loop: VirtualClockLoop) -> int:
        pacer = Pacer(clock=loop.time, initial=64)
        async with pacer.turn() as first:
            leaving = request_leaving.get()
            assert leaving is not None
            leaving(False)  # the transport says when requests leave
            pacer.observe(RateLimit(limit=20, remaining=19, reset=0.2), first)
        started = 0

        async def late() -> None:
            nonlocal started
            async with pacer.turn():
                started += 1
                await asyncio.sleep(0.3)  # on a fresh connection: leaves after the window
                leaving = request_leaving.get()
                assert leaving is not None
                leaving(False)
                await asyncio.sleep(5.0)

        tasks = [asyncio.ensure_future(late()) for _ in range(10)]
        await asyncio.sleep(0.5)
        # The window rolled over at 0.2 s, and the 10 left in the next one: 10 remain.
        more = [asyncio.ensure_future(late()) for _ in range(30)]
        await asyncio.sleep(0.1)
        counted = started
        await cancel(*tasks, *more)
        return counted

    assert run_virtual(main) == 10 + 10


def test_a_halted_waiter_passes_its_place_on() -> None:
    async def main(loop: VirtualClockLoop) -> list[str]:
        pacer = Pacer(max_in_flight=1, clock=loop.time)
        halt = asyncio.Event()
        events: list[str] = []

        async def holder() -> None:
            async with pacer.turn():
                await asyncio.sleep(1.0)

        async def halted() -> None:
            try:
                async with pacer.turn(halt):
                    events.append("halted one started")
            except Halted:
                events.append("halted")

        async def patient() -> None:
            async with pacer.turn():
                events.append(f"patient at {loop.time():.1f}")

        running = asyncio.ensure_future(holder())
        await asyncio.sleep(0.1)
        waiting = [asyncio.ensure_future(halted()), asyncio.ensure_future(patient())]
        await asyncio.sleep(0.1)
        halt.set()
        await asyncio.gather(running, *waiting)
        return events

    assert run_virtual(main) == ["halted", "patient at 1.0"]


def test_no_growth_for_an_endpoint_before_its_own_first_answer() -> None:
    """A list read's answer tells the answer time, not whether the PUTs have a tight budget:
    the first PUTs stay at the 16 that no limit Close sets can refuse."""

    async def main(loop: VirtualClockLoop) -> int:
        pacer = Pacer(clock=loop.time)
        async with pacer.turn(group="GET list") as read:
            await asyncio.sleep(0.3)
            pacer.observe(None, read)  # a list answer carries no budget for the PUTs
        started = 0

        async def put() -> None:
            nonlocal started
            async with pacer.turn(group="PUT one"):
                started += 1
                await asyncio.sleep(1.0)

        tasks = [asyncio.ensure_future(put()) for _ in range(40)]
        await asyncio.sleep(0.5)  # no PUT answered yet
        counted = started
        await asyncio.gather(*tasks)
        return counted

    assert run_virtual(main) == 16


def test_a_request_on_a_fresh_connection_counts_as_leaving_later_than_it_did() -> None:
    """The server may accept a new connection late: a request on it can reach Close after one
    that left a little later on an open connection, whose `remaining` then does not count it."""

    async def main(loop: VirtualClockLoop) -> int:
        pacer = Pacer(clock=loop.time, initial=64)
        started = 0

        async def one(fresh: bool, answer: RateLimit | None = None) -> None:
            nonlocal started
            async with pacer.turn() as ticket:
                started += 1
                leaving = request_leaving.get()
                assert leaving is not None
                leaving(fresh)
                await asyncio.sleep(0.1 if answer else 5.0)
                if answer:
                    pacer.observe(answer, ticket)

        slow = [asyncio.ensure_future(one(fresh=True)) for _ in range(10)]
        await asyncio.sleep(0.01)
        # Left 10 ms after the 10, on an open connection, and arrived before them.
        await one(fresh=False, answer=RateLimit(limit=20, remaining=19, reset=1.0))
        more = [asyncio.ensure_future(one(fresh=False)) for _ in range(20)]
        await asyncio.sleep(0.1)
        counted = started
        await cancel(*slow, *more)
        return counted

    # 19 remaining, the 10 on fresh connections still to be counted: 9 more may start, not 19.
    assert run_virtual(main) == 10 + 1 + 9


def budget_left_after_a_burst(remaining: int) -> int:
    """A window of 10: 1 request, then 6 at once; one of the 6 is answered with `remaining`.
    How many of 10 more start before the window ends."""

    async def main(loop: VirtualClockLoop) -> int:
        pacer = Pacer(clock=loop.time, initial=32)

        def leave() -> None:
            leaving = request_leaving.get()
            assert leaving is not None
            leaving(False)

        async with pacer.turn() as first:
            leave()
            pacer.observe(RateLimit(limit=10, remaining=9, reset=1.0), first)
        answered = asyncio.Event()

        async def in_burst(number: int) -> None:
            async with pacer.turn() as ticket:
                leave()
                if number == 0:
                    await asyncio.sleep(0.4)
                    pacer.observe(RateLimit(limit=10, remaining=remaining, reset=1.0), ticket)
                    answered.set()
                    return
                await asyncio.sleep(5.0)

        started = 0

        async def more() -> None:
            nonlocal started
            await answered.wait()
            async with pacer.turn():
                started += 1
                leave()
                await asyncio.sleep(5.0)

        tasks = [asyncio.ensure_future(in_burst(n)) for n in range(6)]
        tasks += [asyncio.ensure_future(more()) for _ in range(10)]
        await asyncio.sleep(0.9)  # the window ends at 1.0
        counted = started
        await cancel(*tasks)
        return counted

    return run_virtual(main)


def test_a_burst_answered_early_leaves_the_rest_of_the_budget_to_spend() -> None:
    # Close counted 6 of the 7 sent when it answered: the 5 others of the burst left with it,
    # so each may be counted after it, but only 7 went: 3 more fit in the window. (Counting
    # every one of them as unseen, the window kept 1 to 3 of 16 unspent at 600 ms an answer.)
    assert budget_left_after_a_burst(remaining=4) == 3


def test_close_counting_more_than_the_run_sent_shows_another_spender_on_the_key() -> None:
    # Close counted 8, the run sent 7: someone else spends this key's budget. The budget is
    # what Close says less every request of the run that it may not have counted yet.
    assert budget_left_after_a_burst(remaining=2) == 0
