"""Spreadsheet traps that would reach customers' phones (issue 14): each sheet of the issue,
built here, run end to end through `batch-sms run --dry-run`. The dangerous rows are invalid,
with a message that names the cell and the fix; the good rows are still planned."""

from __future__ import annotations

import codecs
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

from batch_sms.checks import traps
from batch_sms.cli import ExitCode
from batch_sms.errors import InputError
from batch_sms.files.rows import ReadOptions, read_table
from tests.conftest import activity_id, read_csv
from tests.test_cli import invoke

UNCALCULATED = (
    "text: C2 holds a formula whose value was never calculated: open the file in Excel or "
    "LibreOffice and save it"
)
NA_IN_TEXT = (
    "text: is #N/A, an error value from the spreadsheet: #N/A is what a failed lookup gives "
    "(VLOOKUP, XLOOKUP or MATCH found no match). Fix it in the spreadsheet and save the file "
    "again"
)


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Campaign"
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def dry_run(path: Path, *args: object) -> tuple[int, list[dict[str, str]], str]:
    """Exit code, results rows and stderr of `batch-sms run PATH --dry-run`."""
    out = path.with_name(path.stem + ".results.csv")
    result = invoke("run", path, "--dry-run", "--out", out, *args)
    rows = read_csv(out) if out.exists() else []
    return result.exit_code, rows, result.stderr


def outcomes(rows: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(row["outcome"], row["error_message"]) for row in rows]


# --- A formula whose value was never calculated ------------------------------------------------


def test_a_formula_never_calculated_is_invalid_not_an_empty_text(tmp_path: Path) -> None:
    # openpyxl, like any script, saves a formula without calculating its value.
    path = write_xlsx(
        tmp_path / "scripted.xlsx",
        [
            ["id", "name", "text", "status"],
            [activity_id(1), "Ann", '="Hi "&B2&", your order ships today"', "outbox"],
            [activity_id(2), "Bo", "Hi Bo, your order ships today", "outbox"],
        ],
    )
    code, rows, stderr = dry_run(path)
    assert code == ExitCode.ROWS_FAILED
    assert outcomes(rows) == [("invalid", UNCALCULATED), ("planned", "")]
    assert f"row 2: {UNCALCULATED}" in stderr


def test_a_formula_in_the_id_column_never_calculated_is_named_too(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "scripted.xlsx",
        [["ref", "id", "text"], [activity_id(1), "=A2", "Hello"]],
    )
    code, rows, _ = dry_run(path)
    assert outcomes(rows) == [
        (
            "invalid",
            "id: B2 holds a formula whose value was never calculated: open the file in Excel "
            "or LibreOffice and save it",
        )
    ]


