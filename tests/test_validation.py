from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from batch_sms.checks.segments import ucs2_warning
from batch_sms.checks.times import parse_quiet_hours
from batch_sms.checks.validation import CheckOptions, Validator
from batch_sms.cli import ExitCode, cli
from batch_sms.files import columns
from batch_sms.models import Invalid, Kind, SourceRow, Update
from batch_sms.sandbox import Sandbox
from tests.conftest import NOW, WriteCsv, activity_id, read_csv

ID = activity_id(1)
LATER = "2026-12-01T09:00:00-05:00"


def validate(
    cells: dict[str, str],
    row_id: str = ID,
    number: int = 2,
    settings: CheckOptions | None = None,
) -> Update | Invalid:
    row = SourceRow(
        index=number - 2, number=number, activity_id=row_id, cells=cells, previous_outcome=""
    )
    return Validator(NOW, settings or CheckOptions()).validate(row)


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
            "'2026-12-01 09:00' has no UTC offset and no --timezone was given to place it; write "
            "it with one, like 2026-12-01T09:00:00-05:00 (or Z for UTC), or pass --timezone "
            "(e.g. Europe/Berlin)",
        ),
        (
            {"status": "scheduled", "date_scheduled": "next tuesday"},
            "date_scheduled",
            "'next tuesday' is not an ISO 8601 date and time, like 2026-12-01T09:00:00-05:00 "
            "(for another layout, pass --date-format)",
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
            "'(415) 555-0100' has no country code; write it in E.164 format, like +14155550100, "
            "or give --default-region (e.g. US) to read national numbers",
        ),
        (
            {"local_phone": "14155550100"},
            "local_phone",
            "'14155550100' has no country code; write it in E.164 format, like +14155550100, "
            "or give --default-region (e.g. US) to read national numbers",
        ),
        (
            {"remote_phone": "+1 415 123 4567"},
            "remote_phone",
            "'+1 415 123 4567' is not a valid number for US",
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
            "'yesterday' is not an ISO 8601 date and time, like 2026-12-01T09:00:00-05:00 "
            "(for another layout, pass --date-format)",
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
        "Date Scheduled: 'soon' is not an ISO 8601 date and time, like 2026-12-01T09:00:00-05:00 "
        "(for another layout, pass --date-format)"
    )


def test_validator_refuses_a_naive_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Validator(NOW.replace(tzinfo=None))


# NOW is 2026-11-29 12:00 UTC: 04:00 in Los Angeles, 07:00 in New York, 13:00 in Berlin.
BERLIN = ZoneInfo("Europe/Berlin")
QUIET = parse_quiet_hours("21:00-08:00")
LOS_ANGELES_PHONE = "+14155550100"
NEW_YORK_PHONE = "+16465552000"
BERLIN_PHONE = "+4915112345678"
TOLL_FREE = "+18005550100"


@pytest.mark.parametrize(
    ("cells", "settings", "body"),
    [
        (
            {"remote_phone": "(415) 555-0100", "local_phone": "415.555.0100"},
            CheckOptions(default_region="US"),
            {"remote_phone": "+14155550100", "local_phone": "+14155550100"},
        ),
        (
            {"remote_phone": "0151 12345678"},
            CheckOptions(default_region="DE"),
            {"remote_phone": BERLIN_PHONE},
        ),
        (
            {"status": "scheduled", "date_scheduled": "2026-12-01 09:00"},
            CheckOptions(timezone=BERLIN),
            {"status": "scheduled", "date_scheduled": "2026-12-01T09:00:00+01:00"},
        ),
        (
            {"activity_at": "11/28/2026 5:30 PM"},
            CheckOptions(timezone=BERLIN, date_format="%m/%d/%Y %I:%M %p"),
            {"activity_at": "2026-11-28T17:30:00+01:00"},
        ),
    ],
)
def test_settings_say_how_to_read_phones_and_times(
    cells: dict[str, str], settings: CheckOptions, body: dict[str, str]
) -> None:
    result = validate(cells, settings=settings)
    assert isinstance(result, Update), result
    assert result.body == body


