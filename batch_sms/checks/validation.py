"""Checking every row before anything is sent, and turning valid rows into update requests.

Each cell is checked on its own, then the row as a whole (combinations of fields, duplicate ids),
and every problem of a row is reported together so that one edit of the file fixes them all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from batch_sms import rules
from batch_sms.checks import phones, times, traps
from batch_sms.checks.phones import PhoneError
from batch_sms.checks.segments import SegmentCount, count_segments, ucs2_warning
from batch_sms.checks.times import QuietHours, TimeError
from batch_sms.files import columns
from batch_sms.files.quoting import quote
from batch_sms.models import Invalid, Problem, SourceRow, Unchanged, Update

ACTIVITY_ID = re.compile(r"^acti_[0-9A-Za-z]{10,64}$")
_OBJECT_ID = re.compile(r"^[a-z]+_[0-9A-Za-z]{4,64}$")
_PHONE_COLUMNS = ("local_phone", "remote_phone")
_TIME_COLUMNS = ("date_scheduled", "activity_at")


class CellError(ValueError):
    """A cell's value is not acceptable; the message says what is wrong and what would be."""


@dataclass(frozen=True)
class CheckOptions:
    """How to read cells that are not self-explanatory, and the limits a row must keep."""

    default_region: str | None = None
    """Region (like US) in which national phone numbers are read; None: only +numbers."""
    timezone: ZoneInfo | None = None
    """Where times without a UTC offset are placed, and recipients' zone when unknown."""
    date_format: str | None = None
    """A strptime format accepted besides ISO 8601."""
    quiet_hours: QuietHours | None = None
    max_segments: int | None = None
    allow_placeholders: bool = False
    """Send texts that hold {{...}}, {first_name}, <<...>> or [FIRST NAME]: by default they
    are taken for a mail merge left unfilled."""


DEFAULT_CHECKS = CheckOptions()


