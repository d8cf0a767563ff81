from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Any

import httpx
import pytest

from batch_sms.close import CloseClient, Credentials, RateLimit
from batch_sms.pacing import Pacer
from batch_sms.results import Outcome, RowResult
from batch_sms.runner import RunReport, RunSettings, send_updates
from batch_sms.validation import Update
from tests.conftest import activity_id

FAST = RunSettings(concurrency=4, max_retries=3, retry_wait=0.01, max_wait=1.0)
SEND = {"status": "outbox"}
EDIT = {"text": "fixed"}

Step = httpx.Response | Exception


def update(number: int, body: dict[str, Any]) -> Update:
    return Update(index=number, number=number + 2, activity_id=activity_id(number), body=body)


class Script:
    """A fake Close: answers each activity's PUTs with the next step of its script, then 200.
    Records when each PUT arrived. The access check (a GET of the list) gets `access`."""

    def __init__(
        self,
        steps: dict[int, list[Step]] | None = None,
        delay: float = 0.0,
        access: Step | None = None,
    ) -> None:
        self.access = access or httpx.Response(200, json={"data": [], "has_more": False})
        self.access_checks = 0
        self.steps = {activity_id(n): list(s) for n, s in (steps or {}).items()}
        self.delay = delay
        self.calls: dict[str, int] = defaultdict(int)
        self.arrivals: list[float] = []
        self.in_flight = 0
        self.most_in_flight = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            self.access_checks += 1
            return self._play(self.access)
        self.arrivals.append(time.monotonic())
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            return self._answer(request)
        finally:
            self.in_flight -= 1

    def _answer(self, request: httpx.Request) -> httpx.Response:
        target = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        self.calls[target] += 1
        steps = self.steps.get(target)
        return self._play(steps.pop(0) if steps else httpx.Response(200, json={"status": "sent"}))

    @staticmethod
    def _play(step: Step) -> httpx.Response:
        if isinstance(step, Exception):
            raise step
        return step


def fake_close(script: Script) -> CloseClient:
    return CloseClient(
        Credentials(api_key="k"),
        base_url="https://close.test/api/v1/",
        transport=httpx.MockTransport(script),
    )


def send(
    script: Script, updates: list[Update], settings: RunSettings = FAST
) -> tuple[dict[int, RowResult], RunReport]:
    results: dict[int, RowResult] = {}

    def record(result: RowResult) -> None:
        assert result.index not in results, "a row got two results"
        results[result.index] = result

    async def main() -> RunReport:
        async with fake_close(script) as client:
            return await send_updates(client, updates, record, settings)

    report = asyncio.run(main())
    assert sorted(results) == sorted(u.index for u in updates), "every row gets one result"
    return results, report


def unavailable(**headers: str) -> httpx.Response:
    return httpx.Response(503, json={"error": "down"}, headers=headers)


def too_many(reset: float = 0.05) -> httpx.Response:
    return httpx.Response(
        429,
        json={"error": {"message": "API call count exceeded"}},
        headers={"RateLimit": f"limit=5, remaining=0, reset={reset}", "Retry-After": "1"},
    )


def test_an_edit_is_retried_through_503s() -> None:
    results, _ = send(Script({1: [unavailable(), unavailable()]}), [update(1, EDIT)])
    assert results[1].outcome is Outcome.UPDATED
    assert results[1].attempts == 3
    assert results[1].close_status == "sent"


def test_a_send_is_not_retried_after_a_503() -> None:
    script = Script({1: [unavailable()]})
    results, _ = send(script, [update(1, SEND)])
    assert results[1].outcome is Outcome.FAILED
    assert results[1].http_status == 503
    assert results[1].error_message == (
        "Close answered 503 (down); not retried because the SMS may have been sent: "
        "check it in Close before you run this row again"
    )
    assert script.calls[activity_id(1)] == 1


@pytest.mark.parametrize("body", [SEND, EDIT])
def test_a_429_is_retried_for_every_row(body: dict[str, Any]) -> None:
    results, _ = send(Script({1: [too_many()]}), [update(1, body)])
    assert results[1].outcome is Outcome.UPDATED
    assert results[1].attempts == 2


