"""A PUT body checked against Close's rules, as Close answers it: field name -> message.

The facts (fields, limits, which status a field belongs to) come from `batch_sms.rules`, which
the validator reads too; the checking code here is the sandbox's own, written the way Close
answers rather than the way the validator explains, so that the sandbox still catches a row
that the validator lets through. See docs/close-api.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from batch_sms.rules import (
    ATTACHMENT_CONTENT_TYPES,
    ATTACHMENT_KEYS,
    E164,
    FIELD_NEEDS_STATUS,
    MAX_ATTACHMENTS,
    MAX_SEND_IN_SECONDS,
    MAX_TEXT_LENGTH,
    SENDING_STATUSES,
    STATUS_NEEDS_FIELD,
    STATUSES,
    UPDATE_FIELDS,
    UPDATE_STATUSES,
)

TEMPLATE_PREFIX = "tmpl_"  # the sandbox knows every template whose id has Close's prefix


@dataclass(frozen=True)
class UpdateContext:
    """What an update's checks need besides its body."""

    now: datetime
    tz_offset: str | None  # the X-TZ-Offset header
    org_phones: tuple[str, ...]


def update_errors(status: str, body: Mapping[str, Any], ctx: UpdateContext) -> dict[str, str]:
    """Every field error of a PUT `body` on an SMS whose status is `status`; {} when valid."""
    if status == "draft":
        return _draft_errors(body, ctx)
    if status in SENDING_STATUSES and body == {"status": "draft"}:
        return {}  # cancelling a send that has not happened yet
    refusal = f"This SMS is {status!r}; only drafts can be modified."
    return _unknown_fields(body) | {"status": refusal}


# --- Each field on its own: a check returns an error message or None ---------------------------


def _check_text(value: Any, ctx: UpdateContext) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        return "Must be a string."
    if len(value) > MAX_TEXT_LENGTH:
        return f"Must be at most {MAX_TEXT_LENGTH} characters long (this one has {len(value)})."
    return None


def _check_phone(value: Any, ctx: UpdateContext) -> str | None:
    if isinstance(value, str) and E164.fullmatch(value):
        return None
    return "Must be a phone number in E.164 format, like +14155550100."


def _check_local_phone(value: Any, ctx: UpdateContext) -> str | None:
    if error := _check_phone(value, ctx):
        return error
    if value not in ctx.org_phones:
        return f"{value} is not one of your organization's SMS-enabled numbers."
    return None


def _check_attachments(value: Any, ctx: UpdateContext) -> str | None:
    if value is None:
        return None
    if not isinstance(value, list):
        return "Must be a list of attachments."
    if len(value) > MAX_ATTACHMENTS:
        return f"At most {MAX_ATTACHMENTS} attachments are allowed (got {len(value)})."
    errors = (_attachment_error(item) for item in value)
    return next((f"Attachment {i}: {e}" for i, e in enumerate(errors) if e), None)


def _attachment_error(item: Any) -> str | None:
    if not isinstance(item, dict):
        *first, last = ATTACHMENT_KEYS
        return f"must be an object with {', '.join(first)} and {last}."
    missing = [key for key in ATTACHMENT_KEYS if not isinstance(item.get(key), str)]
    if missing:
        return f"{', '.join(missing)} must be given as strings."
    if item["content_type"] not in ATTACHMENT_CONTENT_TYPES:
        return f"content type {item['content_type']!r} is not supported for MMS."
    return None


def _check_template(value: Any, ctx: UpdateContext) -> str | None:
    if value is None or (isinstance(value, str) and value.startswith(TEMPLATE_PREFIX)):
        return None
    return "No SMS template with this id."


def _check_optional_str(value: Any, ctx: UpdateContext) -> str | None:
    return None if value is None or isinstance(value, str) else "Must be a string or null."


def _check_activity_at(value: Any, ctx: UpdateContext) -> str | None:
    if value is None:
        return None
    try:
        parse_iso(value)
    except ValueError as exc:
        return str(exc)
    return None


