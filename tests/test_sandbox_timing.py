"""The sandbox's answer times (spread, steps), its header-less mode, and the stats the ride
benchmark reads: per endpoint group, its latest window, and the most requests in flight."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from batch_sms.cli import cli
from batch_sms.cli.sandbox import parse_latency_step
from batch_sms.sandbox.server import Sandbox, SandboxOptions

KEY = "sandbox_api_key"


@contextmanager
def serve(**config: Any) -> Iterator[tuple[Sandbox, httpx.Client]]:
    with Sandbox(SandboxOptions(any_id=True, **config)) as sandbox:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        with httpx.Client(base_url=sandbox.base_url, auth=(KEY, ""), limits=limits) as client:
            yield sandbox, client


def timed_get(client: httpx.Client, activity: str = "acti_1") -> float:
    started = time.perf_counter()
    client.get(f"activity/sms/{activity}/")
    return time.perf_counter() - started


def test_a_spread_draws_answer_times_around_the_same_mean() -> None:
    with serve(latency_ms=8, latency_spread=0.5, seed=3) as (_, client):
        times = [timed_get(client) for _ in range(50)]  # the seed fixes the draws
    assert 0.007 < statistics.mean(times) < 0.012  # 8 ms, and the round trip on loopback
    assert min(times) < 0.006 and max(times) > 0.016


def test_answer_times_change_at_the_steps_counted_from_the_first_request() -> None:
    with serve(latency_ms=10, latency_steps=((0.1, 120.0), (0.3, 10.0))) as (_, client):
        started = time.perf_counter()
        first = timed_get(client)
        time.sleep(0.15 - (time.perf_counter() - started))
        slow = timed_get(client)
        time.sleep(max(0.0, 0.35 - (time.perf_counter() - started)))
        fast_again = timed_get(client)
    assert first < 0.1 and slow >= 0.12 and fast_again < 0.1


def test_without_rate_limit_headers_only_429s_tell_of_the_limit() -> None:
    with serve(rate_limit=2, rate_window=60, rate_limit_headers=False) as (_, client):
        answers = [client.get("activity/sms/acti_1/") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert all("RateLimit" not in answer.headers for answer in answers)
    assert answers[2].headers["Retry-After"] == "60"


def test_stats_tell_each_endpoint_group_its_latest_window_and_the_most_in_flight() -> None:
    with serve(rate_limit=5, rate_window=0.2, latency_ms=50) as (sandbox, client):
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda n: client.put(f"activity/sms/acti_{n}/", json={}), range(8)))
        client.get("activity/sms/", params={"id__in": "acti_1"})
        time.sleep(0.2)
        client.put("activity/sms/acti_9/", json={})
        stats = sandbox.stats()
    puts = stats.groups["PUT one"]
    assert (puts.requests, puts.by_status) == (9, {200: 6, 429: 3})
    assert puts.window_requests == 1 and puts.window_at == puts.last_at
    assert stats.groups["GET list"].requests == 1
    assert stats.peak_in_flight == 8
    assert stats.as_json()["groups"]["PUT one"]["window_requests"] == 1


@pytest.mark.parametrize(
    ("value", "step"), [("4=800", (4.0, 800.0)), ("0.5=0", (0.5, 0.0)), ("10=50.5", (10, 50.5))]
)
def test_latency_steps_parse(value: str, step: tuple[float, float]) -> None:
    assert parse_latency_step(value) == step


@pytest.mark.parametrize("value", ["", "4", "4=", "=800", "a=b", "-1=800", "4=-5", "nan=5"])
def test_bad_latency_steps_say_what_is_expected(value: str) -> None:
    with pytest.raises(ValueError, match="is not SECONDS=MS, like 4=800"):
        parse_latency_step(value)


def test_the_sandbox_command_refuses_a_bad_step() -> None:
    result = CliRunner().invoke(cli, ["sandbox", "--latency-step", "soon=800"])
    assert result.exit_code == 2
    assert "Invalid value for '--latency-step': 'soon=800' is not SECONDS=MS" in result.output
