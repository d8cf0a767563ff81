from __future__ import annotations

from datetime import time
from zoneinfo import ZoneInfo

import pytest

from batch_sms.checks.times import (
    QuietHours,
    TimeError,
    parse_date_format,
    parse_moment,
    parse_quiet_hours,
    parse_timezone,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
US_FORMAT = "%m/%d/%Y %I:%M %p"
NO_OFFSET = (
    "has no UTC offset and no --timezone was given to place it; write it with one, like "
    "2026-12-01T09:00:00-05:00 (or Z for UTC), or pass --timezone (e.g. Europe/Berlin)"
)


@pytest.mark.parametrize(
    ("value", "zone", "date_format", "iso"),
    [
        ("2026-12-01T09:00:00-05:00", None, None, "2026-12-01T09:00:00-05:00"),
        ("2026-12-01T14:00:00Z", None, None, "2026-12-01T14:00:00+00:00"),
        ("2026-12-01T09:00:00+05:30", BERLIN, None, "2026-12-01T09:00:00+05:30"),
        ("2026-12-01 09:00", BERLIN, None, "2026-12-01T09:00:00+01:00"),
        ("2026-12-01 09:00:00", BERLIN, None, "2026-12-01T09:00:00+01:00"),
        ("2026-12-01T09:00", NEW_YORK, None, "2026-12-01T09:00:00-05:00"),
        ("2026-07-01T09:00", NEW_YORK, None, "2026-07-01T09:00:00-04:00"),
        ("12/01/2026 9:00 AM", NEW_YORK, US_FORMAT, "2026-12-01T09:00:00-05:00"),
        ("12/01/2026 9:00 PM", BERLIN, US_FORMAT, "2026-12-01T21:00:00+01:00"),
        ("01.12.2026 21:15", BERLIN, "%d.%m.%Y %H:%M", "2026-12-01T21:15:00+01:00"),
        # ISO 8601 is read even when a --date-format is given.
        ("2026-12-01T09:00", BERLIN, US_FORMAT, "2026-12-01T09:00:00+01:00"),
        # A format that holds an offset needs no zone.
        ("12/01/2026 09:00 -0500", None, "%m/%d/%Y %H:%M %z", "2026-12-01T09:00:00-05:00"),
        # Around the DST changes, times outside the gap and the overlap are placed.
        ("2026-03-29 01:59", BERLIN, None, "2026-03-29T01:59:00+01:00"),
        ("2026-03-29 03:00", BERLIN, None, "2026-03-29T03:00:00+02:00"),
        ("2026-10-25 01:59", BERLIN, None, "2026-10-25T01:59:00+02:00"),
        ("2026-10-25 03:00", BERLIN, None, "2026-10-25T03:00:00+01:00"),
        # An explicit offset settles the overlap.
        ("2026-10-25T02:30:00+01:00", BERLIN, None, "2026-10-25T02:30:00+01:00"),
    ],
)
def test_moments_are_placed_with_their_offset(
    value: str, zone: ZoneInfo | None, date_format: str | None, iso: str
) -> None:
    assert parse_moment(value, zone, date_format).isoformat() == iso


@pytest.mark.parametrize(
    ("value", "zone", "date_format", "message"),
    [
        ("2026-12-01 09:00", None, None, f"'2026-12-01 09:00' {NO_OFFSET}"),
        ("2026-12-01T09:00:00", None, None, f"'2026-12-01T09:00:00' {NO_OFFSET}"),
        ("12/01/2026 9:00 AM", NEW_YORK, US_FORMAT.replace("%p", ""), "'12/01/2026 9:00 AM' "
         "is neither ISO 8601, like 2026-12-01T09:00:00-05:00, nor in the --date-format "
         "'%m/%d/%Y %I:%M '"),
        ("12/01/2026 9:00 AM", NEW_YORK, None, "'12/01/2026 9:00 AM' could mean two dates (day "
         "and month either way round); write it as ISO 8601, like 2026-12-01T09:00:00-05:00, or "
         "pass --date-format to say how to read it (e.g. '%m/%d/%Y %I:%M %p')"),
        ("01.12.2026 09:00", BERLIN, None, "'01.12.2026 09:00' could mean two dates (day and "
         "month either way round); write it as ISO 8601, like 2026-12-01T09:00:00-05:00, or "
         "pass --date-format to say how to read it (e.g. '%m/%d/%Y %I:%M %p')"),
        ("2026-12-01", BERLIN, None, "'2026-12-01' is a date without a time of day; write "
         "both, like 2026-12-01T09:00:00-05:00"),
        ("next tuesday", BERLIN, None, "'next tuesday' is not an ISO 8601 date and time, like "
         "2026-12-01T09:00:00-05:00 (for another layout, pass --date-format)"),
        ("2026-03-29 02:30", BERLIN, None, "'2026-03-29 02:30' does not exist in Europe/Berlin: "
         "the clocks go forward that night (from +01:00 to +02:00) and skip it; give a time "
         "outside the gap, or write it with its UTC offset"),
        ("2026-03-29 02:00", BERLIN, None, "'2026-03-29 02:00' does not exist in Europe/Berlin: "
         "the clocks go forward that night (from +01:00 to +02:00) and skip it; give a time "
         "outside the gap, or write it with its UTC offset"),
        ("2026-10-25 02:30", BERLIN, None, "'2026-10-25 02:30' happens twice in Europe/Berlin: "
         "the clocks go back that night, so it is both 02:30+02:00 and 02:30+01:00; write it "
         "with the UTC offset you mean"),
        ("2026-03-08 02:30", NEW_YORK, None, "'2026-03-08 02:30' does not exist in "
         "America/New_York: the clocks go forward that night (from -05:00 to -04:00) and skip "
         "it; give a time outside the gap, or write it with its UTC offset"),
        ("2026-11-01 01:30", NEW_YORK, None, "'2026-11-01 01:30' happens twice in "
         "America/New_York: the clocks go back that night, so it is both 01:30-04:00 and "
         "01:30-05:00; write it with the UTC offset you mean"),
        ("03/08/2026 2:30 AM", NEW_YORK, US_FORMAT, "'03/08/2026 2:30 AM' does not exist in "
         "America/New_York: the clocks go forward that night (from -05:00 to -04:00) and skip "
         "it; give a time outside the gap, or write it with its UTC offset"),
    ],
)  # fmt: skip
def test_moments_that_cannot_be_placed(
    value: str, zone: ZoneInfo | None, date_format: str | None, message: str
) -> None:
    with pytest.raises(TimeError) as raised:
        parse_moment(value, zone, date_format)
    assert str(raised.value) == message


@pytest.mark.parametrize(("value", "key"), [("Europe/Berlin", "Europe/Berlin"), ("UTC", "UTC")])
def test_parse_timezone(value: str, key: str) -> None:
    assert parse_timezone(value).key == key


@pytest.mark.parametrize("value", ["Berlin", "Europe/Atlantis", "", "../etc/passwd", "CET+1"])
def test_parse_timezone_refuses_unknown_names(value: str) -> None:
    with pytest.raises(ValueError, match="is not an IANA time zone name, like Europe/Berlin"):
        parse_timezone(value)


@pytest.mark.parametrize("value", [US_FORMAT, "%d.%m.%Y %H:%M", "%Y-%m-%d %H:%M %z"])
def test_parse_date_format(value: str) -> None:
    assert parse_date_format(value) == value


@pytest.mark.parametrize("value", ["%m/%d/%Y", "%H:%M", "dd/mm/yyyy hh:mm", "%Q"])
def test_parse_date_format_refuses_formats_without_date_and_time(value: str) -> None:
    with pytest.raises(ValueError, match="is not a strptime format that holds a date and a time"):
        parse_date_format(value)


@pytest.mark.parametrize(
    ("window", "clock", "inside"),
    [
        ("21:00-08:00", "20:59", False),
        ("21:00-08:00", "21:00", True),
        ("21:00-08:00", "23:59", True),
        ("21:00-08:00", "00:00", True),
        ("21:00-08:00", "07:59", True),
        ("21:00-08:00", "08:00", False),
        ("21:00-08:00", "12:00", False),
        ("12:30-14:00", "12:29", False),
        ("12:30-14:00", "12:30", True),
        ("12:30-14:00", "13:59", True),
        ("12:30-14:00", "14:00", False),
        ("00:00-06:00", "00:00", True),
        ("22:00-00:00", "23:59", True),
        ("22:00-00:00", "00:00", False),
    ],
)
def test_quiet_hours(window: str, clock: str, inside: bool) -> None:
    quiet = parse_quiet_hours(window)
    assert str(quiet) == window
    assert (time.fromisoformat(clock) in quiet) is inside


def test_quiet_hours_count_minutes_not_seconds() -> None:
    quiet = QuietHours(time(21), time(8))
    assert time(20, 59, 59) not in quiet
    assert time(7, 59, 59) in quiet


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("21-8", "'21-8' is not a window of two 24-hour times HH:MM-HH:MM, like 21:00-08:00"),
        ("21:00", "'21:00' is not a window of two 24-hour times HH:MM-HH:MM, like 21:00-08:00"),
        ("9pm-8am", "'9pm-8am' is not a window of two 24-hour times HH:MM-HH:MM, like 21:00-08:00"),
        ("24:00-08:00", "'24:00-08:00' is not a window of two 24-hour times HH:MM-HH:MM, like "
         "21:00-08:00"),
        ("21:00-08:60", "'21:00-08:60' is not a window of two 24-hour times HH:MM-HH:MM, like "
         "21:00-08:00"),
        ("08:00-08:00", "'08:00-08:00' starts and ends at the same minute; give a window"),
    ],
)  # fmt: skip
def test_quiet_hours_option_format(value: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_quiet_hours(value)
    assert str(raised.value) == message
