from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest

from batch_sms.close.client import CloseClient, Credentials
from batch_sms.job.sender import RunReport, Sender, SendOptions, send_updates
from batch_sms.models import Evidence, Outcome, RowResult, Update
from tests.conftest import activity_id

FAST = SendOptions(concurrency=4, max_retries=3, retry_wait=0.01, max_wait=1.0)
SEND = {"status": "outbox"}
EDIT = {"text": "fixed"}


@dataclass(frozen=True)
class Applied:
    """Close applies the PUT, then the answer is lost with `error`."""

    error: Exception | httpx.Response


@dataclass(frozen=True)
class AsIs:
    """An answer played as it is, a success or not: nothing is applied."""

    response: httpx.Response


Step = httpx.Response | Exception | Applied | AsIs


class Script:
    """A fake Close that keeps each SMS's state (a draft at first). Each activity's PUTs get
    the next step of its script, then 200; a PUT is applied when it succeeds or when its step
    is `Applied`. GETs read the state; the list endpoint answers `access` when one is given.
    Records when each PUT arrived."""

    def __init__(
        self,
        steps: dict[int, list[Step]] | None = None,
        delay: float = 0.0,
        access: Step | None = None,
        states: dict[int, dict[str, Any]] | None = None,
    ) -> None:
        self.access = access
        self.access_checks = 0
        self.listed: list[list[str]] = []  # the ids of each list request, in order
        self.unanswered_lists: set[int] = set()  # list requests (1 for the first) left hanging
        self.reads = 0
        self.steps = {activity_id(n): list(s) for n, s in (steps or {}).items()}
        self.states = {activity_id(n): state for n, state in (states or {}).items()}
        self.delay = delay
        self.calls: dict[str, int] = defaultdict(int)
        self.arrivals: list[float] = []
        self.in_flight = 0
        self.most_in_flight = 0

    def state(self, target: str) -> dict[str, Any]:
        """The SMS as Close shows it; always with its id, as Close's answers have it."""
        state = self.states.setdefault(target, {"status": "draft", "text": "old"})
        state["id"] = target
        return state

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            if request.url.path.rstrip("/").endswith("/sms") and "id__in" in request.url.params:
                self.listed.append(request.url.params["id__in"].split(","))
                if len(self.listed) in self.unanswered_lists:
                    await asyncio.sleep(3600)
            return self._read(request)
        self.arrivals.append(time.monotonic())
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            return self._answer(request)
        finally:
            self.in_flight -= 1

    def _read(self, request: httpx.Request) -> httpx.Response:
        target = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        if target != "sms":
            self.reads += 1
            return httpx.Response(200, json=self.state(target))
        self.access_checks += 1
        if self.access is not None:
            return self._play(self.access)
        ids = request.url.params["id__in"].split(",")
        return httpx.Response(200, json={"data": [self.state(i) for i in ids], "has_more": False})

    def _answer(self, request: httpx.Request) -> httpx.Response:
        target = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        self.calls[target] += 1
        steps = self.steps.get(target)
        step = steps.pop(0) if steps else httpx.Response(200)
        if isinstance(step, AsIs):
            return step.response
        if isinstance(step, Applied):
            self.state(target).update(json.loads(request.content))
            return self._play(step.error)
        response = self._play(step)
        if response.is_success:
            self.state(target).update(json.loads(request.content))
            return httpx.Response(200, json=self.state(target), headers=response.headers)
        return response

    @staticmethod
    def _play(step: httpx.Response | Exception) -> httpx.Response:
        if isinstance(step, Exception):
            raise step
        return step


def update(number: int, body: dict[str, Any]) -> Update:
    return Update(index=number, number=number + 2, activity_id=activity_id(number), body=body)


def fake_close(script: Script) -> CloseClient:
    return CloseClient(
        Credentials(api_key="k"),
        base_url="https://close.test/api/v1/",
        transport=httpx.MockTransport(script),
    )