@pytest.mark.parametrize(
    ("cells", "settings", "column", "message"),
    [
        (
            {"status": "scheduled", "date_scheduled": "2026-03-29 02:30"},
            CheckOptions(timezone=BERLIN),
            "date_scheduled",
            "'2026-03-29 02:30' does not exist in Europe/Berlin: the clocks go forward that "
            "night (from +01:00 to +02:00) and skip it; give a time outside the gap, or write "
            "it with its UTC offset",
        ),
        (
            {"activity_at": "2026-10-25 02:30"},
            CheckOptions(timezone=BERLIN),
            "activity_at",
            "'2026-10-25 02:30' happens twice in Europe/Berlin: the clocks go back that night, "
            "so it is both 02:30+02:00 and 02:30+01:00; write it with the UTC offset you mean",
        ),
        (
            # Placed in the zone first, then found to be in the past.
            {"status": "scheduled", "date_scheduled": "2026-11-29 12:30"},
            CheckOptions(timezone=BERLIN),
            "date_scheduled",
            "2026-11-29T12:30:00+01:00 is in the past (now is 2026-11-29T12:00:00+00:00)",
        ),
        (
            {"status": "scheduled", "date_scheduled": "12/01/2026 9:00 AM"},
            CheckOptions(timezone=BERLIN),
            "date_scheduled",
            "'12/01/2026 9:00 AM' could mean two dates (day and month either way round); write "
            "it as ISO 8601, like 2026-12-01T09:00:00-05:00, or pass --date-format to say how "
            "to read it (e.g. '%m/%d/%Y %I:%M %p')",
        ),
        (
            {"remote_phone": "(415) 555-01"},
            CheckOptions(default_region="US"),
            "remote_phone",
            "'(415) 555-01' is not a valid phone number: it is too short",
        ),
        (
            {"remote_phone": "1.4155550100E+10"},
            CheckOptions(default_region="US"),
            "remote_phone",
            "'1.4155550100E+10' is a phone number that a spreadsheet turned into scientific "
            "notation (digits are lost); format the column as text and type the number again",
        ),
    ],
)
def test_settings_do_not_let_bad_phones_and_times_through(
    cells: dict[str, str], settings: CheckOptions, column: str, message: str
) -> None:
    assert problems(validate(cells, settings=settings)) == [(column, message)]


def scheduled(at: str, phone: str | None = None) -> dict[str, str]:
    cells = {"status": "scheduled", "date_scheduled": at}
    return cells | ({"remote_phone": phone} if phone else {})


def outbox(phone: str | None = None) -> dict[str, str]:
    return {"status": "outbox"} | ({"remote_phone": phone} if phone else {})


