from __future__ import annotations

import json

import pytest

from batch_sms.rows import SourceRow
from batch_sms.validation import Invalid, Kind, Update, Validator
from tests.conftest import NOW, activity_id

ID = activity_id(1)
LATER = "2026-12-01T09:00:00-05:00"


def validate(cells: dict[str, str], row_id: str = ID, number: int = 2) -> Update | Invalid:
    row = SourceRow(
        index=number - 2, number=number, activity_id=row_id, cells=cells, previous_outcome=""
    )
    return Validator(NOW).validate(row)


def problems(result: Update | Invalid) -> list[tuple[str | None, str]]:
    assert isinstance(result, Invalid), f"expected an invalid row, got {result}"
    return [(problem.column, problem.message) for problem in result.problems]


@pytest.mark.parametrize(
    ("cells", "body"),
    [
        ({"text": "Hello"}, {"text": "Hello"}),
        ({"status": "outbox"}, {"status": "outbox"}),
        ({"status": "Outbox", "send_in": "30"}, {"status": "outbox", "send_in": 30}),
        ({"status": "outbox", "send_in": "0"}, {"status": "outbox", "send_in": 0}),
        (
            {"status": "scheduled", "date_scheduled": LATER},
            {"status": "scheduled", "date_scheduled": LATER},
        ),
        (
            {"status": "scheduled", "date_scheduled": "2026-12-01T14:00:00Z"},
            {"status": "scheduled", "date_scheduled": "2026-12-01T14:00:00+00:00"},
        ),
        ({"status": "draft"}, {"status": "draft"}),
        ({"remote_phone": "+14155550100"}, {"remote_phone": "+14155550100"}),
        ({"local_phone": "+442071838750"}, {"local_phone": "+442071838750"}),
        ({"template_id": "tmpl_abc123"}, {"template_id": "tmpl_abc123"}),
        ({"lead_id": "lead_abcdef123"}, {"lead_id": "lead_abcdef123"}),
        ({"contact_id": "cont_abcdef123"}, {"contact_id": "cont_abcdef123"}),
        ({"user_id": "user_abcdef123"}, {"user_id": "user_abcdef123"}),
        (
            {"activity_at": "2026-11-01T10:00:00+01:00"},
            {"activity_at": "2026-11-01T10:00:00+01:00"},
        ),
        (
            {
                "attachments": json.dumps(
                    [{"content_type": "image/png", "filename": "a.png", "url": "https://x.io/a"}]
                )
            },
            {
                "attachments": [
                    {"content_type": "image/png", "filename": "a.png", "url": "https://x.io/a"}
                ]
            },
        ),
        ({"text": "x" * 1000}, {"text": "x" * 1000}),
        # Empty cells mean "leave unchanged": they are not sent.
        ({"text": "Hi", "status": "", "remote_phone": ""}, {"text": "Hi"}),
    ],
)
def test_valid_rows_become_the_body_to_send(cells: dict[str, str], body: dict[str, object]) -> None:
    result = validate(cells)
    assert isinstance(result, Update)
    assert result.body == body
    assert result.activity_id == ID


@pytest.mark.parametrize(
    ("cells", "column", "message"),
    [
        (
            {"status": "sent"},
            "status",
            "'sent' cannot be set by an update; Close allows only draft, scheduled (send later) "
            "or outbox (send now)",
        ),
        (
            {"status": "sending"},
            "status",
            "'sending' is not a status; use draft, scheduled (send later) or outbox (send now)",
        ),
        ({"status": "scheduled"}, "date_scheduled", "is required when status is scheduled"),
        (
            {"status": "outbox", "date_scheduled": LATER},
            "date_scheduled",
            "is only used with status scheduled (this row's status is 'outbox')",
        ),
        (
            {"text": "Hi", "date_scheduled": LATER},
            "date_scheduled",
            "is only used with status scheduled (this row's status is empty)",
        ),
        (
            {"status": "scheduled", "date_scheduled": "2026-12-01 09:00"},
            "date_scheduled",
            "'2026-12-01 09:00' has no UTC offset, so Close could read it in the wrong time "
            "zone; write it with one, like 2026-12-01T09:00:00-05:00 (or Z for UTC)",
        ),
        (
            {"status": "scheduled", "date_scheduled": "next tuesday"},
            "date_scheduled",
            "'next tuesday' is not an ISO 8601 date and time, like 2026-12-01T09:00:00-05:00",
        ),
        (
            {"status": "scheduled", "date_scheduled": "2026-11-29T06:59:00-05:00"},
            "date_scheduled",
            "2026-11-29T06:59:00-05:00 is in the past (now is 2026-11-29T12:00:00+00:00)",
        ),
        ({"text": "x" * 1001}, "text", "is 1001 characters long; Close's limit is 1000"),
        (
            {"remote_phone": "(415) 555-0100"},
            "remote_phone",
            "'(415) 555-0100' is not in E.164 format, like +14155550100",
        ),
        (
            {"local_phone": "14155550100"},
            "local_phone",
            "'14155550100' is not in E.164 format, like +14155550100",
        ),
        (
            {"remote_phone": "1.4155550100E+10"},
            "remote_phone",
            "'1.4155550100E+10' is a phone number that a spreadsheet turned into scientific "
            "notation (digits are lost); format the column as text and type the number again",
        ),
        (
            {"status": "outbox", "send_in": "60"},
            "send_in",
            "'60' is not a whole number of seconds from 0 to 59",
        ),
        (
            {"status": "outbox", "send_in": "2.5"},
            "send_in",
            "'2.5' is not a whole number of seconds from 0 to 59",
        ),
        (
            {"text": "Hi", "send_in": "5"},
            "send_in",
            "only delays a send: use it with status outbox",
        ),
        (
            {"text": "Hi", "template_id": "tmpl_abc123"},
            "template_id",
            "give either text or template_id, not both",
        ),
        (
            {"template_id": "my template"},
            "template_id",
            "'my template' is not a Close template id (they look like tmpl_...)",
        ),
        (
            {"lead_id": "cont_abcdef123"},
            "lead_id",
            "'cont_abcdef123' is not a Close id (they look like lead_...)",
        ),
        (
            {"activity_at": "yesterday"},
            "activity_at",
            "'yesterday' is not an ISO 8601 date and time, like 2026-12-01T09:00:00-05:00",
        ),
        (
            {"attachments": "[{"},
            "attachments",
            "is not valid JSON (Expecting property name enclosed in double quotes at character 2)",
        ),
        (
            {"attachments": '{"url": "https://x"}'},
            "attachments",
            'must be a JSON list, like [{"content_type": ..., "filename": ..., ...}]',
        ),
        (
            {"attachments": json.dumps([{"content_type": "image/png"}] * 11)},
            "attachments",
            "has 11 items; Close allows at most 10",
        ),
        (
            {"attachments": json.dumps([{"content_type": "image/png", "filename": "a.png"}])},
            "attachments",
            "item 1 lacks url",
        ),
        (
            {"attachments": json.dumps(["a.png"])},
            "attachments",
            "item 1 is not an object with content_type, filename and url",
        ),
        (
            {
                "attachments": json.dumps(
                    [{"content_type": "application/zip", "filename": "a.zip", "url": "https://x"}]
                )
            },
            "attachments",
            "item 1 has content_type 'application/zip', which Close does not accept for SMS "
            "(image/jpeg, image/png, application/pdf, video/mp4, ...)",
        ),
        (
            {
                "attachments": json.dumps(
                    [{"content_type": "image/png", "filename": "a.png", "url": "file:///etc"}]
                )
            },
            "attachments",
            "item 1 has a url that is not http(s): 'file:///etc'",
        ),
    ],
)
def test_invalid_cells_name_the_column_and_the_fix(
    cells: dict[str, str], column: str, message: str
) -> None:
    assert (column, message) in problems(validate(cells))


