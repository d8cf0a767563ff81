"""The sandbox without sockets: the model answers plain requests, and backs an httpx
MockTransport that gives the same answers as the HTTP server, for fast in-process tests."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from batch_sms.close.client import CloseAPIError, CloseClient, Credentials
from batch_sms.job.sender import SendOptions, send_updates
from batch_sms.models import Outcome, RowResult, Update
from batch_sms.sandbox import (
    Fault,
    Request,
    Sandbox,
    SandboxModel,
    SandboxOptions,
    mock_transport,
    stands_for_missing,
)

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
KEY = "sandbox_api_key"
BASIC = "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
BASE_URL = "https://sandbox.test/api/v1/"


def model(**config: Any) -> SandboxModel:
    return SandboxModel(SandboxOptions(**config), clock=lambda: NOW)


def request(method: str, path: str, data: dict[str, Any] | None = None, **query: str) -> Request:
    headers = {"authorization": BASIC}
    return Request(method, f"/api/v1/{path}", query, headers, data)


def async_client(sandbox: SandboxModel, timeout: float = 5.0) -> CloseClient:
    credentials = Credentials(api_key=KEY)
    return CloseClient(credentials, BASE_URL, timeout=timeout, transport=mock_transport(sandbox))


# --- The model: plain data in, plain data out -------------------------------------------------


def test_handle_answers_a_get_without_any_socket() -> None:
    sandbox = model()
    sandbox.seed_drafts(["acti_1"])
    reply = sandbox.handle(request("GET", "activity/sms/acti_1/", _fields="id,status"))
    assert reply.status == 200
    assert reply.json() == {"id": "acti_1", "status": "draft"}
    assert dict(reply.headers)["RateLimit"].startswith("limit=1000000, remaining=")


def test_handle_checks_a_put_body_against_closes_rules() -> None:
    sandbox = model()
    sandbox.seed_drafts(["acti_1"])
    reply = sandbox.handle(request("PUT", "activity/sms/acti_1/", {"send_in": 5, "x": 1}))
    assert reply.status == 400
    assert reply.json()["field-errors"] == {
        "x": "Unknown field.",
        "send_in": "Only allowed together with status 'outbox'.",
    }
    assert sandbox.log[-1].applied is False


def test_handle_refuses_wrong_credentials_and_logs_it() -> None:
    sandbox = model()
    wrong = Request("GET", "/api/v1/activity/sms/acti_1/", {}, {}, None)
    assert sandbox.handle(wrong).status == 401
    assert sandbox.stats().by_status == {401: 1}


def test_a_dropped_answer_is_a_reply_without_status() -> None:
    sandbox = model()
    sandbox.seed_drafts(["acti_1"])
    sandbox.inject("acti_1", Fault.DROP_AFTER_APPLY)
    reply = sandbox.handle(request("PUT", "activity/sms/acti_1/", {"status": "outbox"}))
    assert reply.status is None
    assert sandbox.sends("acti_1") == 1


@pytest.mark.parametrize(
    ("activity_id", "missing"),
    [("acti_1", False), ("acti_missing_1", True), ("MISSING", True), ("acti_miss", False)],
)
def test_one_rule_for_ids_that_stand_for_missing_sms(activity_id: str, missing: bool) -> None:
    assert stands_for_missing(activity_id) is missing
    sandbox = model(any_id=True)
    assert (sandbox.activity(activity_id) is None) is missing
    assert sandbox.seed_drafts([activity_id]) == (0 if missing else 1)


# --- The mock transport: the same answers as over HTTP -----------------------------------------


def exchange(client: httpx.Client) -> list[tuple[int, Any]]:
    """A few requests of every kind; the answers, as status code and JSON body."""
    answers = [
        client.get("activity/sms/acti_1/", params={"_fields": "id,text"}),
        client.put("activity/sms/acti_1/", json={"text": "x" * 1001}),
        client.put("activity/sms/acti_1/", json={"text": "Edited"}),
        client.get("activity/sms/", params={"id__in": "acti_2,acti_1", "_fields": "id,text"}),
        client.get("activity/sms/nope/"),
        client.delete("activity/sms/acti_1/"),
        client.put("activity/sms/acti_2/", json={"status": "outbox"}),
    ]
    return [(answer.status_code, answer.json()) for answer in answers]


def test_the_mock_transport_answers_as_the_http_server_does() -> None:
    auth = (KEY, "")
    in_process = model()
    in_process.seed_drafts(["acti_1", "acti_2"])
    with httpx.Client(base_url=BASE_URL, auth=auth, transport=mock_transport(in_process)) as c:
        mocked = exchange(c)
    with Sandbox(clock=lambda: NOW) as server:
        server.seed_drafts(["acti_1", "acti_2"])
        with httpx.Client(base_url=server.base_url, auth=auth) as c:
            served = exchange(c)
    assert mocked == served
    assert [status for status, _ in mocked] == [200, 400, 200, 200, 404, 405, 200]


def test_close_client_over_the_mock_transport() -> None:
    sandbox = model()
    sandbox.seed_drafts(["acti_1", "acti_2"])

    async def main() -> tuple[Any, Any, CloseAPIError]:
        async with async_client(sandbox) as client:
            reply = await client.update_sms("acti_1", {"status": "outbox"})
            listed = await client.list_sms(["acti_1", "acti_2"], ["id", "status"])
            with pytest.raises(CloseAPIError) as refused:
                await client.update_sms("acti_1", {"text": "too late"})
        return reply, listed, refused.value

    reply, listed, refused = asyncio.run(main())
    assert reply.activity["status"] == "sent" and reply.rate_limit is not None
    assert listed == [{"id": "acti_1", "status": "sent"}, {"id": "acti_2", "status": "draft"}]
    assert (refused.status_code, refused.message) == (
        400,
        "status: This SMS is 'sent'; only drafts can be modified.",
    )


@pytest.mark.parametrize(
    ("fault", "error"),
    [(Fault.DROP_AFTER_APPLY, httpx.RemoteProtocolError), (Fault.SLOW, httpx.ReadTimeout)],
)
def test_lost_answers_raise_as_they_would_over_http(fault: Fault, error: type[Exception]) -> None:
    sandbox = model(slow_ms=500)
    sandbox.seed_drafts(["acti_1"])
    sandbox.inject("acti_1", fault)

    async def main() -> None:
        async with async_client(sandbox, timeout=0.1) as client:
            await client.update_sms("acti_1", {"text": "applied"})

    with pytest.raises(error):
        asyncio.run(main())
    assert sandbox.activity("acti_1")["text"] == "applied"  # type: ignore[index]


def test_a_slow_answer_within_the_timeout_comes_at_once() -> None:
    sandbox = model(slow_ms=500)
    sandbox.seed_drafts(["acti_1"])
    sandbox.inject("acti_1", Fault.SLOW)

    async def main() -> int:
        async with async_client(sandbox, timeout=5) as client:
            return (await client.update_sms("acti_1", {"text": "slow"})).status_code

    assert asyncio.run(main()) == 200


def run_sender(sandbox: SandboxModel, bodies: dict[str, dict[str, Any]]) -> list[RowResult]:
    updates = [Update(n, n + 2, i, body) for n, (i, body) in enumerate(bodies.items())]
    results: list[RowResult] = []
    settings = SendOptions(concurrency=2, max_retries=3, retry_wait=0.001, max_wait=0.01)

    async def main() -> None:
        async with async_client(sandbox) as client:
            await send_updates(client, updates, results.append, settings)

    asyncio.run(main())
    return sorted(results, key=lambda result: result.index)


def outcomes(results: list[RowResult]) -> list[Outcome]:
    return [result.outcome for result in results]


def test_the_sender_retries_and_reads_back_against_the_model_in_process() -> None:
    sandbox = model()
    sandbox.seed_drafts(["acti_1", "acti_2", "acti_3"])
    sandbox.inject("acti_1", Fault.UNAVAILABLE, Fault.BAD_GATEWAY)
    # The preflight reads the list; the send's answer is lost, the read-back shows it sent.
    sandbox.inject("acti_2", Fault.DROP_AFTER_APPLY)
    results = run_sender(
        sandbox,
        {"acti_1": {"text": "Fixed"}, "acti_2": {"status": "outbox"}, "acti_3": {"x": 1}},
    )
    assert outcomes(results) == [Outcome.UPDATED, Outcome.UPDATED, Outcome.FAILED]
    assert results[0].attempts == 3
    assert "read back: Close shows it sent" in results[1].error_message
    assert sandbox.sends("acti_2") == 1
    assert results[2].http_status == 400