def send(
    script: Script, updates: list[Update], settings: SendOptions = FAST
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
    assert results[1].close_status == "draft"


def test_a_send_after_a_503_is_read_back_and_repeated_while_still_a_draft() -> None:
    script = Script({1: [unavailable()]})
    results, _ = send(script, [update(1, SEND)])
    assert (results[1].outcome, results[1].attempts) == (Outcome.UPDATED, 2)
    assert (script.calls[activity_id(1)], script.reads) == (2, 1)


def test_a_send_applied_behind_a_503_is_found_by_reading_it_back() -> None:
    script = Script({1: [Applied(unavailable())]})
    results, _ = send(script, [update(1, SEND)])
    assert script.calls[activity_id(1)] == 1
    assert results[1].outcome is Outcome.UPDATED
    assert results[1].close_status == "outbox"
    assert results[1].error_message == (
        "no answer to the send (Close answered 503: down); read back: Close shows it status outbox"
    )


@pytest.mark.parametrize("body", [SEND, EDIT])
def test_a_429_is_retried_for_every_row(body: dict[str, Any]) -> None:
    results, _ = send(Script({1: [too_many()]}), [update(1, body)])
    assert results[1].outcome is Outcome.UPDATED
    assert results[1].attempts == 2


@pytest.mark.parametrize("body", [SEND, EDIT])
def test_a_connect_error_is_retried_for_every_row(body: dict[str, Any]) -> None:
    results, _ = send(Script({1: [httpx.ConnectError("refused")]}), [update(1, body)])
    assert (results[1].outcome, results[1].attempts) == (Outcome.UPDATED, 2)


LOST = [httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("Server disconnected")]


@pytest.mark.parametrize("error", LOST)
def test_a_send_whose_answer_is_lost_is_not_repeated_when_close_shows_it_sent(
    error: Exception,
) -> None:
    script = Script({1: [Applied(error)]})
    results, _ = send(script, [update(1, SEND)])
    assert script.calls[activity_id(1)] == 1
    assert results[1].outcome is Outcome.UPDATED
    assert results[1].error_message == (
        f"no answer to the send ({type(error).__name__}: {error}); "
        "read back: Close shows it status outbox"
    )


@pytest.mark.parametrize("error", LOST)
def test_a_send_whose_answer_is_lost_is_repeated_when_close_shows_a_draft(
    error: Exception,
) -> None:
    script = Script({1: [error]})
    results, _ = send(script, [update(1, SEND)])
    assert (script.calls[activity_id(1)], script.reads) == (2, 1)
    assert (results[1].outcome, results[1].attempts) == (Outcome.UPDATED, 2)


def test_a_send_whose_sms_moved_on_meanwhile_fails_with_what_close_shows() -> None:
    class Elsewhere(Script):
        def _answer(self, request: httpx.Request) -> httpx.Response:
            self.states[activity_id(1)] = {"status": "error", "error_message": "carrier refused"}
            raise httpx.ReadTimeout("slow")

    script = Elsewhere()
    results, _ = send(script, [update(1, SEND)], SendOptions(preflight=False, retry_wait=0.01))
    assert results[1].outcome is Outcome.FAILED
    assert results[1].error_message == (
        "no answer to the send (ReadTimeout: slow); Close now shows it status error "
        "(carrier refused)"
    )


def test_a_send_that_cannot_be_read_back_may_have_been_sent() -> None:
    class Unreadable(Script):
        def _read(self, request: httpx.Request) -> httpx.Response:
            if not request.url.path.endswith("/sms/"):
                raise httpx.ConnectError("refused")
            return super()._read(request)

    script = Unreadable({1: [httpx.ReadTimeout("slow")]})
    results, _ = send(script, [update(1, SEND)])
    assert script.calls[activity_id(1)] == 1
    assert results[1].outcome is Outcome.FAILED
    assert results[1].error_message == (
        "no answer to the send (ReadTimeout: slow), and reading it back failed "
        "(ConnectError: refused); the SMS may have been sent: check it in Close before you "
        "run this row again"
    )


def test_429s_have_their_own_budget_and_do_not_spend_the_retries() -> None:
    script = Script({1: [too_many(reset=0.01)] * 4 + [unavailable()]})
    settings = SendOptions(concurrency=1, max_retries=1, retry_wait=0.01, max_rate_limited=10)
    results, _ = send(script, [update(1, EDIT)], settings)
    assert (results[1].outcome, results[1].attempts) == (Outcome.UPDATED, 6)


def test_a_row_turned_away_too_often_fails_and_says_so() -> None:
    script = Script({1: [too_many(reset=0.01)] * 5})
    settings = SendOptions(concurrency=1, retry_wait=0.01, max_rate_limited=3)
    results, _ = send(script, [update(1, SEND)], settings)
    assert results[1].outcome is Outcome.FAILED
    assert results[1].error_message == (
        "Close turned the request away (429) 4 times: API call count exceeded"
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
    settings = SendOptions(concurrency=1, max_retries=2, retry_wait=0.01)
    results, _ = send(script, [update(1, EDIT)], settings)
    assert script.calls[activity_id(1)] == 3
    assert results[1].error_message == "Close answered 503 (down) to all 3 attempts"


def test_a_401_stops_the_run_and_leaves_the_rest_not_attempted() -> None:
    script = Script({2: [httpx.Response(401, json={"error": "Invalid API key"})]})
    updates = [update(n, EDIT) for n in range(1, 6)]
    results, report = send(script, updates, SendOptions(concurrency=1, retry_wait=0.01))
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
    results, _ = send(script, [update(n, EDIT) for n in range(30)], SendOptions(concurrency=3))
    assert script.most_in_flight == 3
    assert all(r.outcome is Outcome.UPDATED for r in results.values())


def test_a_429_pauses_every_worker_not_just_its_own() -> None:
    # Row 0 is turned away with a 0.3 s reset; the other workers must hold back too.
    script = Script({0: [too_many(reset=0.3)]}, delay=0.005)
    send(script, [update(n, EDIT) for n in range(12)], SendOptions(concurrency=4))
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
    send(script, [update(n, EDIT) for n in range(3)], SendOptions(concurrency=1))
    assert script.arrivals[1] - script.arrivals[0] >= 0.2


def test_stop_lets_requests_in_flight_finish_and_starts_no_more() -> None:
    script = Script(delay=0.2)
    updates = [update(n, SEND) for n in range(10)]
    results: dict[int, RowResult] = {}

    async def main() -> RunReport:
        async with fake_close(script) as client:
            sender = Sender(client, lambda r: results.setdefault(r.index, r), FAST)
            task = asyncio.create_task(sender.execute(updates))
            await asyncio.sleep(0.1)
            sender.stop()
            return await task

    report = asyncio.run(main())
    assert report.stopped
    assert sorted(results) == list(range(10))
    done = [n for n, r in results.items() if r.outcome is Outcome.UPDATED]
    assert done == [0, 1, 2, 3] and sum(script.calls.values()) == 4
    assert results[9].error_message == "not attempted: the run was interrupted"


def test_the_start_of_each_send_is_heard_before_its_put() -> None:
    script = Script()
    heard: list[tuple[int, int]] = []

    async def main() -> None:
        async with fake_close(script) as client:
            sender = Sender(
                client,
                lambda r: None,
                FAST,
                on_start=lambda u: heard.append((u.index, script.calls[u.activity_id])),
            )
            await sender.execute([update(0, SEND), update(1, EDIT), update(2, SEND)])

    asyncio.run(main())
    assert sorted(heard) == [(0, 0), (2, 0)]


def test_preflight_settles_rows_that_close_shows_done_or_moved_on() -> None:
    script = Script(
        states={
            0: {"status": "sent", "date_sent": "2026-11-28T09:00:00+00:00"},
            1: {"status": "outbox", "text": "hello"},
            2: {"status": "scheduled", "date_scheduled": "2029-03-06T09:00:00+00:00"},
        }
    )
    for n, state in script.states.items():
        state["id"] = n
    updates = [
        update(0, {"status": "outbox", "text": "other text"}),
        update(1, {"status": "outbox", "text": "hello"}),
        update(2, {"text": "fix"}),
        update(3, {"status": "outbox"}),
    ]
    results, _ = send(script, updates)
    assert [results[n].outcome for n in range(4)] == [
        Outcome.SKIPPED,
        Outcome.UPDATED,
        Outcome.SKIPPED,
        Outcome.UPDATED,
    ]
    assert results[0].error_message == (
        "not sent: Close shows it sent at 2026-11-28T09:00:00+00:00, no longer a draft"
    )
    assert results[1].error_message == (
        "already applied before this run: Close shows it status outbox"
    )
    assert results[2].error_message == (
        "not sent: Close shows it scheduled for 2029-03-06T09:00:00+00:00, no longer a draft"
    )
    assert dict(script.calls) == {activity_id(3): 1}
    assert script.access_checks == 1, "one list request for the whole batch"


def test_preflight_reads_100_ids_per_request_the_second_and_third_batches_twice() -> None:
    script = Script()
    send(script, [update(n, EDIT) for n in range(450)])
    batches = [[activity_id(n) for n in range(start, start + 100)] for start in range(0, 450, 100)]
    batches[-1] = batches[-1][:50]
    reads = [script.listed.count(batch) for batch in batches]
    assert reads == [1, 2, 2, 1, 1]  # both copies start at once, before either answers
    assert len(script.listed) == 7


def test_a_read_that_does_not_answer_does_not_hold_the_sends_when_its_copy_does() -> None:
    script = Script()
    script.unanswered_lists = {2}  # the second batch's first read
    rows = [update(n, EDIT) for n in range(300)]

    async def main() -> None:
        async with fake_close(script) as client:
            await asyncio.wait_for(send_updates(client, rows, lambda result: None, FAST), 30)

    asyncio.run(main())
    assert script.listed[1] == script.listed[2] == [activity_id(n) for n in range(100, 200)]
    assert sum(script.calls.values()) == 300


def test_without_preflight_only_uncertain_rows_are_read_back() -> None:
    script = Script(states={1: {"status": "sent"}, 2: {"status": "draft"}})
    for n, state in script.states.items():
        state["id"] = n
    updates = [replace(update(1, SEND), uncertain=True), replace(update(2, SEND), uncertain=True)]
    updates.append(update(3, SEND))
    settings = SendOptions(concurrency=2, retry_wait=0.01, preflight=False)
    results, _ = send(script, updates, settings)
    assert [results[n].outcome for n in (1, 2, 3)] == [Outcome.UPDATED] * 3
    assert results[1].error_message == "already applied before this run: Close shows it status sent"
    assert (results[1].attempts, results[1].close_status) == (0, "sent")
    assert activity_id(1) not in script.calls
    assert script.access_checks == 2, "one access check, one read-back batch"


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
@pytest.mark.parametrize("preflight", [True, False])
def test_a_failed_access_check_stops_the_run_before_any_update(
    access: Step, reason: str, preflight: bool
) -> None:
    script = Script(access=access)
    settings = replace(FAST, preflight=preflight)
    results, report = send(script, [update(n, SEND) for n in range(3)], settings)
    assert report.aborted == reason
    assert {r.error_message for r in results.values()} == {f"not attempted: {reason}"}
    assert {r.outcome for r in results.values()} == {Outcome.NOT_ATTEMPTED}
    assert script.arrivals == []
    attempts = (
        (3 if not preflight else FAST.max_retries + 1) if isinstance(access, Exception) else 1
    )
    assert script.access_checks == attempts


@pytest.mark.parametrize(
    "access", [httpx.Response(400, json={"error": "odd"}), httpx.Response(429), unavailable()]
)
def test_an_error_close_could_give_to_the_access_check_lets_the_run_go_on(access: Step) -> None:
    settings = replace(FAST, preflight=False)
    results, report = send(Script(access=access), [update(0, EDIT)], settings)
    assert report.aborted is None
    assert results[0].outcome is Outcome.UPDATED


def test_an_empty_run_asks_nothing() -> None:
    script = Script()
    results, report = send(script, [])
    assert (results, report.aborted, script.access_checks) == ({}, None, 0)


def test_a_row_read_as_a_draft_before_the_run_stopped_is_no_longer_uncertain() -> None:
    script = Script({0: [httpx.Response(401, json={"error": "revoked"})]})
    updates = [update(0, EDIT), replace(update(1, SEND), uncertain=True)]
    settings = SendOptions(concurrency=1, retry_wait=0.01, preflight=False)
    results, report = send(script, updates, settings)
    assert report.aborted == "Close answered 401 to the credentials: revoked"
    # Its read before sending showed a draft: the earlier run did not send it.
    assert results[1].error_message == (
        "not attempted: Close answered 401 to the credentials: revoked"
    )
    assert results[1].evidence is Evidence.NONE


def test_a_row_that_may_have_been_sent_keeps_saying_so_when_close_could_not_be_read() -> None:
    script = Script(access=httpx.Response(500, json={"error": "boom"}))
    updates = [replace(update(1, SEND), uncertain=True)]
    settings = SendOptions(concurrency=1, retry_wait=0.01, max_retries=1, preflight=False)
    results, _ = send(script, updates, settings)
    assert results[1].outcome is Outcome.FAILED
    assert results[1].evidence is Evidence.UNKNOWN
    assert results[1].error_message.endswith(
        "an earlier run reported that the SMS may have been sent: check it in Close before "
        "you run this row again"
    )


def html_page() -> httpx.Response:
    page = b"<!DOCTYPE html><html><body>Please sign in to the guest Wi-Fi</body></html>"
    return httpx.Response(200, content=page, headers={"Content-Type": "text/html"})


class Shows(Script):
    """Close applies each PUT, but answers it showing `shown` over the stored state."""

    def __init__(self, shown: dict[str, Any], **options: Any) -> None:
        super().__init__(**options)
        self.shown = shown

    def _answer(self, request: httpx.Request) -> httpx.Response:
        answer = super()._answer(request)
        return httpx.Response(200, json={**answer.json(), **self.shown})


def test_a_web_page_answering_a_send_is_read_back_and_never_counted_as_updated() -> None:
    script = Script({1: [AsIs(html_page())] * 5})
    results, report = send(script, [update(1, SEND)], replace(FAST, max_retries=2))
    assert results[1].outcome is Outcome.FAILED
    assert results[1].error_message == (
        "not a valid answer from Close: an HTML page (a 200 answer, text/html, 74 bytes: "
        "'<!DOCTYPE html><html><body>Please sign in to the guest Wi-Fi</body></html>') "
        "in 3 attempts; read back each time: still a draft, nothing sent"
    )
    assert (script.calls[activity_id(1)], script.reads) == (3, 3)
    assert report.aborted is None


def test_a_send_applied_behind_a_web_page_is_found_by_reading_it_back() -> None:
    script = Script({1: [Applied(html_page())]})
    results, _ = send(script, [update(1, SEND)])
    assert script.calls[activity_id(1)] == 1
    assert (results[1].outcome, results[1].close_status) == (Outcome.UPDATED, "outbox")
    assert results[1].error_message.startswith("no valid answer to the send (an HTML page (a 200")
    assert results[1].error_message.endswith("; read back: Close shows it status outbox")


def test_a_send_answered_with_another_activity_that_cannot_be_read_back_may_have_been_sent() -> (
    None
):
    class OtherIds(Script):
        def _read(self, request: httpx.Request) -> httpx.Response:
            answer = super()._read(request)
            if request.url.path.endswith("/sms/"):
                return answer
            return httpx.Response(200, json={**answer.json(), "id": activity_id(9)})

    script = OtherIds({1: [Applied(httpx.Response(200, json={"id": activity_id(9)}))]})
    results, _ = send(script, [update(1, SEND)])
    assert results[1].outcome is Outcome.FAILED
    assert script.calls[activity_id(1)] == 1
    message = results[1].error_message
    other = f"an answer about another SMS ({activity_id(9)}) than {activity_id(1)}"
    assert message.startswith(f"no valid answer to the send ({other} (a 200 answer, ")
    assert f"), and reading it back failed (not a valid answer from Close: {other} (" in message
    assert message.endswith(
        "; the SMS may have been sent: check it in Close before you run this row again"
    )


def test_a_web_page_answering_an_edit_fails_it_without_a_retry() -> None:
    script = Script({1: [AsIs(html_page())]})
    results, _ = send(script, [update(1, EDIT)])
    assert (results[1].outcome, results[1].attempts, results[1].http_status) == (
        Outcome.FAILED,
        1,
        200,
    )
    assert results[1].error_message.startswith("not a valid answer from Close: an HTML page (")
    assert script.calls[activity_id(1)] == 1


def test_a_send_whose_answer_shows_no_send_is_read_back() -> None:
    script = Shows({"status": "draft"})
    results, _ = send(script, [update(1, SEND)])
    assert script.calls[activity_id(1)] == 1, "Close shows the send when read: not repeated"
    assert (results[1].outcome, results[1].close_status) == (Outcome.UPDATED, "outbox")
    assert results[1].error_message == (
        "Close answered the send (200) but it shows status draft, not outbox as asked; "
        "read back: Close shows it status outbox"
    )


def test_an_edit_whose_answer_shows_another_status_fails_with_what_close_shows() -> None:
    script = Shows({"status": "scheduled", "date_scheduled": "2029-03-06T09:00:00+00:00"})
    results, _ = send(script, [update(1, {"status": "draft"})])
    result = results[1]
    assert (result.outcome, result.http_status, result.attempts) == (Outcome.FAILED, 200, 1)
    assert (result.close_status, result.close_date_scheduled) == (
        "scheduled",
        "2029-03-06T09:00:00+00:00",
    )
    assert result.error_message == (
        "Close answered 200 but it shows status scheduled, not draft as asked: not updated"
    )


@pytest.mark.parametrize(
    ("shown", "problem"),
    [
        ({"date_scheduled": "2029-03-06T10:00:00+00:00"}, "date_scheduled 2029-03-06T10:00:00"),
        ({"date_scheduled": None}, "no date_scheduled"),
        ({"date_scheduled": "soon"}, "date_scheduled soon"),
        ({"status": "draft"}, "status draft"),
        ({"status": ["scheduled"]}, "status ['scheduled']"),
    ],
)
def test_a_schedule_is_updated_only_when_close_shows_it_at_that_moment(
    shown: dict[str, Any], problem: str
) -> None:
    body = {"status": "scheduled", "date_scheduled": "2029-03-06T09:00:00+00:00"}
    script = Shows(shown)
    results, _ = send(script, [update(2, body)])
    # Read back, Close shows the schedule as asked (the fake stores it): updated, with why.
    assert results[2].outcome is Outcome.UPDATED
    assert results[2].error_message.startswith(
        f"Close answered the send (200) but it shows {problem}"
    )
    assert results[2].error_message.endswith(
        "; read back: Close shows it scheduled for 2029-03-06T09:00:00+00:00"
    )
    assert (script.calls[activity_id(2)], script.reads) == (1, 1)


@pytest.mark.parametrize(
    "shown",
    [
        {"date_scheduled": "2029-03-06T04:00:00-05:00"},
        {"date_scheduled": "2029-03-06T09:00:00Z"},
        {"status": "sent"},
        {"status": "outbox"},
    ],
)
def test_the_same_moment_in_another_offset_and_closes_own_moves_are_updated(
    shown: dict[str, Any],
) -> None:
    body = {"status": "scheduled", "date_scheduled": "2029-03-06T09:00:00+00:00"}
    results, _ = send(Shows(shown), [update(1, body), update(2, SEND)])
    assert [results[n].outcome for n in (1, 2)] == [Outcome.UPDATED, Outcome.UPDATED]
    assert [results[n].error_message for n in (1, 2)] == ["", ""]


def test_another_field_shown_otherwise_keeps_updated_with_a_note() -> None:
    script = Shows({"text": "Close's own text", "remote_phone": "+14155550999"})
    body = {"text": "fixed", "remote_phone": "+14155550123", "local_phone": "+14155550100"}
    results, _ = send(script, [update(1, body), update(2, {"template_id": "tmpl_1234"} | EDIT)])
    assert results[1].outcome is Outcome.UPDATED
    assert results[1].error_message == (
        "updated, but Close's answer shows another value than the row for: text, remote_phone"
    )
    assert (results[2].outcome, results[2].error_message) == (Outcome.UPDATED, "")


@pytest.mark.parametrize(
    ("access", "what"),
    [
        (html_page(), "an HTML page"),
        (httpx.Response(200, json={"ok": True}), "JSON without Close's `data` list"),
        (httpx.Response(200, json={"data": [{"id": "x"}], "has_more": False}), "a list holding"),
        (httpx.Response(302, headers={"Location": "https://login.test/"}), "a redirect to"),
    ],
)
@pytest.mark.parametrize("preflight", [True, False])
def test_a_first_answer_that_is_not_closes_stops_the_run_before_any_update(
    access: httpx.Response, what: str, preflight: bool
) -> None:
    script = Script(access=access)
    settings = replace(FAST, preflight=preflight)
    results, report = send(script, [update(n, SEND) for n in range(3)], settings)
    assert report.aborted is not None
    assert report.aborted.startswith(f"https://close.test/api/v1/ answered with {what}")
    assert ", not Close's API: is --base-url https://api.close.com/api/v1/? (a " in report.aborted
    assert {r.outcome for r in results.values()} == {Outcome.NOT_ATTEMPTED}
    assert script.arrivals == []
    assert script.access_checks == 1


@pytest.mark.parametrize("preflight", [True, False])
@pytest.mark.parametrize("status", [404, 405])
def test_a_first_answer_that_close_never_gives_to_a_list_stops_the_run(
    status: int, preflight: bool
) -> None:
    script = Script(access=httpx.Response(status, content=b"<html>Not Found</html>"))
    settings = replace(FAST, preflight=preflight)
    results, report = send(script, [update(0, SEND)], settings)
    assert report.aborted == (
        f"https://close.test/api/v1/ answered {status} to a list of SMS, which Close's API "
        f"always serves: is --base-url https://api.close.com/api/v1/? ({_reason(status)})"
    )
    assert script.arrivals == []


def _reason(status: int) -> str:
    return {404: "Not Found", 405: "Method Not Allowed"}[status]


def test_a_later_list_that_is_not_closes_fails_its_sends_without_sending_them() -> None:
    class SecondPageIsHtml(Script):
        def _read(self, request: httpx.Request) -> httpx.Response:
            # Both reads of the second batch (see READ_TWICE).
            if activity_id(100) in request.url.params.get("id__in", ""):
                return html_page()
            return super()._read(request)

    script = SecondPageIsHtml()
    updates = [update(n, SEND if n >= 100 else EDIT) for n in range(102)]
    results, report = send(script, updates)
    assert report.aborted is None
    assert results[0].outcome is Outcome.UPDATED
    assert results[100].outcome is Outcome.FAILED
    assert results[100].error_message.startswith(
        "not sent: could not read its state from Close first (not a valid answer from Close: "
        "an HTML page (a 200 answer, text/html"
    )
    assert activity_id(100) not in script.calls


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(429, json={"error": "slow down"}, headers={"Retry-After": "31536000"}),
        httpx.Response(503, json={"error": "maintenance"}, headers={"Retry-After": "3600"}),
        httpx.Response(
            429, headers={"RateLimit": "limit=5, remaining=0, reset=2", "Retry-After": "1"}
        ),
    ],
)
def test_a_wait_longer_than_the_tool_waits_stops_the_run_in_order(answer: httpx.Response) -> None:
    script = Script({0: [answer]})
    settings = replace(FAST, concurrency=1, max_server_wait=1.5)
    started = time.monotonic()
    results, report = send(script, [update(n, EDIT) for n in range(3)], settings)
    assert time.monotonic() - started < 1.0
    assert report.aborted is not None
    assert report.aborted.startswith(f"Close answered {answer.status_code} and asked to wait ")
    assert report.aborted.endswith(
        "longer than the 1.5 s this tool waits; try the rows not updated again later"
    )
    assert [results[n].outcome for n in range(3)] == [Outcome.FAILED] + [Outcome.NOT_ATTEMPTED] * 2
    assert script.calls[activity_id(0)] == 1