@pytest.mark.parametrize("body", [SEND, EDIT])
def test_a_connect_error_is_retried_for_every_row(body: dict[str, Any]) -> None:
    results, _ = send(Script({1: [httpx.ConnectError("refused")]}), [update(1, body)])
    assert (results[1].outcome, results[1].attempts) == (Outcome.UPDATED, 2)


@pytest.mark.parametrize(
    "error", [httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("Server disconnected")]
)
def test_a_send_whose_answer_is_lost_is_never_repeated(error: Exception) -> None:
    script = Script({1: [error]})
    results, _ = send(script, [update(1, SEND)])
    assert script.calls[activity_id(1)] == 1
    assert results[1].outcome is Outcome.FAILED
    assert results[1].error_message == (
        f"no answer from Close after the request went out ({type(error).__name__}: {error}); "
        "the SMS may have been sent: check it in Close before you run this row again"
    )


def test_an_edit_whose_answer_is_lost_is_repeated() -> None:
    results, _ = send(Script({1: [httpx.ReadTimeout("slow")]}), [update(1, EDIT)])
    assert (results[1].outcome, results[1].attempts) == (Outcome.UPDATED, 2)


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (
            400,
            {"field-errors": {"text": "too long"}},
            "Close rejected the update (400): text: too long",
        ),
        (
            404,
            {"error": "Not found"},
            "Close has no SMS activity with this id, or this key cannot see it (404): Not found",
        ),
        (402, {"error": "Plan limit"}, "Close answered 402: Plan limit"),
    ],
)
def test_client_errors_are_not_retried(status: int, body: dict[str, Any], message: str) -> None:
    script = Script({1: [httpx.Response(status, json=body)]})
    results, report = send(script, [update(1, EDIT)])
    assert (results[1].outcome, results[1].http_status, results[1].attempts) == (
        Outcome.FAILED,
        status,
        1,
    )
    assert results[1].error_message == message
    assert report.aborted is None


def test_retries_stop_at_max_retries() -> None:
    script = Script({1: [unavailable()] * 10})
    settings = RunSettings(concurrency=1, max_retries=2, retry_wait=0.01)
    results, _ = send(script, [update(1, EDIT)], settings)
    assert script.calls[activity_id(1)] == 3
    assert results[1].error_message == "Close answered 503 (down) to all 3 attempts"


def test_a_401_stops_the_run_and_leaves_the_rest_not_attempted() -> None:
    script = Script({2: [httpx.Response(401, json={"error": "Invalid API key"})]})
    updates = [update(n, EDIT) for n in range(1, 6)]
    results, report = send(script, updates, RunSettings(concurrency=1, retry_wait=0.01))
    assert [results[n].outcome for n in range(1, 6)] == [
        Outcome.UPDATED,
        Outcome.FAILED,
        Outcome.NOT_ATTEMPTED,
        Outcome.NOT_ATTEMPTED,
        Outcome.NOT_ATTEMPTED,
    ]
    assert report.aborted == "Close answered 401 to the credentials: Invalid API key"
    assert results[2].error_message == (
        "Close refused the credentials (401): Invalid API key; check the API key"
    )
    assert results[4].error_message == (
        "not attempted: Close answered 401 to the credentials: Invalid API key"
    )
    assert sum(script.calls.values()) == 2


def test_concurrency_is_bounded() -> None:
    script = Script(delay=0.01)
    results, _ = send(script, [update(n, EDIT) for n in range(30)], RunSettings(concurrency=3))
    assert script.most_in_flight == 3
    assert all(r.outcome is Outcome.UPDATED for r in results.values())


