from __future__ import annotations

import asyncio
import time

import pytest

from batch_sms.close.client import RateLimit
from batch_sms.close.pacing import Halted, Pacer, RateCap, parse_rate_cap


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


def test_congestion_halves_the_requests_in_flight_and_successes_restore_them() -> None:
    clock = FakeClock()
    pacer = Pacer(max_in_flight=8, clock=clock)
    pacer.congested()
    pacer.congested()  # the same burst: halved once
    assert pacer.in_flight_limit == 4
    clock.now += 1.0
    pacer.congested()
    assert pacer.in_flight_limit == 2
    successes = 0
    while pacer.in_flight_limit < 8:
        pacer.succeeded()
        successes += 1
    # One more in flight per round of successes: 2 + 3 + 4 + 5 + 6 + 7 rounds' worth.
    assert successes == 2 + 3 + 4 + 5 + 6 + 7


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
