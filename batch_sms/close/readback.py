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
from batch_sms.output.safe_text import for_terminal

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
    note: str = ""
    """What the verdict means for the row, in words, when the sender's own would mislead (an
    undo: "already sent at ...: cannot be undone")."""


def judge(update: Update, activity: dict[str, Any]) -> Verdict:
    if update.expected is not None:
        return _judge_put_back(update, activity)
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


# The fields an undo puts back or compares, besides status and schedule.
_PUT_BACK_FIELDS = ("text", "local_phone", "remote_phone")


def _judge_put_back(update: Update, activity: dict[str, Any]) -> Verdict:
    """An undo: open while Close shows the SMS as the run left it (or that send cancelled
    since, its fields untouched); applied when it shows it put back already; closed when it
    was sent, or changed by someone since the run."""
    shown = describe(activity)
    left = update.expected or {}
    status = activity.get("status")
    if status == "draft" and _fields_match(activity, {**left, **update.body}):
        note = f"already put back: Close shows it {shown}, as it was before the run"
        return Verdict(State.APPLIED, shown, activity, note)
    if status in ("sent", "error"):
        return Verdict(
            State.CLOSED, shown, activity, f"already {_sent(activity)}: cannot be undone"
        )
    cancelled_since = status == "draft" and left.get("status") in rules.SENDING_STATUSES
    if _fields_match(activity, left) and (cancelled_since or _same_state(activity, left)):
        return Verdict(State.OPEN, shown, activity)
    note = f"changed in Close after the run: left alone (Close shows it {shown})"
    return Verdict(State.CLOSED, shown, activity, note)


def _fields_match(activity: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return all(activity.get(key) == wanted[key] for key in _PUT_BACK_FIELDS if key in wanted)


def _same_state(activity: dict[str, Any], left: dict[str, Any]) -> bool:
    if activity.get("status") != left.get("status"):
        return False
    if left.get("status") != "scheduled":
        return True
    return _same_moment(activity.get("date_scheduled"), left.get("date_scheduled"))


def _sent(activity: dict[str, Any]) -> str:
    if activity.get("status") == "error":
        return f"sent, and it ended in error ({activity.get('error_message') or 'no reason given'})"
    return f"sent at {activity.get('date_sent') or 'an unknown time'}"


def _same_moment(shown: Any, wanted: Any) -> bool:
    if not (isinstance(shown, str) and isinstance(wanted, str)):
        return False
    try:
        return datetime.fromisoformat(shown) == datetime.fromisoformat(wanted)
    except ValueError:
        return False


# The moves Close makes on its own once it has an update: a send leaves the outbox, and a
# scheduled SMS falls due.
CLOSE_MOVES = {
    # A send Close took may end in error (the carrier refused it): Close acted on the update,
    # and its status tells what became of the SMS.
    "outbox": ("outbox", "sent", "error"),
    "scheduled": ("scheduled", "outbox", "sent", "error"),
}
# Fields that Close may show in another shape than they were sent in: not compared.
NOT_COMPARED = frozenset({"attachments", "send_in"})
_MOMENTS = frozenset({"date_scheduled", "activity_at"})


def unconfirmed(update: Update, activity: dict[str, Any]) -> str | None:
    """What Close's answer to an update shows against the row's `status` or `date_scheduled`,
    or None when it shows what the row asked (or a move Close makes itself, like outbox to
    sent). Such an answer does not confirm the update."""
    body = update.body
    if "status" in body:
        shown = activity.get("status")
        if shown not in CLOSE_MOVES.get(body["status"], (body["status"],)):
            return f"it shows {_shown('status', shown)}, not {body['status']} as asked"
    if "date_scheduled" in body:
        shown = activity.get("date_scheduled")
        if not _same_moment(shown, body["date_scheduled"]):
            wanted = body["date_scheduled"]
            return f"it shows {_shown('date_scheduled', shown)}, not {wanted} as asked"
    return None


def differing_fields(update: Update, activity: dict[str, Any]) -> list[str]:
    """The row's other fields that Close's answer shows otherwise (a template renders its own
    text, so a row with a template_id is not compared on its text)."""
    ignored = NOT_COMPARED | {"status", "date_scheduled"}
    if "template_id" in update.body:
        ignored |= {"text"}
    return [
        name
        for name, wanted in update.body.items()
        if name not in ignored and not _same_field(name, activity.get(name), wanted)
    ]


def _same_field(name: str, shown: Any, wanted: Any) -> bool:
    return _same_moment(shown, wanted) if name in _MOMENTS else shown == wanted


def _shown(name: str, value: Any) -> str:
    if value is None:
        return f"no {name}"
    return f"{name} {for_terminal(str(value), 60)}"


def describe(activity: dict[str, Any]) -> str:
    status = _text(activity.get("status")) or "unknown"
    if status == "sent" and activity.get("date_sent"):
        return f"sent at {_text(activity['date_sent'])}"
    if status == "scheduled" and activity.get("date_scheduled"):
        return f"scheduled for {_text(activity['date_scheduled'])}"
    if status == "error" and activity.get("error_message"):
        return f"status error ({_text(activity['error_message'])})"
    return f"status {status}"


def _text(value: Any) -> str:
    """A field of Close's answer as it may appear in a message."""
    return for_terminal(str(value), 200) if value is not None else ""
