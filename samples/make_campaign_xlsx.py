"""Write samples/campaign.xlsx: a campaign as ops staff keep it in Excel, headers in their own
words, local send times without offset, phones typed every which way, a Notes column.

Run it from the repository root to make the file again:

    python samples/make_campaign_xlsx.py

Try it (the column names are mapped to the ones batch-sms knows):

    batch-sms run samples/campaign.xlsx --sandbox --map "Activity ID=id" --map "Message=text"
        --map "Send at=date_scheduled" --map "Recipient=remote_phone"
        --timezone America/New_York --default-region US
"""

from __future__ import annotations

import random
import string
from datetime import datetime
from pathlib import Path

import openpyxl
from openpyxl.styles import Font

OUT = Path(__file__).with_name("campaign.xlsx")
HEADER = ("Activity ID", "Message", "Status", "Send at", "Recipient", "Notes")
# A fixed time for the workbook's properties, so that the file does not change with the day.
MADE = datetime(2026, 11, 1, 9, 0)

# (first name, status, local send time or None, recipient as typed, note)
PEOPLE: list[tuple[str, str, datetime | None, object, str]] = [
    ("Maria", "scheduled", datetime(2029, 3, 6, 9, 0), "(415) 555-0100", "spring wave, SF"),
    ("James", "scheduled", datetime(2029, 3, 6, 9, 0), "415.555.0101", "spring wave, SF"),
    ("Aiko", "scheduled", datetime(2029, 3, 6, 9, 15), "415-555-0102", "spring wave, SF"),
    ("Liam", "scheduled", datetime(2029, 3, 6, 9, 15), "+1 415 555 0103", "spring wave, SF"),
    ("Sofia", "scheduled", datetime(2029, 3, 6, 9, 30), "1 (415) 555-0104", "spring wave, SF"),
    ("Noah", "scheduled", datetime(2029, 3, 6, 9, 30, 30), "4155550105", "odd seconds"),
    ("Emma", "scheduled", datetime(2029, 3, 7, 14, 0), "(212) 555-0106", "spring wave, NYC"),
    ("Lucas", "scheduled", datetime(2029, 3, 7, 14, 0), "212 555 0107", "spring wave, NYC"),
    ("Mia", "scheduled", datetime(2029, 3, 7, 14, 30), "212-555-0108", "spring wave, NYC"),
    ("Ethan", "scheduled", datetime(2029, 3, 7, 14, 30), "+12125550109", "spring wave, NYC"),
    ("Olivia", "outbox", None, "(646) 555-0110", "send now"),
    ("Mateo", "outbox", None, "646.555.0111", "send now"),
    ("Chloe", "outbox", None, 16465550112, "Excel made the phone a number"),
    ("Jonas", "draft", None, "(646) 555-0113", "typo fix in draft"),
    ("Amara", "draft", None, "", "typo fix in draft, phone unchanged"),
    ("Yuki", "draft", None, "", "typo fix in draft, phone unchanged"),
    ("Omar", "scheduled", datetime(2029, 3, 8, 10, 0), "(415) 555-0116", "spring wave, SF"),
    ("Grace", "scheduled", datetime(2029, 3, 8, 10, 0), "415 555 0117 ext", "bad phone"),
    ("Felix", "scheduled", datetime(2029, 3, 8, 10, 0), "(415) 555-0118", "deleted in Close"),
    ("Hana", "outbox", None, "(415) 555-0119", "send now"),
]


def activity_id(rng: random.Random, note: str) -> str:
    # The sandbox has every id as a draft except those containing 'missing'.
    prefix = "missing" if note == "deleted in Close" else ""
    alphabet = string.ascii_letters + string.digits
    return "acti_" + prefix + "".join(rng.choice(alphabet) for _ in range(43 - len(prefix)))


def message(name: str, status: str) -> str:
    if status == "draft":
        return f"Hi {name}, your spring offer is ready: reply YES to book a visit."
    return f"Hi {name}, spring is here! Reply YES to book your visit, or STOP to opt out."


def main() -> None:
    rng = random.Random(2029)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Campaign"
    sheet.append(HEADER)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for name, status, send_at, recipient, note in PEOPLE:
        sheet.append(
            [activity_id(rng, note), message(name, status), status, send_at, recipient, note]
        )
        sheet.cell(sheet.max_row, 4).number_format = "yyyy-mm-dd hh:mm"
    for column, width in zip("ABCDEF", (50, 70, 11, 17, 18, 34), strict=True):
        sheet.column_dimensions[column].width = width
    workbook.properties.creator = "batch-sms samples"
    workbook.properties.created = MADE
    workbook.properties.modified = MADE
    workbook.save(OUT)
    print(f"Wrote {OUT}")


if __name__ == "__main__":
    main()
