"""The column names batch-sms understands, and how headers are matched to them."""

from __future__ import annotations

import re

ID = "id"

# Fields of an SMS activity that a row may change. Each is sent only when its cell is not empty.
FIELDS = (
    "text",
    "status",
    "date_scheduled",
    "template_id",
    "local_phone",
    "remote_phone",
    "contact_id",
    "lead_id",
    "user_id",
    "activity_at",
    "attachments",
    "send_in",
)

# Columns that batch-sms appends to the results. A results file fed back as input has them
# already: they are recognized, read for the previous outcome, and replaced rather than sent.
RESULTS = (
    "outcome",
    "error_message",
    "http_status",
    "attempts",
    "close_status",
    "close_date_scheduled",
    "close_date_sent",
    "close_error_message",
    "segments",
)

_SEPARATORS = re.compile(r"[\s\-_.]+")


def normalize_header(header: str) -> str:
    """The canonical spelling of a header: `Date Scheduled` and `date-scheduled` are both
    `date_scheduled`."""
    return _SEPARATORS.sub("_", header.strip().lower()).strip("_")
