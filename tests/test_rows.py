from __future__ import annotations

import zipfile
from datetime import date, datetime, time
from pathlib import Path

import openpyxl
import pytest

from batch_sms.errors import InputError
from batch_sms.files.rows import ReadOptions, parse_map, read_table
from batch_sms.files.sources import SNIFF_BYTES, cell_text
from batch_sms.models import SourceRow
from tests.conftest import WriteCsv, activity_id

SAMPLES = Path(__file__).parent.parent / "samples"


def write_xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    """A workbook with one sheet per entry, rows as given (openpyxl keeps Python types)."""
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def write_ods(path: Path, rows: list[list[object]], sheet: str = "Campaign") -> Path:
    """A minimal OpenDocument spreadsheet: strings, floats, dates and empty cells."""
    body = "".join(
        "<table:table-row>" + "".join(_ods_cell(value) for value in row) + "</table:table-row>"
        for row in rows
    )
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="{sheet}">{body}'
        "</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        'manifest:version="1.2"><manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("META-INF/manifest.xml", manifest)
        archive.writestr("content.xml", content)
    return path


def _ods_cell(value: object) -> str:
    if isinstance(value, float):
        return f'<table:table-cell office:value-type="float" office:value="{value}"/>'
    if isinstance(value, datetime | date):
        iso = value.isoformat()
        return f'<table:table-cell office:value-type="date" office:date-value="{iso}"/>'
    if value is None:
        return "<table:table-cell/>"
    return (
        f'<table:table-cell office:value-type="string"><text:p>{value}</text:p></table:table-cell>'
    )


def refusal(path: Path, options: ReadOptions = ReadOptions()) -> str:  # noqa: B008
    """The message of the InputError that reading the whole file raises, without the path."""
    with pytest.raises(InputError) as raised:
        list(read_table(path, options).rows())
    message = str(raised.value)
    assert message.startswith(f"{path}: ")
    return message.removeprefix(f"{path}: ")


# --- Headers and cells -------------------------------------------------------------------------


def test_headers_match_case_and_space_insensitively(write_csv: WriteCsv) -> None:
    path = write_csv(
        [{"ID": activity_id(1), "Date Scheduled": "x", "remote-phone": "+1", "Owner": "me"}]
    )
    table = read_table(path)
    assert table.headers == {
        "id": "ID",
        "date_scheduled": "Date Scheduled",
        "remote_phone": "remote-phone",
    }
    assert table.columns == ("ID", "Date Scheduled", "remote-phone", "Owner")
    assert table.ignored == ("Owner",)
    assert table.header("date_scheduled") == "Date Scheduled"
    assert table.warnings == ()


