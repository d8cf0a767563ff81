"""Checking every row before anything is sent, and turning valid rows into update requests.

Each cell is checked on its own, then the row as a whole (combinations of fields, duplicate ids),
and every problem of a row is reported together so that one edit of the file fixes them all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from batch_sms import columns, rules
from batch_sms.rows import SourceRow

ACTIVITY_ID = re.compile(r"^acti_[0-9A-Za-z]{10,64}$")
_OBJECT_ID = re.compile(r"^[a-z]+_[0-9A-Za-z]{4,64}$")
_SCIENTIFIC = re.compile(r"^[+-]?\d(\.\d+)?[eE]\+?\d+$")
_EXAMPLE_TIME = "2026-12-01T09:00:00-05:00"


class Kind(StrEnum):
    """What an update does to the SMS, as the user will want it summarized."""

    SEND_NOW = "send_now"
    SCHEDULE = "schedule"
    EDIT = "edit"


@dataclass(frozen=True)
class Update:
    """A valid row: the activity to update and the JSON body of its PUT."""

    index: int
    number: int
    activity_id: str
    body: dict[str, Any] = field(hash=False)
    uncertain: bool = False
    """An earlier run may have sent this row already: Close must be asked before it is sent."""

    @property
    def kind(self) -> Kind:
        status = self.body.get("status")
        if status == "outbox":
            return Kind.SEND_NOW
        if status == "scheduled":
            return Kind.SCHEDULE
        return Kind.EDIT

    @property
    def sends(self) -> bool:
        """True when Close sends an SMS because of this update: it must never be repeated."""
        return self.body.get("status") in rules.SENDING_STATUSES


@dataclass(frozen=True)
class Problem:
    column: str | None
    message: str


@dataclass(frozen=True)
class Invalid:
    """A row that will not be sent, with everything wrong with it."""

    index: int
    number: int
    activity_id: str
    problems: tuple[Problem, ...]

    def describe(self, header: Callable[[str], str] = str) -> str:
        """The problems as one line, each led by the column as the user's file names it."""
        return "; ".join(
            f"{header(p.column)}: {p.message}" if p.column else p.message for p in self.problems
        )


class CellError(ValueError):
    """A cell's value is not acceptable; the message says what is wrong and what would be."""