def test_a_429_pauses_every_worker_not_just_its_own() -> None:
    # Row 0 is turned away with a 0.3 s reset; the other workers must hold back too.
    script = Script({0: [too_many(reset=0.3)]}, delay=0.005)
    send(script, [update(n, EDIT) for n in range(12)], RunSettings(concurrency=4))
    first = script.arrivals[0]
    late = [t - first for t in script.arrivals if t - first > 0.02]
    early = [t - first for t in script.arrivals if t - first <= 0.02]
    assert len(early) <= 4, "only the first wave went out before the 429"
    assert late and min(late) >= 0.3


def test_remaining_zero_holds_new_requests_until_reset() -> None:
    exhausted = httpx.Response(
        200, json={"status": "draft"}, headers={"RateLimit": "limit=1, remaining=0, reset=0.2"}
    )
    script = Script({0: [exhausted]})
    send(script, [update(n, EDIT) for n in range(3)], RunSettings(concurrency=1))
    assert script.arrivals[1] - script.arrivals[0] >= 0.2


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_pacer_pauses_until_reset_and_keeps_the_longest_pause() -> None:
    clock = FakeClock()
    pacer = Pacer(clock=clock)
    assert pacer.paused_for == 0
    pacer.pause(2.0)
    pacer.pause(0.5)
    assert pacer.paused_for == 2.0
    clock.now += 1.5
    assert pacer.paused_for == 0.5
    clock.now += 1.0
    assert pacer.paused_for == 0


def test_pacer_ignores_a_window_with_requests_left() -> None:
    pacer = Pacer(clock=FakeClock())
    pacer.observe(RateLimit(limit=10, remaining=1, reset=5))
    pacer.observe(None)
    assert pacer.paused_for == 0
    pacer.observe(RateLimit(limit=10, remaining=0, reset=5))
    assert pacer.paused_for == 5


def test_cancelling_a_run_gives_every_row_a_result() -> None:
    script = Script(delay=5.0)
    updates = [update(n, SEND if n % 2 else EDIT) for n in range(10)]
    results: dict[int, RowResult] = {}

    async def main() -> None:
        async with fake_close(script) as client:
            task = asyncio.create_task(
                send_updates(client, updates, lambda r: results.setdefault(r.index, r), FAST)
            )
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(main())
    assert sorted(results) == list(range(10))
    in_flight = [r for r in results.values() if r.outcome is Outcome.FAILED]
    assert len(in_flight) == FAST.concurrency
    assert results[1].error_message == (
        "interrupted while the request was in flight; the SMS may have been sent: "
        "check it in Close before you run this row again"
    )
    assert results[0].error_message == "interrupted while the request was in flight"
    assert {r.outcome for r in results.values() if r.index >= 4} == {Outcome.NOT_ATTEMPTED}


@pytest.mark.parametrize(
    ("access", "reason"),
    [
        (
            httpx.Response(401, json={"error": "Invalid API key"}),
            "Close answered 401 to the credentials: Invalid API key",
        ),
        (
            httpx.ConnectError("[Errno 111] Connection refused"),
            "could not reach Close at https://close.test/api/v1/ "
            "(ConnectError: [Errno 111] Connection refused)",
        ),
    ],
)
def test_a_failed_access_check_stops_the_run_before_any_update(access: Step, reason: str) -> None:
    script = Script(access=access)
    results, report = send(script, [update(n, SEND) for n in range(3)])
    assert report.aborted == reason
    assert {r.error_message for r in results.values()} == {f"not attempted: {reason}"}
    assert {r.outcome for r in results.values()} == {Outcome.NOT_ATTEMPTED}
    assert script.arrivals == []
    assert script.access_checks == (3 if isinstance(access, Exception) else 1)


@pytest.mark.parametrize(
    "access",
    [httpx.Response(404, json={"error": "nope"}), httpx.Response(429), httpx.Response(503)],
)
def test_any_other_answer_to_the_access_check_lets_the_run_go_on(access: Step) -> None:
    results, report = send(Script(access=access), [update(0, EDIT)])
    assert report.aborted is None
    assert results[0].outcome is Outcome.UPDATED


def test_an_empty_run_asks_nothing() -> None:
    script = Script()
    results, report = send(script, [])
    assert (results, report.aborted, script.access_checks) == ({}, None, 0)
