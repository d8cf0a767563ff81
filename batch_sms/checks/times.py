"""Dates and times as spreadsheets hold them, placed on the time line without guessing.

A time without a UTC offset is placed in the time zone the user names; a local time that the
clocks skip (spring forward) or show twice (fall back) is refused, because either choice would
be a guess about when the SMS goes out. Also the quiet hours during which no SMS may arrive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

EXAMPLE = "2026-12-01T09:00:00-05:00"
# Day and month in either order: only the user can say which one a file means.
_SLASHED_DATE = re.compile(r"^\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}\b")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class TimeError(ValueError):
    """A date and time cell that cannot be placed; the message says why and what would do."""


def parse_timezone(value: str) -> ZoneInfo:
    """A --timezone value: an IANA name like Europe/Berlin; ValueError names what is wrong."""
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"'{value}' is not an IANA time zone name, like Europe/Berlin or America/New_York"
        ) from None


def parse_date_format(value: str) -> str:
    """A --date-format value, checked by writing a known moment with it and reading it back."""
    sample = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)  # aware, so that %z can be written
    try:
        read = datetime.strptime(sample.strftime(value), value)
        readable = read.replace(tzinfo=None) == sample.replace(tzinfo=None)
    except ValueError:
        readable = False
    if not readable:
        raise ValueError(
            f"'{value}' is not a strptime format that holds a date and a time of day, "
            "like '%m/%d/%Y %I:%M %p' or '%d.%m.%Y %H:%M'"
        )
    return value


def parse_moment(value: str, zone: tzinfo | None, date_format: str | None = None) -> datetime:
    """The moment a cell means, with its UTC offset; TimeError says what is wrong with it."""
    naive_or_aware = _read(value, date_format)
    if naive_or_aware.tzinfo is not None:
        return naive_or_aware
    if zone is None:
        raise TimeError(
            f"'{value}' has no UTC offset and no --timezone was given to place it; write it "
            f"with one, like {EXAMPLE} (or Z for UTC), or pass --timezone (e.g. Europe/Berlin)"
        )
    return place(naive_or_aware, zone, value)


def _read(value: str, date_format: str | None) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is not None and not _is_date_only(value):
        return moment
    if date_format is not None:
        try:
            return datetime.strptime(value, date_format)
        except ValueError:
            raise TimeError(
                f"'{value}' is neither ISO 8601, like {EXAMPLE}, nor in the --date-format "
                f"'{date_format}'"
            ) from None
    raise TimeError(_unreadable(value, moment is not None))


def _is_date_only(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _unreadable(value: str, date_only: bool) -> str:
    if date_only:
        return f"'{value}' is a date without a time of day; write both, like {EXAMPLE}"
    if _SLASHED_DATE.match(value):
        return (
            f"'{value}' could mean two dates (day and month either way round); write it as "
            f"ISO 8601, like {EXAMPLE}, or pass --date-format to say how to read it "
            "(e.g. '%m/%d/%Y %I:%M %p')"
        )
    return (
        f"'{value}' is not an ISO 8601 date and time, like {EXAMPLE} (for another layout, "
        "pass --date-format)"
    )


def place(local: datetime, zone: tzinfo, shown: str) -> datetime:
    """A wall-clock time in `zone`, refused when the clocks skip it or show it twice."""
    first, second = local.replace(tzinfo=zone, fold=0), local.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first
    before, after = _offset(first), _offset(second)
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != local:
        raise TimeError(
            f"'{shown}' does not exist in {zone}: the clocks go forward that night "
            f"(from {before} to {after}) and skip it; give a time outside the gap, or write "
            "it with its UTC offset"
        )
    raise TimeError(
        f"'{shown}' happens twice in {zone}: the clocks go back that night, so it is both "
        f"{local:%H:%M}{before} and {local:%H:%M}{after}; write it with the UTC offset you mean"
    )


def _offset(moment: datetime) -> str:
    hours_minutes = moment.strftime("%z")  # like +0100
    return f"{hours_minutes[:3]}:{hours_minutes[3:5]}"


@dataclass(frozen=True)
class QuietHours:
    """A daily window, in the recipient's local time, when no SMS may arrive. It may wrap
    midnight (21:00-08:00); the start minute is inside the window, the end minute is not."""

    start: time
    end: time

    def __contains__(self, moment: time) -> bool:
        clock = moment.replace(second=0, microsecond=0, tzinfo=None)
        if self.start < self.end:
            return self.start <= clock < self.end
        return clock >= self.start or clock < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def parse_quiet_hours(value: str) -> QuietHours:
    """A --quiet-hours value, like `21:00-08:00`; ValueError names what is wrong."""
    start, separator, end = value.strip().partition("-")
    clocks = [_CLOCK.match(part.strip()) for part in (start, end)]
    if not separator or None in clocks:
        raise ValueError(
            f"'{value}' is not a window of two 24-hour times HH:MM-HH:MM, like 21:00-08:00"
        )
    first, last = (time(int(m.group(1)), int(m.group(2))) for m in clocks if m is not None)
    if first == last:
        raise ValueError(f"'{value}' starts and ends at the same minute; give a window")
    return QuietHours(first, last)