def test_a_rate_limit_reset_far_ahead_is_ignored_not_waited_for() -> None:
    forever = {"RateLimit": "limit=100, remaining=0, reset=1000000000000"}
    script = Script({n: [httpx.Response(200, headers=forever)] for n in range(3)})
    started = time.monotonic()
    results, _ = send(script, [update(n, EDIT) for n in range(3)], replace(FAST, concurrency=1))
    assert time.monotonic() - started < 1.0
    assert {r.outcome for r in results.values()} == {Outcome.UPDATED}


@pytest.mark.parametrize("status", [500, 501, 599, 999])
def test_a_send_answered_with_another_server_error_is_read_back_not_failed_blind(
    status: int,
) -> None:
    script = Script({1: [Applied(httpx.Response(status, json={"error": "oops"}))]})
    results, _ = send(script, [update(1, SEND)])
    assert script.calls[activity_id(1)] == 1
    assert (results[1].outcome, results[1].close_status) == (Outcome.UPDATED, "outbox")
    assert results[1].error_message == (
        f"no answer to the send (Close answered {status}: oops); read back: Close shows it "
        "status outbox"
    )


def test_a_send_answered_500_while_still_a_draft_is_repeated_after_the_read_back() -> None:
    script = Script({1: [httpx.Response(500, json={"error": "oops"})]})
    results, _ = send(script, [update(1, SEND)])
    assert (script.calls[activity_id(1)], script.reads) == (2, 1)
    assert (results[1].outcome, results[1].attempts) == (Outcome.UPDATED, 2)