class Validator:
    """Validates rows in file order; remembers ids so that a repeated id is caught."""

    def __init__(self, now: datetime, settings: CheckOptions = DEFAULT_CHECKS) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self.now = now
        self.settings = settings
        self._first_row_of: dict[str, int] = {}
        self._checks = _cell_checks(settings)

    def validate(self, row: SourceRow) -> Update | Invalid | Unchanged:
        # A cell the file could not give as text (a formula never calculated) reads as empty:
        # the row must not be sent as if it were.
        problems = [Problem(column, message) for column, message in row.cell_problems.items()]
        self._check_id(row, problems)
        if row.exported and not problems and not _fills_any(row.cells):
            return Unchanged(row.index, row.number, row.activity_id)
        body = self._check_cells(row.cells, problems)
        problems.extend(_check_combination(row.cells, body, self.now))
        problems.extend(self._check_quiet_hours(row.cells, body))
        count = count_segments(body["text"]) if "text" in body else None
        problems.extend(self._check_segments(count))
        if problems:
            return Invalid(row.index, row.number, row.activity_id, tuple(problems))
        segments = count.segments if count else None
        warning = ucs2_warning(body["text"], count) if count else None
        warnings = (warning,) if warning else ()
        return Update(
            row.index, row.number, row.activity_id, body, segments=segments, warnings=warnings
        )

    def _check_cells(self, cells: dict[str, str], problems: list[Problem]) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for column, value in cells.items():
            if value and column in self._checks:
                error = traps.excel_error(value)
                if error is not None:
                    problems.append(Problem(column, _excel_error(error)))
                    continue
                try:
                    body[column] = self._checks[column](value)
                except (CellError, PhoneError, TimeError) as error:
                    problems.append(Problem(column, str(error)))
        return body

    def _check_quiet_hours(self, cells: dict[str, str], body: dict[str, Any]) -> list[Problem]:
        """A row that sends must not reach the recipient inside the quiet hours of the
        recipient's own time zone; a row whose zone cannot be told cannot be let through."""
        quiet = self.settings.quiet_hours
        arrival = _arrival(body, self.now)
        unreadable_phone = bool(cells.get("remote_phone")) and "remote_phone" not in body
        if quiet is None or arrival is None or unreadable_phone:
            return []  # nothing to check, or the phone's own problem is reported already
        column, moment = arrival
        zone, source = self._recipient_zone(body.get("remote_phone"))
        if zone is None:
            return [Problem("remote_phone", _unknown_zone(body.get("remote_phone"), quiet))]
        local = moment.astimezone(ZoneInfo(zone))
        if local.time() not in quiet:
            return []
        return [
            Problem(
                column,
                f"would reach the recipient at {local:%H:%M} {zone}{source}, inside quiet hours "
                f"{quiet}",
            )
        ]

    def _recipient_zone(self, phone: str | None) -> tuple[str | None, str]:
        """The recipient's time zone and, when it is the --timezone, a note that says so."""
        zone = phones.time_zone_of(phone) if phone else None
        if zone is not None:
            return zone, ""
        if self.settings.timezone is not None:
            return str(self.settings.timezone), " (--timezone)"
        return None, ""

    def _check_segments(self, count: SegmentCount | None) -> list[Problem]:
        limit = self.settings.max_segments
        if count is None or limit is None or count.segments <= limit:
            return []
        return [
            Problem(
                "text",
                f"takes {count.segments} SMS segments ({count.encoding}, {count.units} "
                f"{'septets' if count.encoding == 'GSM-7' else 'characters'}); "
                f"--max-segments allows {limit}",
            )
        ]

    def _check_id(self, row: SourceRow, problems: list[Problem]) -> None:
        activity_id = row.activity_id
        if columns.ID in row.cell_problems:
            return
        if not activity_id:
            problems.append(Problem(columns.ID, "is empty; every row needs its SMS activity id"))
            return
        error = traps.excel_error(activity_id)
        if error is not None:
            problems.append(Problem(columns.ID, _excel_error(error)))
            return
        if not ACTIVITY_ID.match(activity_id):
            problems.append(
                Problem(
                    columns.ID,
                    f"{quote(activity_id)} is not a Close SMS activity id "
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


def _arrival(body: dict[str, Any], now: datetime) -> tuple[str, datetime] | None:
    """When a row's SMS would reach its recipient, and the column that decides it; None for a
    row that sends nothing."""
    status = body.get("status")
    if status == "outbox":
        return "status", now
    if status == "scheduled" and "date_scheduled" in body:
        return "date_scheduled", datetime.fromisoformat(body["date_scheduled"])
    return None


def _unknown_zone(phone: str | None, quiet: QuietHours) -> str:
    why = f"{phone} spans several time zones" if phone else "this row has no remote_phone"
    return (
        f"the recipient's time zone is unknown ({why}), so quiet hours {quiet} cannot be "
        "checked; give --timezone, or the recipient's number in remote_phone"
    )


def _check_combination(cells: dict[str, str], body: dict[str, Any], now: datetime) -> list[Problem]:
    """Rules that involve more than one cell. Uses the raw cells, so that a row whose status
    is mistyped is not also blamed for a date that its real status would need."""
    problems: list[Problem] = []
    status = cells.get("status", "").lower()
    scheduled_at = body.get("date_scheduled")
    for needing, column in rules.STATUS_NEEDS_FIELD.items():
        if status == needing and not cells.get(column):
            problems.append(Problem(column, f"is required when status is {needing}"))
    time_status = rules.FIELD_NEEDS_STATUS["date_scheduled"]
    if cells.get("date_scheduled") and status != time_status:
        shown = quote(status) if status else "empty"
        problems.append(
            Problem(
                "date_scheduled",
                f"is only used with status {time_status} (this row's status is {shown})",
            )
        )
    if scheduled_at is not None and datetime.fromisoformat(scheduled_at) <= now:
        problems.append(
            Problem(
                "date_scheduled",
                f"{scheduled_at} is in the past (now is {now.isoformat(timespec='seconds')})",
            )
        )
    delay_status = rules.FIELD_NEEDS_STATUS["send_in"]
    if cells.get("send_in") and status != delay_status:
        message = f"only delays a send: use it with status {delay_status}"
        problems.append(Problem("send_in", message))
    if cells.get("text") and cells.get("template_id"):
        problems.append(Problem("template_id", "give either text or template_id, not both"))
    if not _fills_any(cells):
        problems.append(
            Problem(
                None,
                "the row changes nothing: fill at least one of "
                + ", ".join(columns.FIELDS)
                + " (an empty cell leaves that field unchanged)",
            )
        )
    return problems


def _excel_error(code: str) -> str:
    return (
        f"is {code}, an error value from the spreadsheet: {code} is {traps.EXCEL_ERRORS[code]}. "
        "Fix it in the spreadsheet and save the file again"
    )


def _fills_any(cells: dict[str, str]) -> bool:
    return any(cells.get(column) for column in columns.FIELDS)


def _status(value: str) -> str:
    status = value.lower()
    if status in rules.UPDATE_STATUSES:
        return status
    allowed = "draft, scheduled (send later) or outbox (send now)"
    if status in rules.STATUSES:
        raise CellError(f"{quote(value)} cannot be set by an update; Close allows only {allowed}")
    raise CellError(f"{quote(value)} is not a status; use {allowed}")


def _moment(settings: CheckOptions) -> Callable[[str], str]:
    def check(value: str) -> str:
        return times.parse_moment(value, settings.timezone, settings.date_format).isoformat()

    return check


def _phone(settings: CheckOptions) -> Callable[[str], str]:
    def check(value: str) -> str:
        return phones.to_e164(value, settings.default_region)

    return check


def _text(settings: CheckOptions) -> Callable[[str], str]:
    def check(value: str) -> str:
        if len(value) > rules.MAX_TEXT_LENGTH:
            raise CellError(
                f"is {len(value)} characters long; Close's limit is {rules.MAX_TEXT_LENGTH}"
            )
        control = traps.control_character(value)
        if control is not None:
            position, char = control
            raise CellError(
                f"holds a control character U+{ord(char):04X} at position {position}, which "
                "has no place in an SMS; delete it"
            )
        found = None if settings.allow_placeholders else traps.placeholder(value)
        if found is not None:
            raise CellError(
                f"still holds the placeholder {quote(found)}, which a mail merge should have "
                "filled in; fill it in, or pass --allow-placeholders to send it as it is"
            )
        return value

    return check


def _object_id(prefix: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not _OBJECT_ID.match(value) or not value.startswith(prefix):
            raise CellError(f"{quote(value)} is not a Close id (they look like {prefix}...)")
        return value

    return check


def _template_id(value: str) -> str:
    if not _OBJECT_ID.match(value):
        raise CellError(f"{quote(value)} is not a Close template id (they look like tmpl_...)")
    return value


def _send_in(value: str) -> int:
    if not value.isdigit() or int(value) > rules.MAX_SEND_IN_SECONDS:
        raise CellError(
            f"{quote(value)} is not a whole number of seconds from 0 to {rules.MAX_SEND_IN_SECONDS}"
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
        *first, last = rules.ATTACHMENT_KEYS
        keys = f"{', '.join(first)} and {last}"
        raise CellError(f"item {position} is not an object with {keys}")
    missing = [key for key in rules.ATTACHMENT_KEYS if not item.get(key)]
    if missing:
        raise CellError(f"item {position} lacks {', '.join(missing)}")
    if item["content_type"] not in rules.ATTACHMENT_CONTENT_TYPES:
        raise CellError(
            f"item {position} has content_type {quote(str(item['content_type']))}, which Close "
            "does not accept for SMS (image/jpeg, image/png, application/pdf, video/mp4, ...)"
        )
    if not str(item["url"]).startswith(("https://", "http://")):
        raise CellError(f"item {position} has a url that is not http(s): {quote(str(item['url']))}")


_CELL_CHECKS: dict[str, Callable[[str], Any]] = {
    "status": _status,
    "template_id": _template_id,
    "contact_id": _object_id("cont_"),
    "lead_id": _object_id("lead_"),
    "user_id": _object_id("user_"),
    "attachments": _attachments,
    "send_in": _send_in,
}


def _cell_checks(settings: CheckOptions) -> dict[str, Callable[[str], Any]]:
    """Every column's check; phones and times depend on how the user said to read them."""
    checks = dict(_CELL_CHECKS)
    checks["text"] = _text(settings)
    checks.update(dict.fromkeys(_PHONE_COLUMNS, _phone(settings)))
    checks.update(dict.fromkeys(_TIME_COLUMNS, _moment(settings)))
    return checks
