"""The exported file: one row per SMS, the columns to fill in beside what Close has today.

Each SMS's current values go in context columns (`current_text`, ...), which `run` knows and
never sends; the columns to fill in (`status`, `date_scheduled`, `text`) start empty, so a row
left alone changes nothing and a filled-in cell sends only that field. Which is the round trip:
export, fill in the rows to change, `batch-sms run` the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from batch_sms import rules
from batch_sms.files import columns

# The columns a person fills in, each beside the current value it replaces.
EDITABLE = ("status", "date_scheduled", "text")
HEADER = (
    columns.ID,
    "lead_url",
    "current_remote_phone",
    "current_status",
    "status",
    "current_date_scheduled",
    "date_scheduled",
    "current_text",
    "text",
    "current_local_phone",
    "current_user_name",
    "current_user_id",
    "current_lead_id",
    "current_contact_id",
    "current_date_created",
)
LINKS = ("lead_url",)  # clickable in a workbook
# The fields asked of Close for each SMS: what the context columns show, and no more.
FIELDS = (
    "id",
    "status",
    "date_scheduled",
    "text",
    "remote_phone",
    "local_phone",
    "user_name",
    "user_id",
    "lead_id",
    "contact_id",
    "date_created",
)
_CURRENT = "current_"
# Excel runs a CSV cell that starts like this as a formula. An SMS text comes from outside (an
# inbound SMS is anyone's), so in a CSV file the free-text columns get a leading quote there:
# they are only shown, never sent. A workbook keeps every cell text as it is.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FREE_TEXT = ("current_text", "current_user_name")


def row(sms: Mapping[str, Any], quote_formulas: bool = False) -> list[str]:
    """The file's row for one SMS as Close lists it; `quote_formulas` for a CSV file."""
    cells = {columns.ID: _text(sms.get("id")), "lead_url": lead_url(sms.get("lead_id"))}
    for name in HEADER:
        if name.startswith(_CURRENT):
            cells[name] = _text(sms.get(name.removeprefix(_CURRENT)))
    if quote_formulas:
        for name in _FREE_TEXT:
            if cells[name].startswith(_FORMULA_START):
                cells[name] = "'" + cells[name]
    return [cells.get(name, "") for name in HEADER]


def lead_url(lead_id: Any) -> str:
    """Where a person opens the lead in Close's web app; empty without a lead."""
    if not isinstance(lead_id, str) or not lead_id:
        return ""
    return rules.LEAD_URL.format(lead_id=lead_id)


def _text(value: Any) -> str:
    return "" if value is None else str(value)
