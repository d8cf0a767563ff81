"""An SMS activity as Close stores and shows it, and what a valid update does to one."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from batch_sms.sandbox.update_rules import UpdateContext, iso, schedule_time

COUNTRIES = (("+1", "US"), ("+44", "GB"), ("+49", "DE"), ("+33", "FR"), ("+61", "AU"))
USER = ("user_sandbox", "Sandbox User")
# A send that Fault.SEND_ERROR makes fail: what Close shows when the carrier refused it.
SEND_FAILED = {
    "status": "error",
    "date_sent": None,
    "error_message": "The carrier rejected the message (sandbox fault send_error).",
}


def recipient_of(activity_id: str) -> str:
    """A draft's own recipient, from its id: a campaign in the sandbox texts one person per
    draft (two ids share a number once in 8 billion), unless a test gives two drafts one."""
    digest = hashlib.sha256(activity_id.encode()).digest()
    return f"+1{2_000_000_000 + int.from_bytes(digest[:8], 'big') % 8_000_000_000}"


def phone_fields(side: str, phone: Any) -> dict[str, Any]:
    """`local` or `remote` phone with the fields Close derives from it."""
    text = phone if isinstance(phone, str) else ""
    country = next((code for prefix, code in COUNTRIES if text.startswith(prefix)), None)
    return {
        f"{side}_phone": phone,
        f"{side}_phone_formatted": phone,
        f"{side}_country_iso": country,
    }


def new_activity(activity_id: str, local_phone: str, now: datetime) -> dict[str, Any]:
    """A draft with every field Close's OpenAPI description marks as required."""
    stamp = iso(now)
    user_id, user_name = USER
    return {
        "_type": "SMS",
        "id": activity_id,
        "organization_id": "orga_sandbox",
        "lead_id": f"lead_{activity_id}",
        "contact_id": f"cont_{activity_id}",
        "status": "draft",
        "direction": "outbound",
        "source": "Close.io",
        "text": "Hi, this is a draft SMS in the Close sandbox.",
        "template_id": None,
        "attachments": [],
        "activity_at": stamp,
        "date_created": stamp,
        "date_updated": stamp,
        "date_scheduled": None,
        "date_sent": None,
        "error_message": None,
        "cost": None,
        **phone_fields("local", local_phone),
        **phone_fields("remote", recipient_of(activity_id)),
        **dict.fromkeys(("user_id", "created_by", "updated_by"), user_id),
        **dict.fromkeys(("user_name", "created_by_name", "updated_by_name"), user_name),
        "users": [user_id],
        **dict.fromkeys(("sequence_id", "sequence_name", "sequence_subscription_id"), None),
        **dict.fromkeys(("agent_action_reason", "agent_config_id"), None),
    }


def with_fields(activity: dict[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """`activity` with `fields` set as given (datetimes as Close writes them), and the fields
    Close derives from them: a phone's country, a sent SMS's date_sent."""
    fields = {k: iso(v) if isinstance(v, datetime) else v for k, v in fields.items()}
    activity = activity | fields
    for side in ("local", "remote"):
        if f"{side}_phone" in fields:
            activity |= phone_fields(side, fields[f"{side}_phone"])
    if activity["status"] == "sent" and activity["date_sent"] is None:
        activity["date_sent"] = activity["date_created"]
    return activity


def changes(body: Mapping[str, Any], ctx: UpdateContext) -> dict[str, Any]:
    """What a valid update body does to the stored activity."""
    plain = ("activity_at", "contact_id", "lead_id", "user_id", "text", "template_id")
    changed = {key: body[key] for key in plain if key in body}
    for side in ("local", "remote"):
        if f"{side}_phone" in body:
            changed |= phone_fields(side, body[f"{side}_phone"])
    if "attachments" in body:
        changed["attachments"] = copy.deepcopy(body["attachments"] or [])
    if body.get("template_id"):  # Close renders the template in place of any given text
        changed["text"] = f"Rendered template {body['template_id']}"
    return changed | _status_changes(body, ctx)


def _status_changes(body: Mapping[str, Any], ctx: UpdateContext) -> dict[str, Any]:
    status = body.get("status")
    if status == "draft":
        return {"status": "draft", "date_scheduled": None}
    if status == "scheduled":
        when = schedule_time(body["date_scheduled"], ctx.tz_offset)
        return {"status": "scheduled", "date_scheduled": iso(when)}
    if status == "outbox" and "send_in" in body:
        return {"status": "outbox"}  # sent later, see send_time
    if status == "outbox":
        return {"status": "sent", "date_sent": iso(ctx.now)}
    return {}


def send_time(body: Mapping[str, Any], ctx: UpdateContext) -> datetime | None:
    """When a scheduled or delayed send happens, so reads can resolve it lazily."""
    if body.get("status") == "scheduled":
        return schedule_time(body["date_scheduled"], ctx.tz_offset)
    if body.get("status") == "outbox" and "send_in" in body:
        return ctx.now + timedelta(seconds=body["send_in"])
    return None


def project(activity: dict[str, Any], fields: str | None) -> dict[str, Any]:
    """The activity with only the `_fields` asked for (all of them without)."""
    if not fields:
        return activity
    return {key: activity[key] for key in fields.split(",") if key in activity}