@pytest.mark.parametrize(
    ("cells", "timezone", "problem"),
    [
        # The zone comes from the number.
        (outbox(LOS_ANGELES_PHONE), None, ("status", "04:00 America/Los_Angeles")),
        (outbox(NEW_YORK_PHONE), None, ("status", "07:00 America/New_York")),
        (outbox(BERLIN_PHONE), None, None),
        (outbox(BERLIN_PHONE), ZoneInfo("Asia/Tokyo"), None),  # the number wins
        (scheduled("2026-12-01T22:30:00-05:00", NEW_YORK_PHONE), None, (
            "date_scheduled", "22:30 America/New_York")),
        (scheduled("2026-12-01T22:30:00-05:00", BERLIN_PHONE), None, (
            "date_scheduled", "04:30 Europe/Berlin")),
        (scheduled("2026-12-01T12:00:00-05:00", LOS_ANGELES_PHONE), None, None),
        # Boundary minutes: the start is inside, the end is not.
        (scheduled("2026-12-01T20:59:00-05:00", NEW_YORK_PHONE), None, None),
        (scheduled("2026-12-01T21:00:00-05:00", NEW_YORK_PHONE), None, (
            "date_scheduled", "21:00 America/New_York")),
        (scheduled("2026-12-01T07:59:00-05:00", NEW_YORK_PHONE), None, (
            "date_scheduled", "07:59 America/New_York")),
        (scheduled("2026-12-01T08:00:00-05:00", NEW_YORK_PHONE), None, None),
        # No number, or one that spans several zones: --timezone decides.
        (outbox(), BERLIN, None),
        (outbox(TOLL_FREE), ZoneInfo("America/Chicago"), (
            "status", "06:00 America/Chicago (--timezone)")),
        (scheduled("2026-12-01T23:00:00+01:00"), BERLIN, (
            "date_scheduled", "23:00 Europe/Berlin (--timezone)")),
        # Rows that send nothing are not checked.
        ({"text": "Hi", "remote_phone": LOS_ANGELES_PHONE}, None, None),
        ({"status": "draft", "remote_phone": LOS_ANGELES_PHONE}, None, None),
    ],
)  # fmt: skip
def test_quiet_hours_in_the_recipients_time_zone(
    cells: dict[str, str], timezone: ZoneInfo | None, problem: tuple[str, str] | None
) -> None:
    result = validate(cells, settings=CheckOptions(timezone=timezone, quiet_hours=QUIET))
    if problem is None:
        assert isinstance(result, Update), result
        return
    column, local_time = problem
    assert problems(result) == [
        (column, f"would reach the recipient at {local_time}, inside quiet hours 21:00-08:00")
    ]


@pytest.mark.parametrize(
    ("cells", "why"),
    [
        (outbox(), "this row has no remote_phone"),
        (scheduled("2026-12-01T12:00:00Z"), "this row has no remote_phone"),
        (outbox(TOLL_FREE), f"{TOLL_FREE} spans several time zones"),
    ],
)
def test_quiet_hours_cannot_be_checked_without_the_recipients_zone(
    cells: dict[str, str], why: str
) -> None:
    result = validate(cells, settings=CheckOptions(quiet_hours=QUIET))
    assert problems(result) == [
        (
            "remote_phone",
            f"the recipient's time zone is unknown ({why}), so quiet hours 21:00-08:00 cannot "
            "be checked; give --timezone, or the recipient's number in remote_phone",
        )
    ]


def test_a_bad_phone_is_reported_once_not_also_as_an_unknown_zone() -> None:
    result = validate(outbox("555"), settings=CheckOptions(quiet_hours=QUIET))
    assert [column for column, _ in problems(result)] == ["remote_phone"]


@pytest.mark.parametrize(
    ("text", "segments", "warnings"),
    [
        ("Hello", 1, ()),
        ("a" * 161, 2, ()),
        ("{}" * 40, 1, ()),  # extension characters count two septets each
        ("{}" * 40 + "a", 2, ()),
        (
            "We’re open late tonight " + "a" * 50,
            2,
            ("’ (RIGHT SINGLE QUOTATION MARK) makes this UCS-2: 2 segments instead of 1",),
        ),
        ("Здравствуйте", 1, ()),
    ],
)
def test_updates_carry_their_segments_and_warnings(
    text: str, segments: int, warnings: tuple[str, ...]
) -> None:
    result = validate({"text": text})
    assert isinstance(result, Update)
    assert (result.segments, result.warnings) == (segments, warnings)


def test_a_row_without_text_has_no_segments() -> None:
    result = validate({"template_id": "tmpl_abc123"})
    assert isinstance(result, Update)
    assert (result.segments, result.warnings) == (None, ())


