"""The sandbox's list endpoint as Close's: filters, newest first, `_limit` and `_skip` caps;
and its made-up demo SMS, the same every time."""

from __future__ import annotations

import base64
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from batch_sms.sandbox import (
    Request,
    Sandbox,
    SandboxModel,
    SandboxOptions,
    demo_sandbox,
    seed_demo,
)

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
BASIC = "Basic " + base64.b64encode(b"sandbox_api_key:").decode()


def model(**config: Any) -> SandboxModel:
    return SandboxModel(SandboxOptions(**config), clock=lambda: NOW)


def listing(sandbox: SandboxModel, **query: Any) -> tuple[int, Any]:
    params = {name: str(value) for name, value in query.items()}
    reply = sandbox.handle(
        Request("GET", "/api/v1/activity/sms/", params, {"authorization": BASIC}, None)
    )
    return reply.status or 0, reply.json()


def ids(sandbox: SandboxModel, **query: Any) -> list[str]:
    status, page = listing(sandbox, _fields="id", **query)
    assert status == 200, page
    return [sms["id"] for sms in page["data"]]


@pytest.fixture
def crm() -> SandboxModel:
    """Six SMS over three hours, two leads, two users; sms_c and sms_d created together."""
    sandbox = model()
    rows = [
        ("sms_a", 0, "lead_one", "user_ann", "cont_x"),
        ("sms_b", 1, "lead_two", "user_ann", "cont_y"),
        ("sms_c", 2, "lead_one", "user_bob", "cont_x"),
        ("sms_d", 2, "lead_two", "user_bob", "cont_y"),
        ("sms_e", 3, "lead_one", "user_ann", "cont_x"),
        ("sms_f", 3.5, "lead_two", "user_ann", "cont_z"),
    ]
    for activity_id, hours, lead, user, contact in rows:
        sandbox.add_activity(
            activity_id,
            date_created=T0 + timedelta(hours=hours),
            lead_id=lead,
            user_id=user,
            contact_id=contact,
            status="sent" if activity_id == "sms_b" else "draft",
        )
    return sandbox


def test_newest_first_and_ties_in_the_order_stored(crm: SandboxModel) -> None:
    assert ids(crm) == ["sms_f", "sms_e", "sms_c", "sms_d", "sms_b", "sms_a"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"lead_id": "lead_one"}, ["sms_e", "sms_c", "sms_a"]),
        ({"lead_id": "lead_one,lead_two", "user_id": "user_bob"}, ["sms_c", "sms_d"]),
        ({"contact_id": "cont_y,cont_z"}, ["sms_f", "sms_d", "sms_b"]),
        ({"user_id": "user_nobody"}, []),
        ({"date_created__lt": (T0 + timedelta(hours=2)).isoformat()}, ["sms_b", "sms_a"]),
        (
            {"date_created__lte": (T0 + timedelta(hours=2)).isoformat()},
            ["sms_c", "sms_d", "sms_b", "sms_a"],
        ),
        ({"date_created__gt": (T0 + timedelta(hours=2)).isoformat()}, ["sms_f", "sms_e"]),
        (
            {"date_created__gte": (T0 + timedelta(hours=2)).isoformat()},
            ["sms_f", "sms_e", "sms_c", "sms_d"],
        ),
        (
            {
                "date_created__gte": (T0 + timedelta(hours=2)).isoformat(),
                "date_created__lte": (T0 + timedelta(hours=2)).isoformat(),
            },
            ["sms_c", "sms_d"],
        ),
        ({"date_created__lt": "2026-03-01T10:30:00"}, ["sms_b", "sms_a"]),  # no offset: UTC
        ({"date_created__gt": "2026-03-01", "date_created__lt": "2026-03-01T10:00:00Z"}, ["sms_a"]),
        ({"id__in": "sms_a,sms_f,nope", "lead_id": "lead_two"}, ["sms_f"]),
    ],
)
def test_filters(crm: SandboxModel, query: dict[str, str], expected: list[str]) -> None:
    assert ids(crm, **query) == expected


def test_there_is_no_filter_on_status(crm: SandboxModel) -> None:
    assert len(ids(crm, status="draft")) == 6


def test_pages_with_limit_and_skip(crm: SandboxModel) -> None:
    status, page = listing(crm, _fields="id", _limit=4, _skip=3)
    assert (status, [sms["id"] for sms in page["data"]], page["has_more"]) == (
        200,
        ["sms_d", "sms_b", "sms_a"],
        False,
    )
    assert listing(crm, _limit=2, _skip=1)[1]["has_more"] is True


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"_skip": 11}, "_skip must be at most 10."),
        ({"_limit": 6}, "_limit must be at most 5."),
        ({"_limit": "x"}, "_limit must be at least 1"),
        ({"date_created__gt": "yesterday"}, "date_created__gt: 'yesterday' is not a date"),
    ],
)
def test_refusals_are_400_with_closes_error_shape(query: dict[str, Any], message: str) -> None:
    sandbox = model(max_skip=10, max_limit=5)
    status, body = listing(sandbox, **query)
    assert status == 400
    assert body["error"].startswith(message)


def test_skip_at_the_cap_is_still_served() -> None:
    sandbox = model(max_skip=10)
    for number in range(12):
        sandbox.add_activity(f"sms_{number:02d}", date_created=T0 + timedelta(minutes=number))
    assert ids(sandbox, _skip=10) == ["sms_01", "sms_00"]


def test_list_over_http_keeps_plus_signs_of_offsets(crm: SandboxModel) -> None:
    with Sandbox(clock=lambda: NOW) as server:
        server.add_activity("sms_1", date_created=T0)
        server.add_activity("sms_2", date_created=T0 + timedelta(seconds=1))
        with httpx.Client(base_url=server.base_url, auth=("sandbox_api_key", "")) as client:
            params = {"date_created__lte": T0.isoformat(), "_fields": "id"}
            answer = client.get("activity/sms/", params=params)
    assert answer.json()["data"] == [{"id": "sms_1"}]
    assert server.log[-1].query == params


# --- The demo ---------------------------------------------------------------------------------


def test_the_demo_is_the_same_every_time() -> None:
    first, second = model(), model()
    assert seed_demo(first, 300) == seed_demo(second, 300)
    assert ids(first, _limit=100) == ids(second, _limit=100)
    assert first.activity(ids(first)[0]) == second.activity(ids(second)[0])


def test_the_demo_is_varied() -> None:
    sandbox = model()
    made = seed_demo(sandbox)
    sms = [sandbox.activity(activity_id) for activity_id in made]
    statuses = Counter(s["status"] for s in sms if s)
    assert set(statuses) == {"draft", "scheduled", "sent", "error", "inbox"}
    assert statuses["draft"] > len(made) / 2
    assert len({s["user_id"] for s in sms if s}) == 4
    per_lead = Counter(s["lead_id"] for s in sms if s)
    assert max(per_lead.values()) >= 5 and min(per_lead.values()) == 1
    created = Counter(s["date_created"] for s in sms if s)
    assert max(created.values()) >= 5  # a batch created in one instant
    days = {s["date_created"][:10] for s in sms if s}
    assert len(days) >= 3


def test_demo_sandbox_has_the_demo_and_any_other_id() -> None:
    with demo_sandbox() as server:
        assert server.config.any_id
        stored = ids(server.model, _limit=100)
        assert len(stored) == 100
        assert server.activity("acti_anything_else") is not None
