"""The connection pool: same behaviour as httpcore's, without its cost per connection."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpcore
import httpx
import pytest

from batch_sms.close.pool import _LinearPool, pooled_transport
from batch_sms.sandbox.server import Sandbox, SandboxOptions

KEY = ("sandbox_api_key", "")


def test_httpx_transport_gets_the_linear_pool_with_the_httpcore_it_was_written_for() -> None:
    transport = pooled_transport(32)
    pool = transport._pool  # type: ignore[attr-defined]
    assert isinstance(pool, _LinearPool) == httpcore.__version__.startswith("1.0.")
    assert pool._max_connections == pool._max_keepalive_connections == 32


async def _requests(
    base_url: str, transport: httpx.AsyncBaseTransport, warm: int, requests: int
) -> float:
    """`warm` concurrent GETs to open as many connections, then `requests` more, 16 at a time
    (most connections idle meanwhile). Returns the CPU seconds per request of the latter; every
    answer must be a 200."""
    async with httpx.AsyncClient(base_url=base_url, auth=KEY, transport=transport) as client:

        async def get(numbers: range) -> list[int]:
            return [(await client.get(f"activity/sms/acti_{n}/")).status_code for n in numbers]

        warmed = await asyncio.gather(*(get(range(n, n + 1)) for n in range(warm)))
        opened.append(len(transport._pool.connections))  # type: ignore[attr-defined]
        started = time.process_time()
        codes = await asyncio.gather(*(get(range(n, requests, 16)) for n in range(16)))
        spent = time.process_time() - started
    assert {code for batch in (*warmed, *codes) for code in batch} == {200}
    return spent / requests


opened: list[int] = []


def test_connections_are_reused_up_to_the_limit_and_requests_beyond_it_wait() -> None:
    with Sandbox(SandboxOptions(any_id=True, latency_ms=20)) as sandbox:
        opened.clear()
        asyncio.run(_requests(sandbox.base_url, pooled_transport(16), 100, 32))
        assert sandbox.stats().peak_in_flight <= 16
        assert opened == [16]


def test_cpu_per_request_does_not_grow_with_the_number_of_connections() -> None:
    with Sandbox(SandboxOptions(any_id=True, latency_ms=20, keep_log=False)) as sandbox:
        few = asyncio.run(_requests(sandbox.base_url, pooled_transport(256), 16, 320))
        many = asyncio.run(_requests(sandbox.base_url, pooled_transport(256), 256, 320))
    # httpcore's own pool costs 10 times more with 256 connections open than with 16.
    assert many < 2 * few + 0.0005


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    with Sandbox(SandboxOptions(any_id=True)) as sandbox:

        async def main() -> list[int]:
            transport = pooled_transport(4)
            async with httpx.AsyncClient(
                base_url=sandbox.base_url, auth=KEY, transport=transport
            ) as client:
                first = await client.get("activity/sms/acti_1/")
                sandbox.stop()  # closes the idle keep-alive connection
                sandbox.start()
                await asyncio.sleep(0.05)
                second = await client.get(sandbox.base_url + "activity/sms/acti_2/")
                return [first.status_code, second.status_code]

        assert asyncio.run(main()) == [200, 200]


def test_a_connection_handed_to_a_request_is_not_handed_to_another_before_it_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """httpcore hands one idle connection to every request waiting at that moment; all but
    one then fail and go round again: ten passes per request in a burst of a hundred."""
    passes = 0
    assign = _LinearPool._assign_requests_to_connections

    def counted(pool: _LinearPool) -> list[Any]:
        nonlocal passes
        passes += 1
        return assign(pool)

    monkeypatch.setattr(_LinearPool, "_assign_requests_to_connections", counted)
    with Sandbox(SandboxOptions(any_id=True, latency_ms=5, keep_log=False)) as sandbox:

        async def burst() -> None:
            transport = pooled_transport(256)
            async with httpx.AsyncClient(
                base_url=sandbox.base_url, auth=KEY, transport=transport
            ) as client:
                for _ in range(3):  # the connections opened by the first burst are reused
                    answers = await asyncio.gather(
                        *(client.get(f"activity/sms/acti_{n}/") for n in range(100))
                    )
                    assert {answer.status_code for answer in answers} == {200}

        asyncio.run(burst())
    assert passes <= 3 * 300  # a request coming in, its answer read, now and then a retry