def with_saved_values(path: Path, cells: dict[str, str]) -> Path:
    """The workbook as a spreadsheet program saves it: each formula cell given its value as
    text (cells maps a formula's cell to the value its `<v>` holds)."""
    with zipfile.ZipFile(path) as source:
        parts = {item.filename: source.read(item.filename) for item in source.infolist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    for cell, value in cells.items():
        sheet = re.sub(
            rf'<c r="{cell}"([^>]*)><f>(.*?)</f><v ?/>',
            rf'<c r="{cell}"\1 t="str"><f>\2</f><v>{value}</v>',
            sheet,
        )
    parts["xl/worksheets/sheet1.xml"] = sheet.encode()
    with zipfile.ZipFile(path, "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)
    return path


def test_a_formula_with_its_saved_value_is_read_as_that_value(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "saved.xlsx",
        [
            ["id", "name", "text", "Notes"],
            [activity_id(1), "Ann", '="Hi "&B2', '=IF(B2="","","x")'],
            [activity_id(2), "", '="Hi "&B3', '=IF(B3="","","x")'],
        ],
    )
    with_saved_values(path, {"C2": "Hi Ann", "D2": "x", "C3": "Hi ", "D3": ""})
    rows = list(read_table(path).rows())
    assert [(row.cells["text"], row.values[3], row.cell_problems) for row in rows] == [
        ("Hi Ann", "x", {}),
        ("Hi", "", {}),  # a formula whose value is "" is an empty cell, not a problem
    ]


# --- Excel error values ------------------------------------------------------------------------


def test_excel_errors_in_a_workbook_are_invalid_wherever_they_stand(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "lookup.xlsx",
        [
            ["id", "text", "status", "remote_phone"],
            [activity_id(1), "#N/A", "outbox", ""],
            [activity_id(2), "Hi there", "outbox", "#REF!"],
            ["#VALUE!", "Hi there", "outbox", ""],
            [activity_id(4), "Hi there", "outbox", ""],
        ],
    )
    assert openpyxl.load_workbook(path)["Campaign"]["B2"].data_type == "e"  # an error cell
    code, rows, _ = dry_run(path)
    assert code == ExitCode.ROWS_FAILED
    assert outcomes(rows) == [
        ("invalid", NA_IN_TEXT),
        (
            "invalid",
            "remote_phone: is #REF!, an error value from the spreadsheet: #REF! is what a "
            "formula gives when the cells it refers to were deleted. Fix it in the spreadsheet "
            "and save the file again",
        ),
        (
            "invalid",
            "id: is #VALUE!, an error value from the spreadsheet: #VALUE! is what a formula "
            "gives when a cell holds the wrong kind of value, like text where a number is "
            "needed. Fix it in the spreadsheet and save the file again",
        ),
        ("planned", ""),
    ]


def test_excel_errors_in_a_csv_are_invalid_too(tmp_path: Path) -> None:
    path = tmp_path / "lookup.csv"
    path.write_text(
        f"id,text,status\n{activity_id(1)},#N/A,outbox\n{activity_id(2)},Hi #N/A fans,outbox\n",
        encoding="utf-8",
    )
    code, rows, stderr = dry_run(path)
    assert code == ExitCode.ROWS_FAILED
    # Only a cell that is exactly an error value: the same text inside a message is text.
    assert outcomes(rows) == [("invalid", NA_IN_TEXT), ("planned", "")]
    assert f"row 2: {NA_IN_TEXT}" in stderr


@pytest.mark.parametrize("code", list(traps.EXCEL_ERRORS))
def test_every_excel_error_is_known_in_any_case(code: str) -> None:
    assert traps.excel_error(code) == code
    assert traps.excel_error(f" {code.lower()} ") == code
    assert traps.excel_error(code + "x") is None


# --- Excel's "Unicode Text" and other byte-order marks -----------------------------------------


UNICODE_TEXT = f"id\ttext\tstatus\r\n{activity_id(1)}\tGrüße, Zoë – 5 €\toutbox\r\n"


@pytest.mark.parametrize(
    "encoded",
    [
        codecs.BOM_UTF16_LE + UNICODE_TEXT.encode("utf-16-le"),  # Excel's "Unicode Text"
        codecs.BOM_UTF16_BE + UNICODE_TEXT.encode("utf-16-be"),
        codecs.BOM_UTF8 + UNICODE_TEXT.encode("utf-8"),
        codecs.BOM_UTF32_LE + UNICODE_TEXT.encode("utf-32-le"),
    ],
    ids=["utf-16-le", "utf-16-be", "utf-8", "utf-32-le"],
)
def test_a_byte_order_mark_says_the_encoding(tmp_path: Path, encoded: bytes) -> None:
    path = tmp_path / "unicode.txt"
    path.write_bytes(encoded)
    code, rows, stderr = dry_run(path)
    assert code == ExitCode.OK, stderr
    assert [(row["id"], row["text"], row["outcome"]) for row in rows] == [
        (activity_id(1), "Grüße, Zoë – 5 €", "planned")
    ]
    assert "Note: unicode.txt: cells are separated by tabs." in stderr


def test_a_byte_order_mark_overrules_encoding_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "unicode.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + UNICODE_TEXT.encode("utf-16-le"))
    code, rows, stderr = dry_run(path, "--encoding", "cp1252")
    assert code == ExitCode.OK
    assert rows[0]["text"] == "Grüße, Zoë – 5 €"
    assert (
        "Note: --encoding cp1252 ignored: the file starts with a UTF-16 byte-order mark, which "
        "says how it is encoded." in stderr
    )


@pytest.mark.parametrize(
    ("content", "advice"),
    [
        (
            f"id,text\n{activity_id(1)},Gr\xfc\xdfe \x80 5\n".encode("latin-1"),
            "Save it as 'CSV UTF-8' and try again, or pass --encoding cp1252 if it was saved "
            "by Excel on Windows.",
        ),
        (
            # UTF-16 without its byte-order mark: NUL bytes, and no cp1252 text.
            UNICODE_TEXT.encode("utf-16-le"),
            "It holds NUL bytes, like UTF-16 text without a byte-order mark (Excel's 'Unicode "
            "Text'): try --encoding utf-16-le, or save it as 'CSV UTF-8'.",
        ),
        (
            b"PK\x03\x04\x14\x00\x00\x00\x08\x00\xff\xfe",
            "It looks like a spreadsheet (a zip file) with the wrong name: give it its own "
            "extension, like .xlsx.",
        ),
        (
            # 0x81 and 0x8d are no characters in cp1252.
            b"id,text\nacti_1,\x81\x8d\x90\n",
            "Save it as 'CSV UTF-8' and try again, or pass --encoding with its encoding.",
        ),
    ],
    ids=["cp1252", "utf-16-without-mark", "zip", "neither"],
)
def test_the_cp1252_hint_comes_only_for_bytes_that_read_as_cp1252(
    tmp_path: Path, content: bytes, advice: str
) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    with pytest.raises(InputError) as raised:
        read_table(path)
    assert str(raised.value).endswith(advice)
    assert ("--encoding cp1252" in str(raised.value)) == (advice.count("cp1252") == 1)


# --- A title above the header ------------------------------------------------------------------


TITLED = [
    ["Spring campaign 2027"],
    [],
    ["id", "text", "status"],
    [activity_id(1), "Spring is here!", "outbox"],
    [],
    [activity_id(2), "#N/A", "outbox"],
]


def test_a_title_above_the_header_names_the_header_row(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "titled.xlsx", TITLED)
    result = invoke("run", path, "--dry-run")
    assert result.exit_code == ExitCode.USAGE
    assert (
        "has no 'id' column (the SMS activity id, like acti_...). Columns found: 'Spring "
        "campaign 2027'. Row 3 has an 'id' column: pass --header-row 3 if it is the header."
        in " ".join(result.stderr.split())
    )


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_the_header_row_option_reads_below_the_title_with_the_sheets_row_numbers(
    tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"titled{suffix}"
    if suffix == ".xlsx":
        write_xlsx(path, TITLED)
    else:
        path.write_text(
            "\n".join(",".join(map(str, row)) or "," for row in TITLED) + "\n", encoding="utf-8"
        )
    code, rows, stderr = dry_run(path, "--header-row", "3")
    assert code == ExitCode.ROWS_FAILED
    assert outcomes(rows) == [("planned", ""), ("skipped", "empty row"), ("invalid", NA_IN_TEXT)]
    assert f"row 6: {NA_IN_TEXT}" in stderr  # the spreadsheet's row number


def test_a_rerun_of_the_results_repeating_the_header_row_reads_row_one(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "titled.xlsx", TITLED)
    _, rows, _ = dry_run(path, "--header-row", "3")
    results = path.with_name("titled.results.csv")
    result = invoke("rerun", results, "--dry-run", "--header-row", "3", "--out", tmp_path / "2.csv")
    assert result.exit_code == ExitCode.ROWS_FAILED
    assert (
        "Note: --header-row 3 ignored: titled.results.csv is a results file, whose header is "
        "row 1." in result.stderr
    )
    assert [row["outcome"] for row in read_csv(tmp_path / "2.csv")] == [
        "planned",
        "skipped",
        "invalid",
    ]


def test_a_wrong_header_row_points_at_the_right_one(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "titled.xlsx", TITLED)
    with pytest.raises(InputError) as raised:
        read_table(path, ReadOptions(header_row=2))
    assert str(raised.value).endswith(
        "has no header in row 2; it needs a header row with an 'id' column. Row 3 has an 'id' "
        "column: pass --header-row 3 if it is the header."
    )


def test_a_mapped_id_header_is_found_below_a_title(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "titled.xlsx", [["Q2"], ["Activity ID", "Message"]])
    with pytest.raises(InputError) as raised:
        read_table(path, ReadOptions(column_map=(("Activity ID", "id"),)))
    assert "Row 2 has an 'id' column: pass --header-row 2" in str(raised.value)


# --- Mail-merge placeholders -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Hi {{ contact.first_name }}, your order ships today", "{{ contact.first_name }}"),
        ("Hi {{first_name}}!", "{{first_name}}"),
        ("Hi {first_name}, see you", "{first_name}"),
        ("Hi {First Name}", "{First Name}"),
        ("Hi ${name}", "${name}"),
        ("Dear <<First Name>>,", "<<First Name>>"),
        ("Dear «First_Name»,", "«First_Name»"),
        ("Dear [FIRST NAME], thanks", "[FIRST NAME]"),
        ("Dear [first_name]", "[first_name]"),
        ("Call [Your Name] on [Date]", "[Your Name]"),
        ("Hi *|FNAME|*", "*|FNAME|*"),
        ("Hi %%first_name%%", "%%first_name%%"),
        ("{% if vip %}VIP{% endif %} offer", "{% if vip %}"),
        # Ordinary texts: nothing to find.
        ("He said it was fine [sic].", None),
        ("See note [1] and [2].", None),
        ("Reply [STOP] to opt out", None),
        ("Only $5 {", None),
        ("A lone { or } is text", None),
        ('Send {"a": 1} to the API', None),
        ("50% off, then 20% more", None),
        ("« Merci » et «Bonjour»", None),
        ("Prices: €5, £4 <3", None),
        ("Hi :-} see you at 10 < 11 >", None),
        ("Text [OK] to confirm", None),
    ],
)
def test_placeholders_are_found_and_ordinary_text_is_left_alone(
    text: str, found: str | None
) -> None:
    assert traps.placeholder(text) == found


def test_a_text_with_a_placeholder_is_invalid_unless_allowed(tmp_path: Path) -> None:
    path = tmp_path / "merge.csv"
    path.write_text(
        f"id,text,status\n{activity_id(1)},Hi {{{{ contact.first_name }}}}!,outbox\n"
        f"{activity_id(2)},Hi there [sic],outbox\n",
        encoding="utf-8",
    )
    code, rows, _ = dry_run(path)
    assert code == ExitCode.ROWS_FAILED
    assert outcomes(rows) == [
        (
            "invalid",
            "text: still holds the placeholder '{{ contact.first_name }}', which a mail merge "
            "should have filled in; fill it in, or pass --allow-placeholders to send it as it is",
        ),
        ("planned", ""),
    ]
    code, rows, _ = dry_run(path, "--allow-placeholders", "--overwrite")
    assert code == ExitCode.OK
    assert [row["outcome"] for row in rows] == ["planned", "planned"]