class Validator:
    """Validates rows in file order; remembers ids so that a repeated id is caught."""

    def __init__(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self.now = now
        self._first_row_of: dict[str, int] = {}

    def validate(self, row: SourceRow) -> Update | Invalid:
        problems: list[Problem] = []
        body: dict[str, Any] = {}
        self._check_id(row, problems)
        for column, value in row.cells.items():
            if value and column in _CELL_CHECKS:
                try:
                    body[column] = _CELL_CHECKS[column](value)
                except CellError as error:
                    problems.append(Problem(column, str(error)))
        problems.extend(_check_combination(row.cells, body, self.now))
        if problems:
            return Invalid(row.index, row.number, row.activity_id, tuple(problems))
        return Update(row.index, row.number, row.activity_id, body)

    def _check_id(self, row: SourceRow, problems: list[Problem]) -> None:
        activity_id = row.activity_id
        if not activity_id:
            problems.append(Problem(columns.ID, "is empty; every row needs its SMS activity id"))
            return
        if not ACTIVITY_ID.match(activity_id):
            problems.append(
                Problem(
                    columns.ID,
                    f"'{activity_id}' is not a Close SMS activity id "
                    "(acti_ followed by letters and digits)",
                )
            )
            return
        first = self._first_row_of.setdefault(activity_id, row.number)
        if first != row.number:
            problems.append(
                Problem(
                    columns.ID,
                    f"{activity_id} already appears in row {first}; each SMS may appear only once",
                )
            )


def _check_combination(cells: dict[str, str], body: dict[str, Any], now: datetime) -> list[Problem]:
    """Rules that involve more than one cell. Uses the raw cells, so that a row whose status
    is mistyped is not also blamed for a date that its real status would need."""
    problems: list[Problem] = []
    status = cells.get("status", "").lower()
    scheduled_at = body.get("date_scheduled")
    if status == "scheduled" and not cells.get("date_scheduled"):
        problems.append(Problem("date_scheduled", "is required when status is scheduled"))
    if cells.get("date_scheduled") and status != "scheduled":
        shown = f"'{status}'" if status else "empty"
        problems.append(
            Problem(
                "date_scheduled",
                f"is only used with status scheduled (this row's status is {shown})",
            )
        )
    if scheduled_at is not None and datetime.fromisoformat(scheduled_at) <= now:
        problems.append(
            Problem(
                "date_scheduled",
                f"{scheduled_at} is in the past (now is {now.isoformat(timespec='seconds')})",
            )
        )
    if cells.get("send_in") and status != "outbox":
        problems.append(Problem("send_in", "only delays a send: use it with status outbox"))
    if cells.get("text") and cells.get("template_id"):
        problems.append(Problem("template_id", "give either text or template_id, not both"))
    if not any(cells.get(column) for column in columns.FIELDS):
        problems.append(
            Problem(
                None,
                "the row changes nothing: fill at least one of "
                + ", ".join(columns.FIELDS)
                + " (an empty cell leaves that field unchanged)",
            )
        )
    return problems


def _status(value: str) -> str:
    status = value.lower()
    if status in rules.UPDATE_STATUSES:
        return status
    allowed = "draft, scheduled (send later) or outbox (send now)"
    if status in rules.STATUSES:
        raise CellError(f"'{value}' cannot be set by an update; Close allows only {allowed}")
    raise CellError(f"'{value}' is not a status; use {allowed}")


def _datetime_with_offset(value: str) -> str:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CellError(
            f"'{value}' is not an ISO 8601 date and time, like {_EXAMPLE_TIME}"
        ) from None
    if moment.tzinfo is None:
        raise CellError(
            f"'{value}' has no UTC offset, so Close could read it in the wrong time zone; "
            f"write it with one, like {_EXAMPLE_TIME} (or Z for UTC)"
        )
    return moment.isoformat()


def _text(value: str) -> str:
    if len(value) > rules.MAX_TEXT_LENGTH:
        raise CellError(
            f"is {len(value)} characters long; Close's limit is {rules.MAX_TEXT_LENGTH}"
        )
    return value


def _phone(value: str) -> str:
    if rules.E164.match(value):
        return value
    if _SCIENTIFIC.match(value):
        raise CellError(
            f"'{value}' is a phone number that a spreadsheet turned into scientific notation "
            "(digits are lost); format the column as text and type the number again"
        )
    raise CellError(f"'{value}' is not in E.164 format, like +14155550100")


def _object_id(prefix: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not _OBJECT_ID.match(value) or not value.startswith(prefix):
            raise CellError(f"'{value}' is not a Close id (they look like {prefix}...)")
        return value

    return check


def _template_id(value: str) -> str:
    if not _OBJECT_ID.match(value):
        raise CellError(f"'{value}' is not a Close template id (they look like tmpl_...)")
    return value


def _send_in(value: str) -> int:
    if not value.isdigit() or int(value) > rules.MAX_SEND_IN_SECONDS:
        raise CellError(
            f"'{value}' is not a whole number of seconds from 0 to {rules.MAX_SEND_IN_SECONDS}"
        )
    return int(value)


def _attachments(value: str) -> list[dict[str, str]]:
    try:
        items = json.loads(value)
    except json.JSONDecodeError as error:
        raise CellError(f"is not valid JSON ({error.msg} at character {error.pos})") from None
    if not isinstance(items, list):
        raise CellError('must be a JSON list, like [{"content_type": ..., "filename": ..., ...}]')
    if len(items) > rules.MAX_ATTACHMENTS:
        raise CellError(f"has {len(items)} items; Close allows at most {rules.MAX_ATTACHMENTS}")
    for position, item in enumerate(items, start=1):
        _check_attachment(position, item)
    return items


def _check_attachment(position: int, item: object) -> None:
    if not isinstance(item, dict):
        raise CellError(f"item {position} is not an object with content_type, filename and url")
    missing = [key for key in ("content_type", "filename", "url") if not item.get(key)]
    if missing:
        raise CellError(f"item {position} lacks {', '.join(missing)}")
    if item["content_type"] not in rules.ATTACHMENT_CONTENT_TYPES:
        raise CellError(
            f"item {position} has content_type '{item['content_type']}', which Close does not "
            "accept for SMS (image/jpeg, image/png, application/pdf, video/mp4, ...)"
        )
    if not str(item["url"]).startswith(("https://", "http://")):
        raise CellError(f"item {position} has a url that is not http(s): '{item['url']}'")


_CELL_CHECKS: dict[str, Callable[[str], Any]] = {
    "text": _text,
    "status": _status,
    "date_scheduled": _datetime_with_offset,
    "template_id": _template_id,
    "local_phone": _phone,
    "remote_phone": _phone,
    "contact_id": _object_id("cont_"),
    "lead_id": _object_id("lead_"),
    "user_id": _object_id("user_"),
    "activity_at": _datetime_with_offset,
    "attachments": _attachments,
    "send_in": _send_in,
}
