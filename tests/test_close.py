from __future__ import annotations

import asyncio
import base64
import gzip
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from batch_sms.close.client import (
    MAX_FIELD_CHARS,
    AnswerTooSlow,
    BadAnswer,
    CloseAPIError,
    CloseClient,
    Credentials,
    RateLimit,
    check_base_url,
    error_message,
    parse_rate_limit,
    parse_retry_after,
    server_wait,
    shown_url,
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
        (f"limit={'9' * 400}, remaining=5, reset=1", None),
        (f"limit=100, remaining=5, reset=0.{'5' * 400}", None),
        ("limit=100, remaining=0, reset=1000000000000", None),
        ("limit=100, remaining=0, reset=301", None),
        ("limit=100, remaining=0, reset=300", RateLimit(100, 0, 300.0)),
        ("limit=100, remaining=5, reset=inf", None),
        ("limit=100, remaining=5, reset=nan", None),
        ("limit=100, remaining=5, reset=1" + " " * 300, None),
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
        ("inf", None),
        ("Infinity", None),
        ("1e400", None),
        ("9" * 4000, None),
        ("31536000", 31536000.0),
        ("Fri, 31 Dec 9999 23:59:59 GMT", 253402300799.0 - 1795953600.0),
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


@pytest.mark.parametrize(
    "content",
    [b"[" * 200_000 + b"]" * 200_000, b'{"error": ' * 100_000, b'{"error": NaN}', b"\xff\xfe"],
)
def test_error_message_of_a_body_that_cannot_be_parsed_is_no_crash(content: bytes) -> None:
    message = error_message(httpx.Response(400, content=content))
    assert message.startswith("Bad Request")
    assert len(message) <= 300


def test_error_message_of_errors_nested_in_lists_is_no_crash() -> None:
    nested = b'{"errors": [' + b"[" * 800 + b"]" * 800 + b', {"a": 1}, 7, "plain"]}'
    message = error_message(httpx.Response(400, content=nested))
    # Too deep to be Close's: quoted as text, not read as Close's errors.
    assert message.startswith('Bad Request: {"errors": [[[[') and len(message) <= 300
    shallow = {"errors": [[["x"]], {"a": 1}, 7, None, "plain"], "field-errors": {"t": [1, 2]}}
    message = error_message(httpx.Response(400, json=shallow))
    assert message == "(a list); (an object); 7; plain; t: 1 2"


def test_error_message_escapes_and_cuts_what_the_server_wrote() -> None:
    text = "\x1b]0;owned\x07\x1b[2JInvalid " + "a" * 4000
    message = error_message(httpx.Response(401, json={"error": text}))
    assert "\x1b" not in message and "\x07" not in message
    assert message.startswith("\\x1b]0;owned\\x07\\x1b[2JInvalid aaa")
    assert message.endswith("more characters)")
    assert len(message) <= 300


@pytest.mark.parametrize(
    ("status", "headers", "body", "wait"),
    [
        (429, {}, b'{"error": {"rate_reset": Infinity}}', None),
        (429, {}, b'{"error": {"rate_reset": NaN}}', None),
        (429, {}, b'{"error": {"rate_reset": 1e999}}', None),
        (429, {}, b'{"error": {"rate_reset": -5}}', 0.0),
        (429, {}, b'{"error": {"rate_reset": "' + b"9" * 5000 + b'"}}', None),
        (429, {"Retry-After": "31536000"}, b"", 31536000.0),
        (429, {"RateLimit": "limit=1, remaining=0, reset=1000000000000"}, b"", None),
    ],
)
def test_server_wait_is_finite_and_never_negative(
    status: int, headers: dict[str, str], body: bytes, wait: float | None
) -> None:
    response = httpx.Response(status, headers=headers, content=body)
    rate_limit = parse_rate_limit(response.headers.get("RateLimit"))
    assert server_wait(response, rate_limit) == wait


@pytest.mark.parametrize(
    "url",
    [
        "https://api.close.com/api/v1/",
        "https://close.test:8443/api/v1",
        "http://127.0.0.1:8765/api/v1/",
        "http://127.8.9.10/api/v1/",
        "http://localhost:8765/api/v1/",
        "http://LOCALHOST./api/v1/",
        "http://[::1]:8765/api/v1/",
    ],
)
def test_base_urls_the_key_may_travel_to(url: str) -> None:
    assert check_base_url(url) == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("api.close.com", "'api.close.com' is not an http(s) URL, like https://api.close.com"),
        ("ftp://api.close.com/", "is not an http(s) URL"),
        ("http://api.close.com/api/v1/", "'http://api.close.com/api/v1/' is plain http"),
        ("http://10.0.0.7:8765/api/v1/", "is plain http: the API key would travel unencrypted"),
        ("http://localhost.evil.example/", "is plain http"),
        ("http://[::ffff:7f00:1]/", "is plain http"),
        (
            "https://user:s3cret@api.close.com/api/v1/",
            "'https://api.close.com/api/v1/' holds a user name or password before the host",
        ),
        ("http://s3cret@127.0.0.1:1/", "'http://127.0.0.1:1/' holds a user name or password"),
        ("https://:s3cret@api.close.com/", "holds a user name or password"),
    ],
)
def test_base_urls_the_key_must_not_travel_to(url: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        check_base_url(url)
    assert message in str(raised.value)
    assert "s3cret" not in str(raised.value)


def test_a_client_for_plain_http_elsewhere_cannot_be_made() -> None:
    with pytest.raises(ValueError, match="plain http"):
        CloseClient(Credentials(api_key="k"), base_url="http://api.close.com/api/v1/")


def test_a_url_is_shown_without_credentials_or_control_characters() -> None:
    shown = shown_url("https://user:s3cret@host.test/\x1b[2Jpath")
    assert shown == "https://host.test/\\x1b[2Jpath"


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


def answering(response: httpx.Response) -> Handler:
    return lambda request: response


ONE = activity_id(1)
HTML = b"<!DOCTYPE html><html><head><title>Guest Wi-Fi</title></head><body>Accept</body></html>"


@pytest.mark.parametrize(
    ("response", "what"),
    [
        (httpx.Response(200, content=HTML, headers={"Content-Type": "text/html"}), "an HTML page"),
        (
            httpx.Response(200, content=b"  <html>", headers={"Content-Type": "text/plain"}),
            "an HTML page",
        ),
        (httpx.Response(200, content=b"ok"), "an answer that is not JSON"),
        (httpx.Response(204), "an empty answer"),
        (httpx.Response(200, json=[ONE]), "JSON that is not an SMS activity"),
        (httpx.Response(200, json={"status": "sent"}), "JSON without the SMS's id"),
        (
            httpx.Response(200, json={"id": activity_id(2), "status": "sent"}),
            f"an answer about another SMS ({activity_id(2)}) than {ONE}",
        ),
        (httpx.Response(200, json={"id": [ONE]}), "an answer about another SMS"),
        (
            httpx.Response(200, content=b"[" * 200_000 + b"]" * 200_000),
            "JSON nested too deep to be Close's",
        ),
        (httpx.Response(200, content=b'{"id": NaN}'), "an answer that is not JSON"),
        (
            httpx.Response(200, content=b'{"id": "x", "status": ' + b"[" * 900 + b"]" * 900 + b"}"),
            "JSON nested too deep to be Close's",
        ),
        (
            httpx.Response(200, content=b'{"id": ' + b"1" * 5000 + b"}"),
            "an answer that is not JSON",
        ),
        (
            httpx.Response(302, headers={"Location": "https://login.example/?next=/api"}),
            "a redirect to https://login.example/?next=/api (not followed)",
        ),
        (httpx.Response(301), "a redirect to nowhere (not followed)"),
        (
            httpx.Response(200, content=b"{" + b" " * 1_000_001 + b"}"),
            "an answer bigger than 1,000,000 bytes",
        ),
    ],
)
def test_an_answer_not_shaped_as_closes_is_a_bad_answer(
    response: httpx.Response, what: str
) -> None:
    with pytest.raises(BadAnswer) as raised:
        run(answering(response), lambda c: c.update_sms(ONE, {"status": "outbox"}))
    assert raised.value.what.startswith(what)
    assert raised.value.status_code == response.status_code


def test_a_bad_answer_says_what_came_back_escaped_and_short() -> None:
    page = b"<html>\x1b[2J" + b"x" * 5000
    response = httpx.Response(200, content=page, headers={"Content-Type": "text/html"})
    with pytest.raises(BadAnswer) as raised:
        run(answering(response), lambda c: c.get_sms(ONE))
    assert raised.value.detail.startswith(
        "a 200 answer, text/html, 5,010 bytes: '<html>\\x1b[2Jxxx"
    )
    assert "\x1b" not in str(raised.value)
    assert len(str(raised.value)) < 200


def test_a_declared_body_over_the_cap_is_not_read() -> None:
    async def body() -> Any:
        yield b"{}"
        raise AssertionError("the body was read")

    response = httpx.Response(200, content=body(), headers={"Content-Length": "5000000"})
    with pytest.raises(BadAnswer, match="bigger than 1,000,000 bytes"):
        run(answering(response), lambda c: c.get_sms(ONE))


def test_a_body_over_the_cap_is_cut_as_it_streams() -> None:
    chunks = 0

    async def endless() -> Any:
        nonlocal chunks
        while True:
            chunks += 1
            yield b"[" * 65_536

    response = httpx.Response(200, content=endless())
    with pytest.raises(BadAnswer, match="not read past 1,000,000 bytes"):
        run(answering(response), lambda c: c.get_sms(ONE))
    assert chunks == 16  # 16 * 64 KiB is just over 1 MB


def test_a_body_trickled_past_the_timeout_is_cut_off() -> None:
    async def trickle() -> Any:
        for byte in b'{"id": "' + ONE.encode() + b'"}':
            await asyncio.sleep(0.05)
            yield bytes([byte])

    async def main() -> None:
        client = CloseClient(
            Credentials(api_key="k"),
            base_url="https://close.test/api/v1",
            timeout=0.3,
            transport=httpx.MockTransport(lambda request: httpx.Response(200, content=trickle())),
        )
        async with client:
            await client.get_sms(ONE)

    started = time.monotonic()
    with pytest.raises(AnswerTooSlow, match="no whole answer within 0.3 s"):
        asyncio.run(main())
    assert time.monotonic() - started < 1.0


def test_long_strings_in_an_answer_are_cut() -> None:
    response = httpx.Response(200, json={"id": ONE, "error_message": "e" * 100_000})
    reply = run(answering(response), lambda c: c.get_sms(ONE))
    assert len(reply.activity["error_message"]) == MAX_FIELD_CHARS  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("body", "what"),
    [
        ({"data": []}, "JSON without Close's `data` list and `has_more`"),
        ({"items": [], "has_more": False}, "JSON without Close's `data` list"),
        ({"data": {}, "has_more": False}, "JSON without Close's `data` list"),
        ([], "JSON without Close's `data` list"),
        ({"data": [{"id": activity_id(3)}], "has_more": False}, "a list holding other SMS"),
        ({"data": [ONE], "has_more": False}, "a list holding other SMS"),
        ({"data": [{"id": [ONE]}], "has_more": False}, "a list holding other SMS"),
    ],
)
def test_a_list_answer_not_shaped_as_closes_is_a_bad_answer(body: object, what: str) -> None:
    with pytest.raises(BadAnswer) as raised:
        run(answering(httpx.Response(200, json=body)), lambda c: c.list_sms([ONE], ["id"]))
    assert raised.value.what.startswith(what)