_FIELD_CHECKS: dict[str, Callable[[Any, UpdateContext], str | None]] = {
    "activity_at": _check_activity_at,
    "attachments": _check_attachments,
    "contact_id": _check_optional_str,
    "lead_id": _check_optional_str,
    "user_id": _check_optional_str,
    "local_phone": _check_local_phone,
    "remote_phone": _check_phone,
    "template_id": _check_template,
    "text": _check_text,
}


# --- The status and the fields that belong to it ---------------------------------------------


def _check_status(value: Any) -> str | None:
    if not isinstance(value, str) or value not in STATUSES:
        return f"Not a valid choice; use one of {', '.join(STATUSES)}."
    if value not in UPDATE_STATUSES:
        return f"Can't set status {value!r} with an update; use draft, scheduled or outbox."
    return None


def _check_schedule(body: Mapping[str, Any], ctx: UpdateContext) -> str | None:
    if wrong := _outside_its_status(body, "date_scheduled"):
        return wrong
    try:
        when = schedule_time(body.get("date_scheduled"), ctx.tz_offset)
    except ValueError as exc:
        return str(exc)
    return None if when > ctx.now else "Must be in the future."


def _check_send_in(body: Mapping[str, Any]) -> str | None:
    if wrong := _outside_its_status(body, "send_in"):
        return wrong
    value = body["send_in"]
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 0 <= value <= MAX_SEND_IN_SECONDS
    ):
        return f"Must be a whole number of seconds from 0 to {MAX_SEND_IN_SECONDS}."
    return None


def _outside_its_status(body: Mapping[str, Any], field: str) -> str | None:
    status = FIELD_NEEDS_STATUS[field]
    if body.get("status") == status:
        return None
    return f"Only allowed together with status {status!r}."


def _status_errors(body: Mapping[str, Any], ctx: UpdateContext) -> dict[str, str]:
    errors = {}
    if "status" in body and (error := _check_status(body["status"])):
        errors["status"] = error
    needed = STATUS_NEEDS_FIELD.get(str(body.get("status")))
    if ("date_scheduled" in body or needed == "date_scheduled") and (
        error := _check_schedule(body, ctx)
    ):
        errors["date_scheduled"] = error
    if "send_in" in body and (error := _check_send_in(body)):
        errors["send_in"] = error
    return errors


def _unknown_fields(body: Mapping[str, Any]) -> dict[str, str]:
    return {key: "Unknown field." for key in body if key not in UPDATE_FIELDS}


def _draft_errors(body: Mapping[str, Any], ctx: UpdateContext) -> dict[str, str]:
    errors = _unknown_fields(body)
    for key, check in _FIELD_CHECKS.items():
        if key in body and (error := check(body[key], ctx)):
            errors[key] = error
    return errors | _status_errors(body, ctx)


# --- Dates ------------------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    """A moment as Close writes it: ISO 8601 in UTC, with its offset."""
    return moment.astimezone(UTC).isoformat()


def parse_iso(value: Any) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError("Not a valid ISO 8601 datetime.") from None


def _tz_from_header(header: str) -> timezone:
    try:
        hours = float(header)
    except ValueError:
        hours = math.nan
    if not -14 <= hours <= 14:  # also refuses nan
        raise ValueError("The X-TZ-Offset header must be hours from UTC, like -4 or 5.5.")
    return timezone(timedelta(hours=hours))


def schedule_time(value: Any, tz_offset: str | None) -> datetime:
    """When a scheduled SMS goes out; ValueError with Close's message when it cannot be told."""
    if value is None:
        raise ValueError("Required when status is 'scheduled'.")
    when = parse_iso(value)
    if when.tzinfo is not None:
        return when
    if tz_offset is None:
        # Close would guess; the sandbox refuses so that a client relying on it is caught.
        raise ValueError("No UTC offset in this time and no X-TZ-Offset header to place it.")
    return when.replace(tzinfo=_tz_from_header(tz_offset))