def test_every_problem_of_a_row_is_reported_together() -> None:
    result = validate(
        {"status": "scheduled", "remote_phone": "555", "text": "x" * 1001, "send_in": "9"}
        # cell problems come in the file's column order, then those of the row as a whole
    )
    assert [column for column, _ in problems(result)] == [
        "remote_phone",
        "text",
        "date_scheduled",
        "send_in",
    ]


def test_a_row_that_changes_nothing_is_invalid() -> None:
    assert problems(validate({"text": "", "status": ""})) == [
        (
            None,
            "the row changes nothing: fill at least one of text, status, date_scheduled, "
            "template_id, local_phone, remote_phone, contact_id, lead_id, user_id, activity_at, "
            "attachments, send_in (an empty cell leaves that field unchanged)",
        )
    ]


@pytest.mark.parametrize(
    ("row_id", "message"),
    [
        ("", "is empty; every row needs its SMS activity id"),
        ("12345", "'12345' is not a Close SMS activity id (acti_ followed by letters and digits)"),
        (
            "lead_abcdefghijklmnop",
            "'lead_abcdefghijklmnop' is not a Close SMS activity id (acti_ followed by letters "
            "and digits)",
        ),
        (
            "acti_abc def ghi jkl",
            "'acti_abc def ghi jkl' is not a Close SMS activity id (acti_ followed by letters "
            "and digits)",
        ),
    ],
)
def test_malformed_ids(row_id: str, message: str) -> None:
    assert problems(validate({"text": "Hi"}, row_id=row_id)) == [("id", message)]


def test_a_repeated_id_is_an_error_on_every_later_row_naming_the_first() -> None:
    validator = Validator(NOW)
    rows = [
        SourceRow(index, index + 2, activity_id(7), {"text": f"v{index}"}, "") for index in range(3)
    ]
    first, second, third = (validator.validate(row) for row in rows)
    assert isinstance(first, Update)
    expected = f"{activity_id(7)} already appears in row 2; each SMS may appear only once"
    assert problems(second) == [("id", expected)]
    assert problems(third) == [("id", expected)]


@pytest.mark.parametrize(
    ("cells", "kind", "sends"),
    [
        ({"status": "outbox"}, Kind.SEND_NOW, True),
        ({"status": "scheduled", "date_scheduled": LATER}, Kind.SCHEDULE, True),
        ({"text": "Hi"}, Kind.EDIT, False),
        ({"status": "draft"}, Kind.EDIT, False),
    ],
)
def test_kind_of_update(cells: dict[str, str], kind: Kind, sends: bool) -> None:
    result = validate(cells)
    assert isinstance(result, Update)
    assert (result.kind, result.sends) == (kind, sends)


def test_describe_uses_the_users_headers() -> None:
    result = validate({"status": "scheduled", "date_scheduled": "soon"})
    assert isinstance(result, Invalid)
    headers = {"date_scheduled": "Date Scheduled"}
    assert result.describe(lambda column: headers.get(column, column)) == (
        "Date Scheduled: 'soon' is not an ISO 8601 date and time, like 2026-12-01T09:00:00-05:00"
    )


def test_validator_refuses_a_naive_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Validator(NOW.replace(tzinfo=None))