@pytest.mark.parametrize(
    ("text", "limit", "message"),
    [
        ("a" * 160, 1, None),
        ("a" * 161, 1, "takes 2 SMS segments (GSM-7, 161 septets); --max-segments allows 1"),
        ("a" * 306, 2, None),
        ("a" * 307, 2, "takes 3 SMS segments (GSM-7, 307 septets); --max-segments allows 2"),
        ("a" * 70 + "’", 1, "takes 2 SMS segments (UCS-2, 71 characters); --max-segments allows 1"),
    ],
)
def test_max_segments(text: str, limit: int, message: str | None) -> None:
    result = validate({"text": text}, settings=CheckOptions(max_segments=limit))
    if message is None:
        assert isinstance(result, Update)
    else:
        assert problems(result) == [("text", message)]


# End to end: the options on the command line, through to the results file and the requests.


def invoke(*args: object) -> Result:
    environment = {"CLOSE_API_KEY": None, "CLOSE_OAUTH_TOKEN": None, "CLOSE_BASE_URL": None}
    return CliRunner(env=environment).invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_dry_run_with_the_validation_options(write_csv: WriteCsv) -> None:
    ucs2_text = "We’re open " + "a" * 100
    path = write_csv(
        [
            {"id": activity_id(0), "Text": "Hello", "Status": "scheduled",
             "Date Scheduled": "01/07/2031 9:00 AM", "remote_phone": "(212) 555-0123"},
            {"id": activity_id(1), "Text": "Hello", "Status": "scheduled",
             "Date Scheduled": "01/07/2031 10:30 PM", "remote_phone": "(212) 555-0124"},
            {"id": activity_id(2), "Text": "a" * 400},
            {"id": activity_id(3), "Text": ucs2_text, "Status": "draft"},
            {"id": activity_id(4), "template_id": "tmpl_abc123"},
        ]
    )  # fmt: skip
    result = invoke(
        "run", path, "--dry-run", "--default-region", "US", "--timezone", "America/New_York",
        "--date-format", "%m/%d/%Y %I:%M %p", "--quiet-hours", "21:00-08:00",
        "--max-segments", "2",
    )  # fmt: skip
    assert result.exit_code == ExitCode.ROWS_FAILED, result.output
    assert result.stderr.splitlines()[-4:] == [
        "  row 3: Date Scheduled: would reach the recipient at 22:30 America/New_York, inside "
        "quiet hours 21:00-08:00",
        "  row 4: Text: takes 3 SMS segments (GSM-7, 400 septets); --max-segments allows 2",
        "1 rows fall out of GSM-7 because of a few characters:",
        f"  row 5: {ucs2_warning(ucs2_text)}",
    ]
    assert result.stdout.splitlines()[1:-1] == [
        "  0 SMS will be sent now",
        "  1 SMS will be scheduled for 2031-01-07 14:00 UTC",
        "  2 SMS will only be edited (nothing sent)",
        "  2 rows are invalid and will not be sent",
        "  3 SMS segments in all; 1 rows are UCS-2, 1 of them because of a single character",
    ]
    rows = read_csv(path.with_name("input.results.csv"))
    assert list(rows[0])[-len(columns.RESULTS) :] == list(columns.RESULTS)
    assert [(row["outcome"], row["segments"]) for row in rows] == [
        ("planned", "1"),
        ("invalid", ""),
        ("invalid", ""),
        ("planned", "2"),
        ("planned", ""),
    ]


