"""A results file like a big campaign's, written directly (a real run of 100,000 rows would take
the benchmark longer than the report it measures): SMS sent now and scheduled over a few days
to numbers in several countries, drafts edited, a few texts in UCS-2, invalid and failed rows
with a handful of reasons. Every phone number is different, as in a real campaign."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

from batch_sms.checks.segments import count_segments
from benchmarks.harness import activity_id

HEADER = [
    "id",
    "Contact",
    "text",
    "status",
    "date_scheduled",
    "remote_phone",
    "outcome",
    "evidence",
    "error_message",
    "http_status",
    "attempts",
    "close_status",
    "close_date_scheduled",
    "close_date_sent",
    "close_error_message",
    "segments",
    "recipient_e164",
]
SENT_AT = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
# Valid numbers (a campaign's have passed validation): the prefix, then so many digits. US
# numbers in three zones (an exchange starts with 2-9), mobiles in the UK and Germany.
PREFIXES = (("12125", 6), ("14155", 6), ("13125", 6), ("44790", 7), ("49151", 8))
OFFSETS = ("-05:00", "-08:00", "+00:00", "+01:00")
INVALID = (
    "remote_phone: '{n}' has no country code; write it in E.164 format, like +14155550100",
    "date_scheduled: 2024-03-05T09:00:00-05:00 is in the past (now is 2026-11-30T04:48:14+00:00)",
    "id: acti_{n:043d} already appears in row {n}; each SMS may appear only once",
)
FAILED = "Close rejected the update (400): local_phone: +1212555{n:04d} is not one of yours."


def write_campaign_results(path: Path, rows: int) -> Path:
    with path.open("w", newline="", encoding="utf-8-sig") as stream:
        writer = csv.writer(stream)
        writer.writerow(HEADER)
        for number in range(rows):
            writer.writerow(_row(number))
    return path


def _row(number: int) -> list[str]:
    prefix, digits = PREFIXES[number % len(PREFIXES)]
    phone = f"+{prefix}{number % 10**digits:0{digits}d}"
    quote = "’" if number % 25 == 0 else "'"  # one text in 25 has a curly apostrophe
    text = f"Hi #{number}, your renewal is ready; it{quote}s one tap: reply YES to confirm."
    segments = str(count_segments(text).segments)
    start = [activity_id(number), f"Customer {number}", text]
    kind = number % 20
    if kind < 8:
        sent = (SENT_AT + timedelta(seconds=number / 40)).isoformat()
        close = ["sent", "", sent, "", segments, phone]
        return start + ["outbox", "", phone, "updated", "answer", "", "200", "1", *close]
    if kind < 16:
        day, hour = number % 3, 8 + number % 12
        local = f"2026-12-{2 + day:02d}T{hour:02d}:30:00{OFFSETS[number % len(OFFSETS)]}"
        utc = datetime.fromisoformat(local).astimezone(UTC).isoformat()
        close = ["scheduled", utc, "", "", segments, phone]
        return start + ["scheduled", local, phone, "updated", "answer", "", "200", "1", *close]
    if kind < 18:
        close = ["draft", "", "", "", segments, ""]
        return start + ["", "", "", "updated", "answer", "", "200", "1", *close]
    if kind == 18:
        message = INVALID[number % len(INVALID)].format(n=number)
        invalid = ["invalid", "", message, "", "0", "", "", "", "", "", ""]
        return start + ["outbox", "", phone, *invalid]
    message = FAILED.format(n=number % 10_000)
    failed = ["failed", "", message, "400", "1", "", "", "", "", segments, ""]
    return start + ["outbox", "", phone, *failed]
