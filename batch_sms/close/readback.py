"""Reading an SMS back from Close and judging it against what a row asks for.

Used before sending (the preflight), and after a send whose answer was lost: the state Close
shows decides whether the row is already done, may still be sent, or must be left alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from batch_sms import rules
from batch_sms.models import Update

# The fields a judgement needs, kept small because the preflight reads every row.
READ_FIELDS = (
    "id",
    "status",
    "text",
    "date_scheduled",
    "date_sent",
    "error_message",
    # What an undo puts back, and whom the SMS goes to.
    "local_phone",
    "remote_phone",
)


class State(StrEnum):
    APPLIED = "applied"
    """Close already shows what the row asks for."""
    OPEN = "open"
    """The SMS can still take the update (a draft, or a pending send that a row cancels)."""
    CLOSED = "closed"
    """The SMS moved on (sent, scheduled otherwise, failed...): the row must not be sent."""


@dataclass(frozen=True)
class Verdict:
    state: State
    shown: str
    """What Close shows, in words: `sent at 2026-12-01T09:00:00+00:00`."""
    activity: dict[str, Any] = field(default_factory=dict, compare=False)


def judge(update: Update, activity: dict[str, Any]) -> Verdict:
    shown = describe(activity)
    status = activity.get("status")
    wanted = update.body.get("status")
    if wanted in rules.SENDING_STATUSES and _shows(update, activity):
        state = State.APPLIED
    elif status == "draft" or (wanted == "draft" and status in rules.SENDING_STATUSES):
        state = State.OPEN
    else:
        state = State.CLOSED
    return Verdict(state, shown, activity)


def _shows(update: Update, activity: dict[str, Any]) -> bool:
    """Close shows the send this row asks for: in the outbox or sent for `outbox`, scheduled
    at the same moment for `scheduled`, with the row's text when it sets one."""
    body = update.body
    if "text" in body and activity.get("text") != body["text"]:
        return False
    status = activity.get("status")
    if body["status"] == "outbox":
        return status in ("outbox", "sent")
    return status == "scheduled" and _same_moment(
        activity.get("date_scheduled"), body.get("date_scheduled")
    )


def _same_moment(shown: Any, wanted: Any) -> bool:
    try:
        return datetime.fromisoformat(str(shown)) == datetime.fromisoformat(str(wanted))
    except ValueError:
        return False


def describe(activity: dict[str, Any]) -> str:
    status = activity.get("status") or "unknown"
    if status == "sent" and activity.get("date_sent"):
        return f"sent at {activity['date_sent']}"
    if status == "scheduled" and activity.get("date_scheduled"):
        return f"scheduled for {activity['date_scheduled']}"
    if status == "error" and activity.get("error_message"):
        return f"status error ({activity['error_message']})"
    return f"status {status}"
