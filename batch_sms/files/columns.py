"""The column names batch-sms understands, and how headers are matched to them."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from batch_sms import rules

ID = "id"

# Fields of an SMS activity that a row may change. Each is sent only when its cell is not empty.
FIELDS = rules.UPDATE_FIELDS

# Columns that `batch-sms export` writes beside the ones to fill in, to show what Close has
# today and whom each SMS is for. A file that has them is an exported file: they are
# recognized and never sent, and a row whose fields are all left empty is skipped, not invalid.
CONTEXT = (
    "lead_url",
    "current_remote_phone",
    "current_status",
    "current_date_scheduled",
    "current_text",
    "current_local_phone",
    "current_user_name",
    "current_user_id",
    "current_lead_id",
    "current_contact_id",
    "current_date_created",
)

# Columns that batch-sms appends to the results. A results file fed back as input has them
# already: they are recognized, read for the previous outcome, and replaced rather than sent.
RESULTS = (
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
)

_SEPARATORS = re.compile(r"[\s\-_.]+")


def normalize_header(header: str) -> str:
    """The canonical spelling of a header: `Date Scheduled` and `date-scheduled` are both
    `date_scheduled`."""
    return _SEPARATORS.sub("_", header.strip().lower()).strip("_")


def closest_header(headers: Sequence[str], column: str) -> str | None:
    """The header the user most likely meant as `column`, for a "did you mean" hint: one that
    names it as a word (`Activity ID` for `id`), else one spelled like it."""
    by_name = {normalize_header(header): header for header in headers}
    for name, header in by_name.items():
        if column in name.split("_"):
            return header
    if column == ID:
        for name, header in by_name.items():
            if "activity" in name:
                return header
    close = difflib.get_close_matches(column, list(by_name), n=1, cutoff=0.6)
    return by_name[close[0]] if close else None