def test_redirects_are_not_followed() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(307, headers={"Location": "https://elsewhere.test/steal"})

    with pytest.raises(BadAnswer, match="a redirect to https://elsewhere.test/steal"):
        run(handler, lambda c: c.update_sms(ONE, {"status": "outbox"}))
    assert [str(r.url.host) for r in seen] == ["close.test"]


def test_a_streamed_gzip_body_is_inflated_under_the_cap() -> None:
    async def pieces(data: bytes) -> Any:
        for at in range(0, len(data), 100):
            yield data[at : at + 100]

    def handler(request: httpx.Request) -> httpx.Response:
        body = gzip.compress(json.dumps({"id": ONE, "status": "draft"}).encode())
        return httpx.Response(200, content=pieces(body), headers={"Content-Encoding": "gzip"})

    reply = run(handler, lambda c: c.get_sms(ONE))
    assert reply.activity == {"id": ONE, "status": "draft"}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("encoding", "body"), [("gzip", b"not gzip"), ("br", b"\x00"), ("gzip, gzip", b"")]
)
def test_a_body_that_cannot_be_inflated_is_a_bad_answer(encoding: str, body: bytes) -> None:
    async def stream() -> Any:
        yield body

    response = httpx.Response(200, content=stream(), headers={"Content-Encoding": encoding})
    with pytest.raises(BadAnswer, match="a body that cannot be decoded"):
        run(answering(response), lambda c: c.get_sms(ONE))