def test_phones_and_times_are_sent_normalized(sandbox: Sandbox, write_csv: WriteCsv) -> None:
    sandbox.seed_drafts([activity_id(0)])
    path = write_csv(
        [
            {
                "id": activity_id(0),
                "text": "Guten Tag",
                "status": "scheduled",
                "date_scheduled": "2031-01-07 09:00",
                "local_phone": "(415) 555-0100",
                "remote_phone": "+49 30 1234567",
            }
        ]
    )
    result = invoke(
        "run", path, "--base-url", sandbox.base_url, "--api-key", sandbox.config.api_key,
        "--yes", "--default-region", "US", "--timezone", "Europe/Berlin",
        "--quiet-hours", "21:00-08:00",
    )  # fmt: skip
    assert result.exit_code == ExitCode.OK, result.output
    [put] = [entry for entry in sandbox.log if entry.method == "PUT"]
    assert put.body == {
        "text": "Guten Tag",
        "status": "scheduled",
        "date_scheduled": "2031-01-07T09:00:00+01:00",
        "local_phone": "+14155550100",
        "remote_phone": "+49301234567",
    }
    [row] = read_csv(path.with_name("input.results.csv"))
    assert (row["outcome"], row["close_date_scheduled"], row["segments"]) == (
        "updated",
        "2031-01-07T08:00:00+00:00",
        "1",
    )


def test_built_in_sandbox_run_with_the_validation_options(write_csv: WriteCsv) -> None:
    path = write_csv(
        [
            {"id": activity_id(0), "text": "a" * 200, "status": "scheduled",
             "date_scheduled": "2031-01-07 09:00", "local_phone": "415.555.0100",
             "remote_phone": "415.555.0199"},
            {"id": activity_id(1), "text": "Hi", "status": "outbox", "local_phone": "415.555.0100"},
        ]
    )  # fmt: skip
    out = path.with_name("out.csv")
    result = invoke(
        "run", path, "--sandbox", "--out", out, "--default-region", "US",
        "--timezone", "America/Los_Angeles",
    )  # fmt: skip
    assert result.exit_code == ExitCode.OK, result.output
    rows = read_csv(out)
    assert list(rows[0]) == ["id", "text", "status", "date_scheduled", "local_phone",
                             "remote_phone", *columns.RESULTS]  # fmt: skip
    assert [(r["outcome"], r["close_date_scheduled"], r["segments"]) for r in rows] == [
        ("updated", "2031-01-07T17:00:00+00:00", "2"),
        ("updated", "", "1"),
    ]


def test_quiet_hours_without_a_known_zone_on_the_command_line(write_csv: WriteCsv) -> None:
    path = write_csv([{"id": activity_id(0), "status": "outbox"}])
    result = invoke("run", path, "--dry-run", "--quiet-hours", "21:00-08:00")
    assert result.exit_code == ExitCode.ROWS_FAILED
    assert (
        "  row 2: remote_phone: the recipient's time zone is unknown (this row has no "
        "remote_phone), so quiet hours 21:00-08:00 cannot be checked; give --timezone, or the "
        "recipient's number in remote_phone" in result.stderr.splitlines()
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--default-region", "XX"], "Invalid value for '--default-region': 'XX' is not a "
         "two-letter region code that phone numbers know, like US, GB or DE."),
        (["--timezone", "Mars/Base"], "Invalid value for '--timezone': 'Mars/Base' is not an "
         "IANA time zone name, like Europe/Berlin or America/New_York."),
        (["--date-format", "%d/%m"], "Invalid value for '--date-format': '%d/%m' is not a "
         "strptime format that holds a date and a time of day, like '%m/%d/%Y %I:%M %p' or "
         "'%d.%m.%Y %H:%M'."),
        (["--quiet-hours", "9pm-8am"], "Invalid value for '--quiet-hours': '9pm-8am' is not a "
         "window of two 24-hour times HH:MM-HH:MM, like 21:00-08:00."),
        (["--max-segments", "0"], "Invalid value for '--max-segments': 0 is not in the range "
         "x>=1."),
    ],
)  # fmt: skip
def test_bad_validation_options_are_usage_errors(
    write_csv: WriteCsv, args: list[str], message: str
) -> None:
    path = write_csv([{"id": activity_id(0), "text": "Hi"}])
    result = invoke("run", path, "--dry-run", *args)
    assert result.exit_code == ExitCode.USAGE
    assert message in " ".join(result.stderr.split())
    assert not path.with_name("input.results.csv").exists()