def test_cells_are_read_as_text_never_as_numbers(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(
        f"id,remote_phone,send_in,text\n{activity_id(1)},0041791234567,007,1e10\n"
        f"{activity_id(2)},,,NA\n",
        encoding="utf-8",
    )
    rows = list(read_table(path).rows())
    assert rows[0].cells == {"remote_phone": "0041791234567", "send_in": "007", "text": "1e10"}
    # "NA" and empty cells are not turned into missing values.
    assert rows[1].cells == {"remote_phone": "", "send_in": "", "text": "NA"}
    assert rows[1].values == (activity_id(2), "", "", "NA")


def test_rows_carry_their_spreadsheet_number_and_stripped_cells(write_csv: WriteCsv) -> None:
    path = write_csv([{"id": f" {activity_id(n)} ", "text": f"  hi {n}  "} for n in range(3)])
    rows = list(read_table(path).rows())
    assert [(row.index, row.number, row.activity_id) for row in rows] == [
        (0, 2, activity_id(0)),
        (1, 3, activity_id(1)),
        (2, 4, activity_id(2)),
    ]
    assert rows[2].cells == {"text": "hi 2"}
    # The values are kept as written: they go to the results file unchanged.
    assert rows[2].values == (f" {activity_id(2)} ", "  hi 2  ")


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(f"\ufeffid,text\n{activity_id(1)},Grüße\n".encode())
    table = read_table(path)
    assert table.columns == ("id", "text")
    assert next(table.rows()).cells == {"text": "Grüße"}


def test_a_results_file_is_recognized_and_its_columns_are_not_fields(write_csv: WriteCsv) -> None:
    path = write_csv(
        [
            {
                "id": activity_id(1),
                "text": "Hi",
                "outcome": "failed",
                "error_message": "boom",
                "http_status": "503",
            }
        ]
    )
    table = read_table(path)
    row = next(table.rows())
    assert table.is_results_file
    assert row.previous_outcome == "failed"
    assert "outcome" not in row.cells
    assert table.ignored == ()


def test_rows_can_be_read_again_from_the_start(write_csv: WriteCsv) -> None:
    table = read_table(write_csv([{"id": activity_id(n)} for n in range(5)]))
    assert list(table.rows()) == list(table.rows())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty; it needs a header row with an 'id' column."),
        (
            b"Message,Owner\nacti_1,hi\n",
            "has no 'id' column (the SMS activity id, like acti_...). "
            "Columns found: 'Message', 'Owner'.",
        ),
        (
            b"id,Text,text\nacti_1,a,b\n",
            "columns 'Text' and 'text' both mean 'text'; keep one of them.",
        ),
        (b"id,text,text\nacti_1,a,b\n", "has two columns named 'text'; keep one of them."),
        (
            b"id,,text\nacti_1,a,b\n",
            "column 2 (B) has no header; give it one (any name: batch-sms keeps columns it does "
            "not know) or delete the column.",
        ),
    ],
)
def test_unusable_files_are_refused_with_a_reason(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    assert refusal(path) == message


@pytest.mark.parametrize(
    ("header", "guess"),
    [
        ("Activity ID,Message", "Activity ID"),
        ("Message,activityId", "activityId"),
        ("Lead ID,SMS Id,Message", "SMS Id"),
        ("Activity,Message", "Activity"),
        ("Message,Ids", "Ids"),
    ],
)
def test_a_file_without_id_names_the_closest_header(
    tmp_path: Path, header: str, guess: str
) -> None:
    path = tmp_path / "in.csv"
    path.write_text(f"{header}\n", encoding="utf-8")
    assert refusal(path).endswith(f"Did you mean '{guess}'? Pass --map \"{guess}=id\".")


def test_blank_lines_are_rows_so_that_row_numbers_match_the_spreadsheet(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(
        f'id,text,Notes\n{activity_id(1)},"two\nlines",\n\n,,\n,,note\n{activity_id(2)},b,\n',
        encoding="utf-8",
    )
    rows = list(read_table(path).rows())
    assert [(row.number, row.activity_id, row.blank) for row in rows] == [
        (2, activity_id(1), False),
        (3, "", True),
        (4, "", True),
        (5, "", False),
        (6, activity_id(2), False),
    ]
    assert rows[0].cells == {"text": "two\nlines"}
    assert rows[1].values == ("", "", "")


def test_an_empty_row_of_a_results_file_is_still_blank(tmp_path: Path) -> None:
    path = tmp_path / "in.results.csv"
    path.write_text(
        f"id,text,outcome,error_message\n{activity_id(1)},a,updated,\n,,skipped,empty row\n",
        encoding="utf-8",
    )
    assert [row.blank for row in read_table(path).rows()] == [False, True]


def test_reading_in_chunks_gives_the_rows_of_one_chunk(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    lines = [f"{activity_id(n)},text {n}" if n % 4 else "" for n in range(10)]
    path.write_text("id,text\n" + "\n".join(lines) + "\n", encoding="utf-8")
    chunked = list(read_table(path, ReadOptions(chunk_rows=3)).rows())
    whole = list(read_table(path, ReadOptions(chunk_rows=100)).rows())
    assert chunked == whole
    assert len(chunked) == 10
    assert [row.number for row in chunked if row.blank] == [2, 6, 10]


def test_a_ragged_line_mid_file_is_found_on_its_line(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    lines = [f"{activity_id(n)},hi" for n in range(10)]
    lines[7] = f"{activity_id(7)},Hi, this has a comma"
    path.write_text("id,text\n" + "\n".join(lines) + "\n", encoding="utf-8")
    read_table(path, ReadOptions(chunk_rows=3))  # the header is fine: the row is found later
    assert refusal(path, ReadOptions(chunk_rows=3)) == (
        "line 9 has 3 cells but the header has 2. A cell with the delimiter in it must be in "
        "double quotes."
    )


def test_a_first_row_with_an_unquoted_delimiter_is_refused_not_cut(tmp_path: Path) -> None:
    # pandas drops the extra cells of the first row with a mere warning: the text would have
    # been sent as "Hi there".
    path = tmp_path / "in.csv"
    path.write_text(f"id,text\n{activity_id(1)},Hi there, see you\n", encoding="utf-8")
    assert refusal(path) == (
        "line 2 has 3 cells but the header has 2. A cell with the delimiter in it must be in "
        "double quotes."
    )
    # As any later row with more cells than the header is.
    path.write_text(f"id,text\n{activity_id(1)},Hi there,\n", encoding="utf-8")
    assert refusal(path).startswith("line 2 has 3 cells but the header has 2.")


def test_a_row_shorter_than_the_header_has_empty_cells(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(f"id,text,Notes\n{activity_id(1)}\n", encoding="utf-8")
    assert next(read_table(path).rows()).values == (activity_id(1), "", "")


def test_a_trailing_empty_header_is_dropped_and_its_cells_checked(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(
        f"id,text,,\n{activity_id(1)},a,,\n{activity_id(2)},b,lost,\n", encoding="utf-8"
    )
    table = read_table(path)
    assert table.columns == ("id", "text")
    assert refusal(path) == (
        "row 3 has 'lost' in column 3 (C), which has no header. Give the column a header "
        "(any name: batch-sms keeps columns it does not know) or clear it."
    )


def test_missing_file_and_folder(tmp_path: Path) -> None:
    assert refusal(tmp_path / "nope.csv") == "no such file."
    assert refusal(tmp_path) == "is a folder, not a CSV or spreadsheet file."


# --- CSV dialects and encodings ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "warnings"),
    [
        ("id,text,Notes\n{id},Hello,a\n", ()),
        ("id;text;Notes\n{id};Hello;a\n", ("in.csv: cells are separated by semicolons.",)),
        ("id\ttext\tNotes\n{id}\tHello\ta\n", ("in.csv: cells are separated by tabs.",)),
        ('id;text;Notes\n{id};"Hello, world";a\n', ("in.csv: cells are separated by semicolons.",)),
        (
            'id;text;Notes\n{id};Hello;"a, b"\n{id};Bye;c\n',
            ("in.csv: cells are separated by semicolons.",),
        ),
        ("id,text,Notes\n{id},Hi; bye,a\n{id},Hello,b\n", ()),
    ],
)
def test_the_delimiter_is_sniffed(tmp_path: Path, content: str, warnings: tuple[str, ...]) -> None:
    path = tmp_path / "in.csv"
    path.write_text(content.format(id=activity_id(1)), encoding="utf-8")
    table = read_table(path)
    assert table.columns == ("id", "text", "Notes")
    assert table.warnings == warnings
    first = next(table.rows())
    assert first.activity_id == activity_id(1)
    assert first.cells["text"] in ("Hello", "Hello, world", "Hi; bye")


def test_a_file_with_one_column_is_read_as_comma_separated(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(f"id\n{activity_id(1)}\n{activity_id(2)}\n", encoding="utf-8")
    table = read_table(path)
    assert [row.activity_id for row in table.rows()] == [activity_id(1), activity_id(2)]


def test_a_file_that_is_not_utf8_is_refused_naming_line_and_byte(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(b"id,text\nacti_1,caf\xe9\n")
    message = (
        "is not UTF-8 text (byte 0xe9 on line 2). Save it as 'CSV UTF-8' and try again, or "
        "pass --encoding cp1252 if it was saved by Excel on Windows."
    )
    with pytest.raises(InputError) as raised:
        read_table(path)
    assert str(raised.value) == f"{path}: {message}"


def test_bad_bytes_past_the_sniffed_start_are_found_while_reading(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    good = "".join(f"{activity_id(n)},hi\n" for n in range(SNIFF_BYTES // 40))
    path.write_bytes(f"id,text\n{good}".encode() + b"acti_1,Gr\xfc\xdfe\n")
    line = good.count("\n") + 2
    assert refusal(path, ReadOptions(chunk_rows=100)).startswith(
        f"is not UTF-8 text (byte 0xfc on line {line})."
    )


def test_an_encoding_can_be_named(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(f"id;text\n{activity_id(1)};Grüße – 5 €\n".encode("cp1252"))
    table = read_table(path, ReadOptions(encoding="cp1252"))
    assert next(table.rows()).cells == {"text": "Grüße – 5 €"}


@pytest.mark.parametrize(
    ("encoding", "message"),
    [
        (
            "latin-9000",
            "'latin-9000' is not a text encoding batch-sms knows; try utf-8, cp1252 or latin-1.",
        ),
        ("ascii", "cannot be read as ascii (byte 0xc3 on line 2); check --encoding."),
    ],
)
def test_an_unusable_encoding_is_refused(tmp_path: Path, encoding: str, message: str) -> None:
    path = tmp_path / "in.csv"
    path.write_text(f"id,text\n{activity_id(1)},Grüße\n", encoding="utf-8")
    assert refusal(path, ReadOptions(encoding=encoding)) == message


def test_options_that_do_not_apply_are_noted(tmp_path: Path, write_csv: WriteCsv) -> None:
    csv_table = read_table(write_csv([{"id": activity_id(1)}]), ReadOptions(sheet="Campaign"))
    assert csv_table.warnings == ("--sheet Campaign ignored: a CSV file has no sheets.",)
    book = write_xlsx(tmp_path / "in.xlsx", {"Campaign": [["id"], [activity_id(1)]]})
    sheet_table = read_table(book, ReadOptions(encoding="cp1252"))
    assert sheet_table.warnings == ("--encoding cp1252 ignored: spreadsheets do not need one.",)


# --- Spreadsheets ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "number_format", "text"),
    [
        (None, None, ""),
        ("  Hi  ", None, "  Hi  "),
        (14155550100, None, "14155550100"),
        (14155550100.0, None, "14155550100"),
        (0.5, None, "0.5"),
        (True, None, "TRUE"),
        (False, None, "FALSE"),
        (datetime(2026, 12, 1, 9, 0), "yyyy-mm-dd h:mm", "2026-12-01 09:00"),
        (datetime(2026, 12, 1, 9, 0, 5), None, "2026-12-01 09:00:05"),
        # Excel's day fractions: 09:00 read back a hair short is still 09:00.
        (datetime(2026, 12, 1, 8, 59, 59, 999_600), None, "2026-12-01 09:00"),
        (datetime(2026, 12, 1), "yyyy-mm-dd", "2026-12-01"),
        (datetime(2026, 12, 1), "dd/mm/yyyy hh:mm", "2026-12-01 00:00"),
        (date(2026, 12, 1), None, "2026-12-01"),
        (time(9, 30), None, "09:30"),
    ],
)
def test_spreadsheet_values_become_the_text_the_user_sees(
    value: object, number_format: str | None, text: str
) -> None:
    assert cell_text(value, number_format) == text


def test_an_xlsx_file_is_read_with_its_values_as_text(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "campaign.xlsx",
        {
            "Campaign": [
                ["Activity ID", "Message", "Send at", "remote_phone", "Day", "VIP", None],
                [activity_id(1), "Hi", datetime(2029, 3, 6, 9), 14155550100, date(2029, 3, 6)],
                [],
                [activity_id(2), "Yo", None, "(415) 555-0100", None, True],
            ],
            "Other": [["id"], ["acti_elsewhere"]],
        },
    )
    table = read_table(path, ReadOptions(column_map=(("Activity ID", "id"),)))
    assert table.columns == ("id", "Message", "Send at", "remote_phone", "Day", "VIP")
    rows = list(table.rows())
    assert [row.values for row in rows] == [
        (activity_id(1), "Hi", "2029-03-06 09:00", "14155550100", "2029-03-06", ""),
        ("", "", "", "", "", ""),
        (activity_id(2), "Yo", "", "(415) 555-0100", "", "TRUE"),
    ]
    assert [(row.number, row.blank) for row in rows] == [(2, False), (3, True), (4, False)]
    assert rows[0].cells == {"remote_phone": "14155550100"}


def test_a_sheet_is_chosen_by_name(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "book.xlsx",
        {"Notes": [["nothing here"]], "Campaign": [["id"], [activity_id(1)]]},
    )
    table = read_table(path, ReadOptions(sheet="Campaign"))
    assert [row.activity_id for row in table.rows()] == [activity_id(1)]
    with pytest.raises(InputError) as raised:
        read_table(path, ReadOptions(sheet="campaign"))
    assert str(raised.value) == f"{path}: has no sheet 'campaign'. Its sheets: 'Notes', 'Campaign'."


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([], "has no header in row 1; it needs a header row with an 'id' column."),
        (
            [["id", "text"], [activity_id(1), "a", None, "stray"]],
            "row 2 has 'stray' in column 4 (D), which has no header. Give the column a header "
            "(any name: batch-sms keeps columns it does not know) or clear it.",
        ),
    ],
)
def test_unusable_sheets_are_refused(
    tmp_path: Path, rows: list[list[object]], message: str
) -> None:
    path = write_xlsx(tmp_path / "book.xlsx", {"Campaign": rows})
    assert refusal(path) == message


@pytest.mark.parametrize("name", ["book.xlsx", "book.ods", "book.xls"])
def test_a_damaged_spreadsheet_is_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("id,text\n", encoding="utf-8")
    assert refusal(path) == (
        f"is not a {path.suffix} spreadsheet, or it is damaged; open it in your spreadsheet "
        "program and save it again."
    )


def test_an_ods_file_is_read_with_calamine(tmp_path: Path) -> None:
    path = write_ods(
        tmp_path / "campaign.ods",
        [
            ["id", "remote_phone", "date_scheduled", "Day"],
            [activity_id(1), 14155550100.0, datetime(2029, 3, 6, 9), date(2029, 3, 6)],
            [],
            [activity_id(2), 2.5, None, None],
        ],
    )
    table = read_table(path, ReadOptions(sheet="Campaign"))
    assert [row.values for row in table.rows()] == [
        (activity_id(1), "14155550100", "2029-03-06 09:00", "2029-03-06"),
        ("", "", "", ""),
        (activity_id(2), "2.5", "", ""),
    ]


def test_the_sample_workbook_reads_with_its_maps() -> None:
    maps = (("Activity ID", "id"), ("Message", "text"), ("Send at", "date_scheduled"))
    table = read_table(
        SAMPLES / "campaign.xlsx", ReadOptions(column_map=(*maps, ("Recipient", "remote_phone")))
    )
    assert table.columns[:4] == ("id", "text", "Status", "date_scheduled")
    assert table.ignored == ("Notes",)
    rows = list(table.rows())
    assert 15 <= len(rows) <= 25
    assert all(row.activity_id.startswith("acti_") for row in rows if not row.blank)
    scheduled = [row.cells["date_scheduled"] for row in rows if row.cells["date_scheduled"]]
    assert scheduled and all(value.startswith("2029-") for value in scheduled)
    assert "(415) 555-0100" in {row.cells["remote_phone"] for row in rows}


# --- --map ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "pair"),
    [
        ("Activity ID=id", ("Activity ID", "id")),
        (" Message = text ", ("Message", "text")),
        ("a=b=text", ("a=b", "text")),
    ],
)
def test_a_map_is_parsed(text: str, pair: tuple[str, str]) -> None:
    assert parse_map(text) == pair


@pytest.mark.parametrize("text", ["Activity ID", "=id", "Activity ID=", " = "])
def test_a_map_without_both_sides_is_refused(text: str) -> None:
    with pytest.raises(InputError) as raised:
        parse_map(text)
    assert str(raised.value) == f"'{text}' is not HEADER=COLUMN, like \"Activity ID=id\"."


def test_maps_rename_headers_before_they_are_matched(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(f"Activity ID,Message,Owner\n{activity_id(1)},Hi,me\n", encoding="utf-8")
    # The left side matches as written or spelled alike; the right side like any header.
    table = read_table(path, ReadOptions(column_map=(("activity id", "id"), ("Message", "Text"))))
    assert table.columns == ("id", "text", "Owner")
    assert table.headers == {"id": "id", "text": "text"}
    # Messages name the column as the user's file does.
    assert (table.header("id"), table.header("text")) == ("Activity ID", "Message")
    assert next(table.rows()) == SourceRow(
        0, 2, activity_id(1), {"text": "Hi"}, "", values=(activity_id(1), "Hi", "me")
    )


def test_a_map_already_applied_is_noted_not_refused(tmp_path: Path) -> None:
    """A results file of a mapped run has the new names; a rerun may repeat the command."""
    path = tmp_path / "in.results.csv"
    path.write_text(f"id,text,outcome\n{activity_id(1)},Hi,failed\n", encoding="utf-8")
    table = read_table(path, ReadOptions(column_map=(("Activity ID", "id"),)))
    assert table.warnings == (
        "--map 'Activity ID=id' not needed: in.results.csv has a column 'id' already.",
    )


@pytest.mark.parametrize(
    ("maps", "message"),
    [
        (
            [("Activity", "id")],
            "--map 'Activity=id': there is no such column. Columns found: 'Activity ID', "
            "'Message', 'Text'.",
        ),
        (
            [("Activity ID", "identifier")],
            "--map 'Activity ID=identifier': 'identifier' is not a column batch-sms knows. "
            "Known columns: id, text, status, date_scheduled, template_id, local_phone, "
            "remote_phone, contact_id, lead_id, user_id, activity_at, attachments, send_in.",
        ),
        (
            [("Activity ID", "id"), ("Message", "id")],
            "--map 'Activity ID=id' and --map 'Message=id' both map to 'id'; keep one.",
        ),
        (
            [("Activity ID", "id"), ("Activity ID", "text")],
            "--map 'Activity ID=id' and --map 'Activity ID=text' both rename 'Activity ID'.",
        ),
        (
            [("Activity ID", "id"), ("Message", "text")],
            "--map 'Message=text': the file has a 'Text' column already; rename or delete one "
            "of them.",
        ),
    ],
)
def test_unusable_maps_are_refused(
    tmp_path: Path, maps: list[tuple[str, str]], message: str
) -> None:
    path = tmp_path / "in.csv"
    path.write_text(f"Activity ID,Message,Text\n{activity_id(1)},Hi,Yo\n", encoding="utf-8")
    assert refusal(path, ReadOptions(column_map=tuple(maps))) == message
