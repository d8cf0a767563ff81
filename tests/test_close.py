from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable

import httpx
import pytest

from batch_sms.close.client import (
    CloseAPIError,
    CloseClient,
    Credentials,
    RateLimit,
    error_message,
    parse_rate_limit,
    parse_retry_after,
)
from tests.conftest import activity_id

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("limit=100, remaining=50, reset=5", RateLimit(100, 50, 5.0)),
        ("limit=100; remaining=0; reset=0.25", RateLimit(100, 0, 0.25)),
        ("remaining=3,reset=1.5,limit=16", RateLimit(16, 3, 1.5)),
        ("  limit = 40 ,  remaining = 39 , reset = 0.9 ", RateLimit(40, 39, 0.9)),
        (None, None),
        ("", None),
        ("limit=100, remaining=50", None),
        ("limit=100, remaining=fifty, reset=5", None),
        ("limit=100, remaining=-1, reset=5", None),
        ("garbage", None),
        ("limit=1, remaining=1, reset=1, extra=2", None),
    ],
)
def test_parse_rate_limit(header: str | None, expected: RateLimit | None) -> None:
    assert parse_rate_limit(header) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3", 3.0),
        ("0.5", 0.5),
        ("-2", 0.0),
        ("Sun, 29 Nov 2026 12:00:10 GMT", 10.0),
        ("soon", None),
        (None, None),
        ("nan", None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    now = 1795953600.0  # 2026-11-29T12:00:00Z
    assert parse_retry_after(header, now=now) == expected


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            400,
            {"errors": [], "field-errors": {"status": "bad", "text": "too long"}},
            "status: bad; text: too long",
        ),
        (400, {"error": "Only drafts can be modified."}, "Only drafts can be modified."),
        (400, {"errors": ["one", "two"], "field-errors": {}}, "one; two"),
        (400, {"field-errors": {"attachments": ["a", "b"]}}, "attachments: a b"),
        (429, {"error": {"message": "slow down", "rate_reset": 2}}, "slow down"),
        (503, None, "Service Unavailable"),
    ],
)
def test_error_message_flattens_close_errors(status: int, body: object, expected: str) -> None:
    content = b"" if body is None else json.dumps(body).encode()
    assert error_message(httpx.Response(status, content=content)) == expected


def test_error_message_of_an_html_error_page_is_the_reason() -> None:
    response = httpx.Response(502, content=b"<html><body>Bad gateway</body></html>")
    assert error_message(response) == "Bad Gateway"


def test_credentials_never_show_the_secret() -> None:
    assert "secret" not in repr(Credentials(api_key="secret"))
    assert "secret" not in repr(Credentials(oauth_token="secret"))
    with pytest.raises(ValueError):
        Credentials()
    with pytest.raises(ValueError):
        Credentials(api_key="a", oauth_token="b")


def run(handler: Handler, call: Callable[[CloseClient], object], **credentials: str) -> object:
    async def main() -> object:
        client = CloseClient(
            Credentials(**credentials or {"api_key": "key"}),
            base_url="https://close.test/api/v1",
            transport=httpx.MockTransport(handler),
        )
        async with client:
            return await call(client)  # type: ignore[misc]

    return asyncio.run(main())


def test_update_sends_a_put_with_basic_auth_and_json_body() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={"id": activity_id(1), "status": "sent", "date_sent": "2026-11-29T12:00:00Z"},
            headers={"RateLimit": "limit=10, remaining=9, reset=1"},
        )

    reply = run(handler, lambda c: c.update_sms(activity_id(1), {"status": "outbox"}))
    request = seen[0]
    assert request.method == "PUT"
    assert str(request.url) == f"https://close.test/api/v1/activity/sms/{activity_id(1)}/"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"key:").decode()
    assert json.loads(request.content) == {"status": "outbox"}
    assert reply.activity["status"] == "sent"  # type: ignore[attr-defined]
    assert reply.rate_limit == RateLimit(10, 9, 1.0)  # type: ignore[attr-defined]


def test_oauth_token_is_sent_as_bearer() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": activity_id(1)})

    run(handler, lambda c: c.get_sms(activity_id(1)), oauth_token="tok")
    assert seen[0].headers["Authorization"] == "Bearer tok"


@pytest.mark.parametrize(
    ("status", "headers", "body", "retry_after"),
    [
        (429, {"RateLimit": "limit=10, remaining=0, reset=0.75", "Retry-After": "1"}, {}, 0.75),
        (429, {"Retry-After": "2"}, {}, 2.0),
        (429, {}, {"error": {"rate_reset": 1.5}}, 1.5),
        (429, {}, None, None),
        (503, {"Retry-After": "4"}, None, 4.0),
        (503, {}, None, None),
        (400, {"RateLimit": "limit=10, remaining=5, reset=1"}, {"error": "no"}, None),
    ],
)
def test_errors_carry_the_wait_the_server_asks_for(
    status: int, headers: dict[str, str], body: object, retry_after: float | None
) -> None:
    content = b"" if body is None else json.dumps(body).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers=headers, content=content)

    with pytest.raises(CloseAPIError) as raised:
        run(handler, lambda c: c.update_sms(activity_id(1), {"text": "x"}))
    assert raised.value.status_code == status
    assert raised.value.retry_after == retry_after


def test_list_sms_asks_for_the_ids_and_fields() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": [{"id": activity_id(1)}], "has_more": False})

    ids = [activity_id(1), activity_id(2)]
    found = run(handler, lambda c: c.list_sms(ids, ["id", "status"]))
    assert found == [{"id": activity_id(1)}]
    assert dict(seen[0].url.params) == {
        "id__in": ",".join(ids),
        "_fields": "id,status",
        "_limit": "2",
    }
