"""The sandbox must behave like Close's SMS endpoints, over real HTTP on loopback."""

from __future__ import annotations

import _thread
import base64
import re
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from batch_sms.sandbox import Fault, LogEntry, Sandbox, SandboxOptions

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
TOMORROW = "2030-01-02T10:00:00+00:00"
# Plain HTTP only; one shared context spares each client loading the CA bundle (~30 ms).
SSL = ssl.create_default_context()
KEY = "sandbox_api_key"
TOKEN = "sandbox_oauth_token"
DRAFTS = ["sms_1", "sms_2", "sms_3", "sms_4", "sms_5"]
RATELIMIT = re.compile(r"limit=(\d+), remaining=(\d+), reset=(\d+(?:\.\d{1,3})?)")
# The fields Close's OpenAPI description marks as required in an SMSActivity.
REQUIRED_FIELDS = """
    _type activity_at contact_id cost created_by date_created date_scheduled date_sent
    date_updated direction error_message id lead_id local_country_iso local_phone
    local_phone_formatted organization_id remote_country_iso remote_phone remote_phone_formatted
    source status template_id text updated_by user_id users
""".split()


class Clock:
    """An injectable "now", so that no test depends on the time of day."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@contextmanager
def serve(clock: Clock | None = None, **config: Any) -> Iterator[tuple[Sandbox, httpx.Client]]:
    """A running sandbox with DRAFTS seeded, and a client using its API key."""
    with Sandbox(SandboxOptions(**config), clock=clock or Clock()) as sandbox:
        sandbox.seed_drafts(DRAFTS)
        with client_for(sandbox) as client:
            yield sandbox, client


def client_for(
    sandbox: Sandbox, auth: Any = (KEY, ""), timeout: float = 5.0, **kwargs: Any
) -> httpx.Client:
    return httpx.Client(base_url=sandbox.base_url, auth=auth, timeout=timeout, verify=SSL, **kwargs)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(clock: Clock) -> Iterator[Sandbox]:
    with Sandbox(clock=clock) as sandbox:
        sandbox.seed_drafts(DRAFTS)
        yield sandbox


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with client_for(sandbox) as client:
        yield client


def put(client: httpx.Client, activity_id: str, body: Any, **kwargs: Any) -> httpx.Response:
    return client.put(f"activity/sms/{activity_id}/", json=body, **kwargs)


def field_errors(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["errors"] == []
    return body["field-errors"]


def rate_limit(response: httpx.Response) -> tuple[int, int, float]:
    match = RATELIMIT.fullmatch(response.headers["RateLimit"])
    assert match, response.headers["RateLimit"]
    return int(match[1]), int(match[2]), float(match[3])


def stored(sandbox: Sandbox, activity_id: str) -> dict[str, Any]:
    activity = sandbox.activity(activity_id)
    assert activity is not None
    return activity


def last_entry(sandbox: Sandbox) -> LogEntry:
    return sandbox.log[-1]


# --- Configuration and state helpers -----------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        {"fail_rate": 1.5},
        {"drop_rate": -0.1},
        {"rate_limit": 0},
        {"rate_window": 0},
        {"slow_ms": -1},
        {"org_phones": ()},
    ],
)
def test_config_refuses_nonsense(config: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SandboxOptions(**config)


def test_add_activity_has_realistic_defaults_and_overrides(sandbox: Sandbox) -> None:
    activity = sandbox.add_activity("acti_x", text="Custom", remote_phone="+442071838751")
    assert activity["status"] == "draft"
    assert activity["direction"] == "outbound"
    assert activity["local_phone"] == sandbox.config.org_phones[0]
    assert activity["remote_phone"] == "+442071838751"
    assert activity["remote_country_iso"] == "GB"
    assert activity["text"] == "Custom"
    assert activity["lead_id"] and activity["contact_id"] and activity["user_id"]
    assert activity["date_created"] == NOW.isoformat()


def test_activity_returns_a_copy(sandbox: Sandbox) -> None:
    copy = stored(sandbox, "sms_1")
    copy["text"] = "changed"
    copy["attachments"].append("x")
    assert stored(sandbox, "sms_1")["text"] != "changed"
    assert stored(sandbox, "sms_1")["attachments"] == []
    assert sandbox.activity("nope") is None


def test_seed_drafts_skips_missing_ids(client: httpx.Client, sandbox: Sandbox) -> None:
    assert sandbox.seed_drafts(["new_1", "MISSING_2", "id-missing-3", "new_4"]) == 2
    assert client.get("activity/sms/new_1/").status_code == 200
    response = client.get("activity/sms/MISSING_2/")
    assert response.status_code == 404
    assert "error" in response.json()


def test_base_url_needs_a_started_sandbox() -> None:
    with pytest.raises(RuntimeError):
        Sandbox().base_url  # noqa: B018


# --- Authentication ----------------------------------------------------------------------------


def test_basic_auth_with_the_api_key(client: httpx.Client) -> None:
    assert client.get("activity/sms/sms_1/").status_code == 200


def test_bearer_auth_with_the_oauth_token(sandbox: Sandbox) -> None:
    with client_for(sandbox, auth=None) as client:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        assert client.get("activity/sms/sms_1/", headers=headers).status_code == 200


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Basic " + base64.b64encode(b"wrong_key:").decode(),
        "Basic " + base64.b64encode(f"{KEY}:password".encode()).decode(),
        "Basic not-base64!",
        f"Bearer {KEY}",
        "Bearer wrong_token",
        f"Token {TOKEN}",
    ],
)
def test_bad_credentials_get_401(sandbox: Sandbox, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    with client_for(sandbox, auth=None) as client:
        response = client.get("activity/sms/sms_1/", headers=headers)
    assert response.status_code == 401
    assert "error" in response.json()
    assert "WWW-Authenticate" in response.headers
    assert KEY not in response.text and TOKEN not in response.text
    assert last_entry(sandbox).status_code == 401


def test_revoked_credentials_are_refused_after_n_requests(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    sandbox.revoke_credentials_after(2)
    codes = [client.get("activity/sms/sms_1/").status_code for _ in range(4)]
    assert codes == [200, 200, 401, 401]
    with client_for(sandbox, auth=None) as bearer:
        response = bearer.get("activity/sms/sms_1/", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 401


def test_auth_is_checked_before_queued_faults(client: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.inject("sms_1", Fault.UNAVAILABLE)
    with client_for(sandbox, auth=("wrong", "")) as stranger:
        assert stranger.get("activity/sms/sms_1/").status_code == 401
    assert client.get("activity/sms/sms_1/").status_code == 503
    assert client.get("activity/sms/sms_1/").status_code == 200


# --- Routes ------------------------------------------------------------------------------------


def test_get_returns_the_full_activity(client: httpx.Client) -> None:
    response = client.get("activity/sms/sms_1/")
    assert response.status_code == 200
    activity = response.json()
    assert set(REQUIRED_FIELDS) <= set(activity)
    assert activity["_type"] == "SMS"
    assert activity["id"] == "sms_1"
    for key in ("date_created", "date_updated", "activity_at"):
        assert datetime.fromisoformat(activity[key]).utcoffset() is not None


def test_trailing_slash_is_optional(client: httpx.Client) -> None:
    assert client.get("activity/sms/sms_1").status_code == 200
    assert put(client, "sms_1", {"text": "a"}).status_code == 200
    assert client.put("activity/sms/sms_1", json={"text": "b"}).json()["text"] == "b"
    assert client.get("activity/sms").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "lead/lead_1/", 404),
        ("GET", "activity/sms/sms_1/extra/", 404),
        ("PUT", "activity/sms/nope/", 404),
        ("GET", "activity/sms/nope/", 404),
        ("DELETE", "activity/sms/sms_1/", 405),
        ("POST", "activity/sms/", 405),
        ("PUT", "activity/sms/", 405),
    ],
)
def test_unknown_routes_ids_and_methods(
    client: httpx.Client, method: str, path: str, status: int
) -> None:
    response = client.request(method, path, json={"text": "x"})
    assert response.status_code == status
    assert "error" in response.json()


# --- Updates on drafts -------------------------------------------------------------------------


def test_put_behaves_like_patch(client: httpx.Client, sandbox: Sandbox, clock: Clock) -> None:
    before = sandbox.activity("sms_1")
    assert before is not None
    clock.advance(5)
    response = put(client, "sms_1", {"text": "New text", "lead_id": "lead_other"})
    assert response.status_code == 200
    after = response.json()
    assert after == sandbox.activity("sms_1")
    changed = {key for key in after if after[key] != before[key]}
    assert changed == {"text", "lead_id", "date_updated"}
    assert after["date_updated"] == (NOW + timedelta(seconds=5)).isoformat()
    assert last_entry(sandbox).applied is True


def test_put_without_changes_is_not_applied(client: httpx.Client, sandbox: Sandbox) -> None:
    text = put(client, "sms_1", {}).json()["text"]
    assert put(client, "sms_1", {"text": text}).status_code == 200
    assert last_entry(sandbox).applied is False


def test_template_is_rendered_into_text(client: httpx.Client) -> None:
    activity = put(client, "sms_1", {"template_id": "tmpl_welcome"}).json()
    assert activity["template_id"] == "tmpl_welcome"
    assert activity["text"] == "Rendered template tmpl_welcome"


def test_phones_and_attachments_are_stored(client: httpx.Client) -> None:
    attachment = {"content_type": "image/png", "filename": "a.png", "url": "https://x/a.png"}
    body = {"local_phone": "+442071838750", "remote_phone": "+4915112345678"}
    activity = put(client, "sms_1", body | {"attachments": [attachment]}).json()
    assert activity["local_phone"] == "+442071838750"
    assert activity["remote_country_iso"] == "DE"
    assert activity["attachments"] == [attachment]


@pytest.mark.parametrize("content", [b"[1, 2]", b'"text"', b"null", b"{not json", b""])
def test_body_must_be_a_json_object(client: httpx.Client, content: bytes) -> None:
    response = client.put("activity/sms/sms_1/", content=content)
    assert response.status_code == 400
    assert "error" in response.json()


def attachment(content_type: str = "image/png") -> dict[str, str]:
    return {"content_type": content_type, "filename": "f", "url": "https://example.com/f"}


BAD_BODIES = [
    ({"colour": "red"}, "colour"),
    ({"status": "sent"}, "status"),
    ({"status": "inbox"}, "status"),
    ({"status": "bogus"}, "status"),
    ({"status": 3}, "status"),
    ({"status": "scheduled"}, "date_scheduled"),
    ({"status": "scheduled", "date_scheduled": "next tuesday"}, "date_scheduled"),
    ({"status": "scheduled", "date_scheduled": "2030-01-02T10:00:00"}, "date_scheduled"),
    ({"status": "scheduled", "date_scheduled": "2029-12-31T10:00:00Z"}, "date_scheduled"),
    ({"date_scheduled": TOMORROW}, "date_scheduled"),
    ({"status": "outbox", "date_scheduled": TOMORROW}, "date_scheduled"),
    ({"send_in": 5}, "send_in"),
    ({"status": "outbox", "send_in": 60}, "send_in"),
    ({"status": "outbox", "send_in": -1}, "send_in"),
    ({"status": "outbox", "send_in": "5"}, "send_in"),
    ({"status": "outbox", "send_in": True}, "send_in"),
    ({"text": "x" * 1001}, "text"),
    ({"text": 42}, "text"),
    ({"remote_phone": "4155550100"}, "remote_phone"),
    ({"remote_phone": "+0415555010"}, "remote_phone"),
    ({"remote_phone": None}, "remote_phone"),
    ({"local_phone": "+14155550199"}, "local_phone"),
    ({"local_phone": "(415) 555-0100"}, "local_phone"),
    ({"attachments": [attachment()] * 11}, "attachments"),
    ({"attachments": [attachment("image/webp")]}, "attachments"),
    ({"attachments": [{"content_type": "image/png"}]}, "attachments"),
    ({"attachments": ["a.png"]}, "attachments"),
    ({"attachments": attachment()}, "attachments"),
    ({"template_id": "welcome"}, "template_id"),
    ({"lead_id": 7}, "lead_id"),
    ({"activity_at": "yesterday"}, "activity_at"),
]


@pytest.mark.parametrize(("body", "field"), BAD_BODIES)
def test_bad_bodies_get_field_errors(
    client: httpx.Client, sandbox: Sandbox, body: dict[str, Any], field: str
) -> None:
    before = sandbox.activity("sms_1")
    errors = field_errors(put(client, "sms_1", body))
    assert field in errors
    assert errors[field]
    assert sandbox.activity("sms_1") == before
    assert last_entry(sandbox).applied is False
    assert sandbox.sends("sms_1") == 0


@pytest.mark.parametrize(
    "body",
    [
        {"text": "x" * 1000},
        {"text": None, "template_id": None, "lead_id": None, "activity_at": TOMORROW},
        {"attachments": [attachment(t) for t in ("image/jpeg", "video/H264", "text/x-vcard")]},
        {"attachments": [attachment()] * 10},
        {"attachments": None},
        {"local_phone": "+14155550101", "remote_phone": "+12025550143"},
        {"status": "outbox", "send_in": 59},
        {"status": "scheduled", "date_scheduled": "2030-01-01T12:00:01Z"},
        {"status": "draft"},
    ],
)
def test_bodies_at_the_limits_are_accepted(client: httpx.Client, body: dict[str, Any]) -> None:
    response = put(client, "sms_1", body)
    assert response.status_code == 200, response.text


def test_unknown_field_message(client: httpx.Client) -> None:
    assert field_errors(put(client, "sms_1", {"colour": "red"})) == {"colour": "Unknown field."}


def test_local_phone_must_belong_to_the_organization(client: httpx.Client) -> None:
    errors = field_errors(put(client, "sms_1", {"local_phone": "+14155550199"}))
    assert "not one of your organization's SMS-enabled numbers" in errors["local_phone"]


def test_all_field_errors_are_collected(client: httpx.Client) -> None:
    body = {"text": "x" * 1001, "remote_phone": "nope", "colour": 1, "send_in": 3}
    assert set(field_errors(put(client, "sms_1", body))) == {
        "text",
        "remote_phone",
        "colour",
        "send_in",
    }


# --- Scheduling and sending ---------------------------------------------------------------------


def test_schedule_then_cancel_to_draft(client: httpx.Client, sandbox: Sandbox) -> None:
    scheduled = put(client, "sms_1", {"status": "scheduled", "date_scheduled": TOMORROW}).json()
    assert scheduled["status"] == "scheduled"
    assert datetime.fromisoformat(scheduled["date_scheduled"]) == datetime.fromisoformat(TOMORROW)
    assert scheduled["date_sent"] is None
    cancelled = put(client, "sms_1", {"status": "draft"}).json()
    assert cancelled["status"] == "draft"
    assert cancelled["date_scheduled"] is None
    assert sandbox.sends("sms_1") == 1


def test_scheduled_sms_is_sent_when_its_time_comes(
    client: httpx.Client, sandbox: Sandbox, clock: Clock
) -> None:
    put(client, "sms_1", {"status": "scheduled", "date_scheduled": TOMORROW})
    clock.now = datetime.fromisoformat(TOMORROW) + timedelta(seconds=1)
    activity = client.get("activity/sms/sms_1/").json()
    assert activity["status"] == "sent"
    assert datetime.fromisoformat(activity["date_sent"]) == datetime.fromisoformat(TOMORROW)
    assert "status" in field_errors(put(client, "sms_1", {"status": "draft"}))


@pytest.mark.parametrize(
    ("offset", "expected"),
    [("5.5", "2030-01-02T04:30:00+00:00"), ("-4", "2030-01-02T14:00:00+00:00")],
)
def test_naive_schedule_time_uses_the_tz_offset_header(
    client: httpx.Client, offset: str, expected: str
) -> None:
    body = {"status": "scheduled", "date_scheduled": "2030-01-02T10:00:00"}
    response = put(client, "sms_1", body, headers={"X-TZ-Offset": offset})
    assert response.status_code == 200, response.text
    got = datetime.fromisoformat(response.json()["date_scheduled"])
    assert got == datetime.fromisoformat(expected)


@pytest.mark.parametrize("offset", ["abc", "15", "nan"])
def test_bad_tz_offset_header_is_a_field_error(client: httpx.Client, offset: str) -> None:
    body = {"status": "scheduled", "date_scheduled": "2030-01-02T10:00:00"}
    response = put(client, "sms_1", body, headers={"X-TZ-Offset": offset})
    assert "date_scheduled" in field_errors(response)


def test_explicit_offset_wins_over_the_header(client: httpx.Client) -> None:
    body = {"status": "scheduled", "date_scheduled": "2030-01-02T10:00:00+02:00"}
    response = put(client, "sms_1", body, headers={"X-TZ-Offset": "5"})
    got = datetime.fromisoformat(response.json()["date_scheduled"])
    assert got == datetime(2030, 1, 2, 8, 0, tzinfo=UTC)


def test_outbox_sends_at_once(client: httpx.Client, sandbox: Sandbox) -> None:
    activity = put(client, "sms_1", {"status": "outbox"}).json()
    assert activity["status"] == "sent"
    assert datetime.fromisoformat(activity["date_sent"]) == NOW
    assert sandbox.sends("sms_1") == 1


def test_outbox_with_send_in_stays_outbox_until_due(
    client: httpx.Client, sandbox: Sandbox, clock: Clock
) -> None:
    activity = put(client, "sms_1", {"status": "outbox", "send_in": 30}).json()
    assert (activity["status"], activity["date_sent"]) == ("outbox", None)
    clock.advance(29)
    assert client.get("activity/sms/sms_1/").json()["status"] == "outbox"
    clock.advance(2)
    activity = client.get("activity/sms/sms_1/").json()
    assert activity["status"] == "sent"
    assert datetime.fromisoformat(activity["date_sent"]) == NOW + timedelta(seconds=30)
    assert sandbox.sends("sms_1") == 1


def test_outbox_with_send_in_can_be_cancelled(
    client: httpx.Client, sandbox: Sandbox, clock: Clock
) -> None:
    put(client, "sms_1", {"status": "outbox", "send_in": 10})
    assert put(client, "sms_1", {"status": "draft"}).json()["status"] == "draft"
    clock.advance(60)
    assert stored(sandbox, "sms_1")["status"] == "draft"


def test_send_in_zero_is_sent_in_the_answer(client: httpx.Client) -> None:
    assert put(client, "sms_1", {"status": "outbox", "send_in": 0}).json()["status"] == "sent"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        ("sent", {"text": "edit"}),
        ("sent", {"status": "draft"}),
        ("sent", {"status": "outbox"}),
        ("inbox", {"text": "edit"}),
        ("error", {"status": "draft"}),
        ("scheduled", {"text": "edit"}),
        ("scheduled", {"status": "draft", "text": "edit"}),
        ("outbox", {"status": "scheduled", "date_scheduled": TOMORROW}),
    ],
)
def test_non_drafts_refuse_edits(
    client: httpx.Client, sandbox: Sandbox, status: str, body: dict[str, Any]
) -> None:
    before = sandbox.add_activity("acti_x", status=status)
    errors = field_errors(put(client, "acti_x", body))
    assert errors["status"] == f"This SMS is '{status}'; only drafts can be modified."
    assert sandbox.activity("acti_x") == before
    assert sandbox.sends("acti_x") == 0


def test_sends_counts_every_applied_move_to_outbox_or_scheduled(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    put(client, "sms_1", {"status": "scheduled", "date_scheduled": TOMORROW})
    put(client, "sms_1", {"status": "draft"})
    put(client, "sms_1", {"status": "outbox"})
    put(client, "sms_1", {"status": "outbox"})  # refused: already sent
    put(client, "sms_2", {"status": "outbox", "send_in": 99})  # refused: bad send_in
    assert (sandbox.sends("sms_1"), sandbox.sends("sms_2"), sandbox.sends("nope")) == (2, 0, 0)


# --- The list endpoint -------------------------------------------------------------------------


def list_sms(client: httpx.Client, **params: Any) -> dict[str, Any]:
    response = client.get("activity/sms/", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_list_by_ids_with_fields(client: httpx.Client) -> None:
    page = list_sms(client, id__in="sms_2,missing_1,sms_1", _fields="id,status")
    assert page == {
        "data": [{"id": "sms_2", "status": "draft"}, {"id": "sms_1", "status": "draft"}],
        "has_more": False,
    }


def test_list_pages_with_limit_and_skip(client: httpx.Client) -> None:
    ids = ",".join(DRAFTS)
    first = list_sms(client, id__in=ids, _fields="id", _limit=2)
    assert first == {"data": [{"id": "sms_1"}, {"id": "sms_2"}], "has_more": True}
    last = list_sms(client, id__in=ids, _fields="id", _limit=2, _skip=4)
    assert last == {"data": [{"id": "sms_5"}], "has_more": False}


def test_list_defaults_to_everything_with_full_objects(client: httpx.Client) -> None:
    page = list_sms(client)
    assert [a["id"] for a in page["data"]] == DRAFTS
    assert set(REQUIRED_FIELDS) <= set(page["data"][0])
    assert page["has_more"] is False


def test_list_shows_delayed_sends_once_due(client: httpx.Client, clock: Clock) -> None:
    put(client, "sms_1", {"status": "outbox", "send_in": 5})
    clock.advance(6)
    assert list_sms(client, id__in="sms_1")["data"][0]["status"] == "sent"


@pytest.mark.parametrize("params", [{"_limit": "x"}, {"_limit": 0}, {"_skip": -1}])
def test_list_refuses_bad_paging(client: httpx.Client, params: dict[str, Any]) -> None:
    response = client.get("activity/sms/", params=params)
    assert response.status_code == 400
    assert "error" in response.json()


# --- Rate limits -------------------------------------------------------------------------------


def test_every_answer_carries_a_ratelimit_header(client: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.inject("sms_2", Fault.UNAVAILABLE, Fault.BAD_GATEWAY, Fault.RATE_LIMITED)
    with client_for(sandbox, auth=None) as anonymous:
        responses = [
            client.get("activity/sms/sms_1/"),
            put(client, "sms_1", {"colour": 1}),
            client.get("activity/sms/nope/"),
            client.get("nowhere/"),
            client.delete("activity/sms/sms_1/"),
            client.get("activity/sms/", params={"_limit": 0}),
            client.get("activity/sms/sms_2/"),
            client.get("activity/sms/sms_2/"),
            client.get("activity/sms/sms_2/"),
            anonymous.get("activity/sms/sms_1/"),
        ]
    codes = [r.status_code for r in responses]
    assert codes == [200, 400, 404, 404, 405, 400, 503, 502, 429, 401]
    for response in responses:
        limit, _, reset = rate_limit(response)
        assert limit == 1_000_000 and 0 <= reset <= 1


def test_rate_limit_answers_429_then_recovers() -> None:
    with serve(rate_limit=2, rate_window=0.2) as (sandbox, client):
        first, second, third = (client.get("activity/sms/sms_1/") for _ in range(3))
        assert [rate_limit(r)[:2] for r in (first, second)] == [(2, 1), (2, 0)]
        assert third.status_code == 429
        limit, remaining, reset = rate_limit(third)
        assert (limit, remaining) == (2, 0) and 0 < reset <= 0.2
        assert third.headers["Retry-After"] == "1"
        error = third.json()["error"]
        assert error["message"] == "API call count exceeded for this period"
        assert (error["rate_limit"], error["rate_window"]) == (2, 0.2)
        assert 0 < error["rate_reset"] <= 0.2
        assert last_entry(sandbox).status_code == 429
        time.sleep(reset + 0.02)
        again = client.get("activity/sms/sms_1/")
        assert again.status_code == 200 and rate_limit(again)[1] == 1


def test_rate_limit_is_per_endpoint_group_and_credential() -> None:
    with serve(rate_limit=1, rate_window=0.5) as (sandbox, client):
        assert client.get("activity/sms/sms_1/").status_code == 200
        assert client.get("activity/sms/sms_2/").status_code == 429
        assert put(client, "sms_1", {"text": "x"}).status_code == 200
        assert client.get("activity/sms/").status_code == 200
        assert put(client, "sms_1", {"text": "y"}).status_code == 429
        assert stored(sandbox, "sms_1")["text"] == "x"
        with client_for(sandbox, auth=None) as bearer:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            assert bearer.get("activity/sms/sms_1/", headers=headers).status_code == 200


# --- Faults ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status"),
    [(Fault.UNAVAILABLE, 503), (Fault.BAD_GATEWAY, 502), (Fault.RATE_LIMITED, 429)],
)
def test_refusing_faults_apply_nothing(
    client: httpx.Client, sandbox: Sandbox, fault: Fault, status: int
) -> None:
    sandbox.inject("sms_1", fault)
    response = put(client, "sms_1", {"status": "outbox"})
    assert response.status_code == status
    assert ("Retry-After" in response.headers) is (fault is Fault.RATE_LIMITED)
    if fault is Fault.RATE_LIMITED:
        assert rate_limit(response)[1] == 0
    assert stored(sandbox, "sms_1")["status"] == "draft"
    entry = last_entry(sandbox)
    assert (entry.status_code, entry.applied, entry.fault) == (status, False, fault)
    assert put(client, "sms_1", {"status": "outbox"}).status_code == 200


def test_queued_faults_are_consumed_in_order_by_any_method(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    sandbox.inject("sms_1", Fault.UNAVAILABLE, Fault.BAD_GATEWAY)
    assert client.get("activity/sms/sms_2/").status_code == 200  # other ids are untouched
    assert client.get("activity/sms/sms_1/").status_code == 503
    assert put(client, "sms_1", {"text": "x"}).status_code == 502
    assert put(client, "sms_1", {"text": "x"}).status_code == 200


def test_drop_after_apply_updates_but_never_answers(client: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.inject("sms_1", Fault.DROP_AFTER_APPLY)
    with pytest.raises(httpx.RemoteProtocolError):
        put(client, "sms_1", {"status": "outbox"})
    assert stored(sandbox, "sms_1")["status"] == "sent"
    assert sandbox.sends("sms_1") == 1
    entry = last_entry(sandbox)
    assert (entry.status_code, entry.applied, entry.fault) == (None, True, Fault.DROP_AFTER_APPLY)
    assert entry.body == {"status": "outbox"}
    assert client.get("activity/sms/sms_1/").json()["status"] == "sent"


def test_drop_of_an_invalid_update_applies_nothing(client: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.inject("sms_1", Fault.DROP_AFTER_APPLY)
    with pytest.raises(httpx.RemoteProtocolError):
        put(client, "sms_1", {"text": "x" * 1001})
    assert last_entry(sandbox).applied is False


def test_slow_answer_outlives_the_client_timeout() -> None:
    with serve(slow_ms=300) as (sandbox, _), client_for(sandbox, timeout=0.1) as client:
        sandbox.inject("sms_1", Fault.SLOW)
        with pytest.raises(httpx.ReadTimeout):
            put(client, "sms_1", {"text": "slow"})
        assert stored(sandbox, "sms_1")["text"] == "slow"
        entry = last_entry(sandbox)
        assert (entry.status_code, entry.applied, entry.fault) == (200, True, Fault.SLOW)


def test_fail_rate_one_refuses_everything() -> None:
    with serve(fail_rate=1.0) as (sandbox, client):
        responses = [
            client.get("activity/sms/sms_1/"),
            put(client, "sms_1", {"text": "x"}),
            client.get("activity/sms/"),
        ]
        assert [r.status_code for r in responses] == [503, 503, 503]
        assert all("Retry-After" not in r.headers for r in responses)
        assert stored(sandbox, "sms_1")["text"] != "x"
        assert {e.fault for e in sandbox.log} == {Fault.UNAVAILABLE}


def test_drop_rate_only_drops_puts() -> None:
    with serve(drop_rate=1.0, seed=1) as (sandbox, client):
        assert client.get("activity/sms/sms_1/").status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            put(client, "sms_1", {"text": "x"})
        assert stored(sandbox, "sms_1")["text"] == "x"


def test_random_faults_follow_the_seed() -> None:
    def faults() -> list[Fault | None]:
        with serve(slow_rate=0.5, slow_ms=1, seed=7) as (sandbox, client):
            for _ in range(20):
                client.get("activity/sms/sms_1/")
            return [entry.fault for entry in sandbox.log]

    first = faults()
    assert first == faults()
    assert set(first) == {None, Fault.SLOW}


def test_latency_is_added_to_answers() -> None:
    with serve(latency_ms=50) as (_, client):
        started = time.perf_counter()
        client.get("activity/sms/sms_1/")
        assert time.perf_counter() - started >= 0.05


# --- The log -----------------------------------------------------------------------------------


def test_log_records_every_request(client: httpx.Client, sandbox: Sandbox) -> None:
    put(client, "sms_1", {"text": "x"})
    with client_for(sandbox, auth=None) as anonymous:
        anonymous.get("activity/sms/sms_2/")
    client.get("activity/sms/?id__in=sms_1")
    first, second, third = sandbox.log
    assert (first.method, first.path, first.activity_id) == (
        "PUT",
        "/api/v1/activity/sms/sms_1/",
        "sms_1",
    )
    assert (first.body, first.status_code, first.applied) == ({"text": "x"}, 200, True)
    assert (second.status_code, second.body, second.activity_id) == (401, None, "sms_2")
    assert (third.path, third.activity_id) == ("/api/v1/activity/sms/", None)
    assert first.at <= second.at <= third.at


def test_log_can_be_turned_off() -> None:
    with serve(keep_log=False) as (sandbox, client):
        client.get("activity/sms/sms_1/")
        assert sandbox.log == []


# --- Serving -----------------------------------------------------------------------------------


def test_many_concurrent_keep_alive_connections() -> None:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    with serve(latency_ms=100) as (sandbox, _), client_for(sandbox, limits=limits) as client:

        def get(_: int) -> int:
            return client.get("activity/sms/sms_1/").status_code

        started = time.perf_counter()
        with ThreadPoolExecutor(64) as pool:
            codes = list(pool.map(get, range(128)))
        elapsed = time.perf_counter() - started
    assert codes == [200] * 128
    assert elapsed < 1.5  # one connection at a time would need 12.8 s


def test_stop_does_not_hang_on_open_keep_alive_connections(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    assert client.get("activity/sms/sms_1/").status_code == 200  # leaves the connection open
    started = time.perf_counter()
    sandbox.stop()
    sandbox.stop()
    assert time.perf_counter() - started < 0.5
    with pytest.raises(httpx.TransportError):
        client.get("activity/sms/sms_1/")


def test_can_restart_on_the_same_port(sandbox: Sandbox) -> None:
    url = sandbox.base_url
    sandbox.stop()
    sandbox.start()
    assert sandbox.base_url == url
    with client_for(sandbox) as client:
        assert client.get("activity/sms/sms_1/").status_code == 200


@pytest.mark.parametrize("reset", [False, True])
def test_client_leaving_mid_request_is_quiet(
    sandbox: Sandbox, capfd: pytest.CaptureFixture[str], reset: bool
) -> None:
    auth = base64.b64encode(f"{KEY}:".encode()).decode()
    head = (
        "PUT /api/v1/activity/sms/sms_1/ HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Basic {auth}\r\nContent-Length: 100\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", sandbox.port)) as raw:
        if reset:  # close with a TCP reset instead of a clean FIN
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        raw.sendall(head.encode() + b'{"text": "half')
    time.sleep(0.05)
    with client_for(sandbox) as client:
        assert client.get("activity/sms/sms_1/").status_code == 200
    sandbox.stop()
    assert sandbox.log[-1].method == "GET" and len(sandbox.log) == 1
    assert capfd.readouterr().err == ""


def test_serve_forever_returns_after_ctrl_c() -> None:
    sandbox = Sandbox().start()
    timer = threading.Timer(0.1, _thread.interrupt_main)
    timer.start()
    started = time.perf_counter()
    sandbox.serve_forever()
    timer.join()
    assert time.perf_counter() - started < 1
    with pytest.raises(httpx.ConnectError), client_for(sandbox) as client:
        client.get("activity/sms/sms_1/")


# --- Any id, and the statistics the benchmarks read ----------------------------------------------


def test_any_id_makes_every_id_a_draft_without_seeding() -> None:
    with serve(any_id=True) as (sandbox, client):
        activity = client.get("activity/sms/acti_never_seeded/").json()
        assert activity["status"] == "draft"
        assert activity["id"] == "acti_never_seeded"
        assert activity["date_created"] == NOW.isoformat()
        assert client.get("activity/sms/acti_missing_1/").status_code == 404
        assert sandbox.activity("acti_MISSING_2") is None


def test_any_id_drafts_keep_their_changes() -> None:
    with serve(any_id=True) as (sandbox, client):
        assert put(client, "acti_a", {"text": "Edited"}).json()["text"] == "Edited"
        assert put(client, "acti_b", {"status": "outbox"}).json()["status"] == "sent"
        assert client.get("activity/sms/acti_a/").json()["text"] == "Edited"
        assert "status" in field_errors(put(client, "acti_b", {"text": "too late"}))
        assert sandbox.sends("acti_b") == 1
        listed = client.get("activity/sms/?id__in=acti_a,acti_b,acti_c,acti_missing").json()
        assert [a["status"] for a in listed["data"]] == ["draft", "sent", "draft"]


def test_any_id_scheduled_send_happens_when_due(clock: Clock) -> None:
    with serve(clock, any_id=True) as (sandbox, client):
        put(client, "acti_a", {"status": "scheduled", "date_scheduled": TOMORROW})
        clock.now = datetime.fromisoformat(TOMORROW) + timedelta(seconds=1)
        assert client.get("activity/sms/acti_a/").json()["status"] == "sent"
        assert stored(sandbox, "acti_a")["date_sent"] == TOMORROW


def test_any_id_seeded_activity_wins_over_earlier_changes() -> None:
    with serve(any_id=True) as (sandbox, client):
        put(client, "acti_a", {"text": "Edited"})
        sandbox.add_activity("acti_a", text="Seeded")
        assert client.get("activity/sms/acti_a/").json()["text"] == "Seeded"
        put(client, "acti_a", {"text": "Again"})
        assert stored(sandbox, "acti_a")["text"] == "Again"


def test_without_any_id_unseeded_ids_are_unknown(client: httpx.Client) -> None:
    assert client.get("activity/sms/acti_never_seeded/").status_code == 404


def test_stats_count_answers_by_status_code() -> None:
    with serve(rate_limit=2, rate_window=60) as (sandbox, client):
        assert sandbox.stats().requests == 0
        assert sandbox.stats().first_at is None
        codes = [put(client, "sms_1", {"text": str(n)}).status_code for n in range(3)]
        codes.append(client.get("activity/sms/unknown/").status_code)
        with client_for(sandbox, auth=("wrong", "")) as stranger:
            codes.append(stranger.get("activity/sms/sms_1/").status_code)
        stats = sandbox.stats()
    assert codes == [200, 200, 429, 404, 401]
    assert stats.requests == 5
    assert stats.by_status == {200: 2, 429: 1, 404: 1, 401: 1}
    assert stats.first_at is not None and stats.last_at is not None
    assert stats.first_at <= stats.last_at


def test_stats_count_dropped_connections_as_zero(client: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.inject("sms_1", Fault.DROP_AFTER_APPLY)
    with pytest.raises(httpx.RemoteProtocolError):
        put(client, "sms_1", {"text": "x"})
    assert sandbox.stats().by_status == {0: 1}


def test_stats_are_served_as_json_without_credentials(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    put(client, "sms_1", {"text": "x"})
    put(client, "sms_1", {"text": "x" * 1001})
    with httpx.Client() as anonymous:
        answer = anonymous.get(f"http://127.0.0.1:{sandbox.port}/_sandbox/stats")
    assert answer.status_code == 200
    body = answer.json()
    assert body["requests"] == 2
    assert body["by_status"] == {"200": 1, "400": 1}
    assert body["first_at"] <= body["last_at"]
    assert sandbox.stats().requests == 2  # reading the stats is not counted


def test_sandbox_command_any_id_serves_stats() -> None:
    command = [sys.executable, "-m", "batch_sms", "sandbox", "--port", "0", "--any-id"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    try:
        base_url = server.stdout.readline().strip().rsplit(" ", 1)[-1]
        answer = httpx.get(f"{base_url}activity/sms/acti_anything/", auth=(KEY, ""))
        assert answer.json()["status"] == "draft"
        stats = httpx.get(base_url.replace("/api/v1/", "/_sandbox/stats")).json()
        assert stats["by_status"] == {"200": 1}
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=10)
    assert server.returncode == 0
