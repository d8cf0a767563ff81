"""Trust nothing (issue 10), the file half: inputs built to blow up, damaged workbooks, text
that does not belong in an SMS, and values too long to quote whole. Each bomb is small on disk;
the refusal must come before the bomb is parsed, which the tests show by what the error says."""

from __future__ import annotations

import pyexpat
import re
import struct
import zipfile
from pathlib import Path

import openpyxl
import pytest

from batch_sms.checks.validation import Validator
from batch_sms.cli import ExitCode
from batch_sms.errors import InputError
from batch_sms.files import rows as rows_module
from batch_sms.files import workbooks
from batch_sms.files.quoting import quote, quote_list
from batch_sms.files.rows import MAX_BLANK_RUN, read_table
from batch_sms.models import Invalid
from tests.conftest import NOW, activity_id
from tests.test_cli import invoke

DAMAGED = (
    "is not a .xlsx spreadsheet, or it is damaged; open it in your spreadsheet program and "
    "save it again."
)


def workbook(path: Path, rows: list[list[object]]) -> Path:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def replace_parts(path: Path, parts: dict[str, bytes]) -> Path:
    """Rewrite a zip with some of its parts replaced."""
    with zipfile.ZipFile(path) as source:
        kept = {item.filename: source.read(item.filename) for item in source.infolist()}
    kept.update(parts)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in kept.items():
            target.writestr(name, data)
    return path


def sheet_xml(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        return archive.read("xl/worksheets/sheet1.xml").decode()


def with_sheet_data(path: Path, rows_xml: str) -> Path:
    """The workbook with its sheet's rows replaced by `rows_xml`."""
    xml = re.sub(
        r"<sheetData>.*</sheetData>", f"<sheetData>{rows_xml}</sheetData>", sheet_xml(path)
    )
    return replace_parts(path, {"xl/worksheets/sheet1.xml": xml.encode()})


def claim_unpacked_size(path: Path, member: str, size: int) -> Path:
    """Make the zip's directory claim that `member` unpacks to `size` bytes, as a zip bomb's
    does, without writing the bytes: the file stays small."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    at = data.find(b"PK\x01\x02" + b"\x00" * 0)
    while at != -1:
        name_length = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + name_length] == name:
            struct.pack_into("<I", data, at + 24, size)
            path.write_bytes(bytes(data))
            return path
        at = data.find(b"PK\x01\x02", at + 4)
    raise AssertionError(f"no {member} in {path}")


def refusal(path: Path) -> str:
    with pytest.raises(InputError) as raised:
        list(read_table(path).rows())
    return str(raised.value).removeprefix(f"{path}: ")


# --- More rows than a spreadsheet holds --------------------------------------------------------


def test_a_sheet_claiming_a_row_past_the_last_one_is_refused_at_once(tmp_path: Path) -> None:
    path = workbook(tmp_path / "far.xlsx", [["id", "text"]])
    with_sheet_data(
        path,
        '<row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c></row>'
        '<row r="2000000000"><c r="A2000000000" t="inlineStr"><is><t>x</t></is></c></row>',
    )
    assert refusal(path) == (
        "goes on past row 1,048,576, the last row a spreadsheet has (to row 2,000,000,000 at "
        "least); batch-sms stopped reading there. Split it into smaller files."
    )


def test_a_csv_with_more_rows_than_a_spreadsheet_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A spreadsheet's last row, made small so that the file need not hold a million lines.
    monkeypatch.setattr(rows_module, "MAX_ROW_NUMBER", 5)
    path = tmp_path / "long.csv"
    path.write_text("id\n" + "".join(f"{activity_id(n)}\n" for n in range(10)), encoding="utf-8")
    table = read_table(path)
    rows = table.rows()
    assert [next(rows).number for _ in range(4)] == [2, 3, 4, 5]
    with pytest.raises(InputError, match="goes on past row 5, the last row a spreadsheet has"):
        next(rows)


def test_one_empty_cell_a_million_rows_down_adds_no_rows(tmp_path: Path) -> None:
    path = workbook(tmp_path / "styled.xlsx", [["id", "text"], [activity_id(1), "hi"]])
    xml = sheet_xml(path).replace(
        "</sheetData>", '<row r="1000001"><c r="C1000001" s="0"/></row></sheetData>'
    )
    replace_parts(path, {"xl/worksheets/sheet1.xml": xml.encode()})
    assert path.stat().st_size < 10_000
    assert [row.number for row in read_table(path).rows()] == [2]


def test_one_stray_value_a_million_rows_down_is_refused_not_run(tmp_path: Path) -> None:
    path = workbook(tmp_path / "stray.xlsx", [["id", "text"], [activity_id(1), "hi"]])
    xml = sheet_xml(path).replace(
        "</sheetData>",
        '<row r="1000001"><c r="C1000001" t="inlineStr"><is><t>x</t></is></c></row></sheetData>',
    )
    replace_parts(path, {"xl/worksheets/sheet1.xml": xml.encode()})
    result = invoke("run", path, "--dry-run")
    assert result.exit_code == ExitCode.USAGE
    assert (
        "rows 3 to 1,000,000 are empty, then row 1,000,001 has 'x' in column 3 (C). A stray "
        "cell far below the data? Clear it (or delete the empty rows) and save the file again."
        in " ".join(result.stderr.split())
    )
    assert not path.with_name("stray.results.csv").exists()


@pytest.mark.parametrize(
    ("empty_rows", "kept"), [(3, 3), (MAX_BLANK_RUN, MAX_BLANK_RUN), (MAX_BLANK_RUN + 1, 0)]
)
def test_empty_rows_at_the_end_are_kept_while_few(
    tmp_path: Path, empty_rows: int, kept: int
) -> None:
    path = tmp_path / "tail.csv"
    path.write_text(f"id,text\n{activity_id(1)},hi\n" + ",\n" * empty_rows, encoding="utf-8")
    rows = list(read_table(path).rows())
    assert len(rows) == 1 + kept
    assert all(row.blank for row in rows[1:])


def test_empty_rows_between_data_keep_their_numbers(tmp_path: Path) -> None:
    path = workbook(tmp_path / "gaps.xlsx", [["id"], [activity_id(1)]])
    xml = sheet_xml(path).replace(
        "</sheetData>",
        '<row r="900"><c r="A900" t="inlineStr"><is><t>acti_x</t></is></c></row></sheetData>',
    )
    replace_parts(path, {"xl/worksheets/sheet1.xml": xml.encode()})
    rows = list(read_table(path).rows())
    assert [row.number for row in rows] == list(range(2, 901))
    assert [row.index for row in rows] == list(range(899))
    assert [row.number for row in rows if not row.blank] == [2, 900]


def test_a_cell_past_the_last_column_is_refused(tmp_path: Path) -> None:
    path = workbook(tmp_path / "wide.xlsx", [["id"]])
    with_sheet_data(
        path,
        '<row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c></row>'
        '<row r="2"><c r="ZZZ2" t="inlineStr"><is><t>x</t></is></c></row>',
    )
    assert refusal(path) == (
        "row 2 has a cell in column 18,278, past the last column a spreadsheet has (16,384); "
        "the file is damaged."
    )


# --- Zip bombs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("member", "size", "limit"),
    [
        ("xl/sharedStrings.xml", 500_000_000, "200 MB"),
        ("xl/worksheets/sheet1.xml", 2_000_000_000, "500 MB"),
        ("xl/styles.xml", 200_000_000, "100 MB"),
    ],
)
def test_a_part_that_would_unpack_too_far_is_refused_before_parsing(
    tmp_path: Path, member: str, size: int, limit: str
) -> None:
    path = workbook(tmp_path / "bomb.xlsx", [["id", "text"], [activity_id(1), "hi"]])
    # Bad XML in the part: had it been parsed, the file would be refused as damaged instead.
    replace_parts(path, {member: b"<not xml", "xl/sharedStrings.xml": b"<not xml"})
    claim_unpacked_size(path, member, size)
    assert path.stat().st_size < 10_000
    assert refusal(path) == (
        f"its part '{member}' would unpack to {size / 1e6:,.0f} MB, more than the {limit} "
        "batch-sms reads from a spreadsheet; the file is damaged or not a genuine spreadsheet. "
        "If it is genuine, save the sheet as 'CSV UTF-8' and use that."
    )


def test_an_ods_content_that_would_unpack_too_far_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.ods"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", "<not xml")
    claim_unpacked_size(path, "content.xml", 900_000_000)
    assert refusal(path).startswith("its part 'content.xml' would unpack to 900 MB")


# --- Damaged workbooks -------------------------------------------------------------------------


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY a "aaaaaaaaaa">'
    + "".join(
        f'<!ENTITY {name} "{("&" + previous + ";") * 10}">'
        for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + ']><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" '
    'uniqueCount="1"><si><t>&i;</t></si></sst>'
)


def truncated(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def bad_sheet_xml(path: Path) -> Path:
    return replace_parts(path, {"xl/worksheets/sheet1.xml": sheet_xml(path)[:-40].encode()})


def entity_bomb(path: Path) -> Path:
    """The workbook with a shared-strings part that is a billion-laughs bomb, and a cell that
    uses it."""
    xml = re.sub(
        r'<c r="B2" t="inlineStr"><is><t>hi</t></is>', '<c r="B2" t="s"><v>0</v>', sheet_xml(path)
    )
    with zipfile.ZipFile(path) as archive:
        types = archive.read("[Content_Types].xml").decode()
    types = types.replace(
        "</Types>",
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
    )
    return replace_parts(
        path,
        {
            "xl/worksheets/sheet1.xml": xml.encode(),
            "xl/sharedStrings.xml": BILLION_LAUGHS.encode(),
            "[Content_Types].xml": types.encode(),
        },
    )


@pytest.mark.parametrize("damage", [truncated, bad_sheet_xml, entity_bomb])
def test_a_damaged_workbook_is_a_usage_error_not_a_traceback(tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    path = damage(workbook(tmp_path / "book.xlsx", [["id", "text"], [activity_id(1), "hi"]]))
    assert refusal(path) == DAMAGED
    result = invoke("run", path, "--dry-run")
    assert result.exit_code == ExitCode.USAGE
    assert DAMAGED in " ".join(result.stderr.split())


def test_an_entity_bomb_is_refused_in_the_sheet_itself(tmp_path: Path) -> None:
    path = workbook(tmp_path / "book.xlsx", [["id", "text"], [activity_id(1), "hi"]])
    doctype = BILLION_LAUGHS[BILLION_LAUGHS.index("<!DOCTYPE") : BILLION_LAUGHS.index("]>") + 2]
    xml = sheet_xml(path).replace("?>", "?>" + doctype, 1).replace("<t>hi</t>", "<t>&i;</t>")
    replace_parts(path, {"xl/worksheets/sheet1.xml": xml.encode()})
    assert refusal(path) == DAMAGED


def test_an_xml_parser_too_old_to_refuse_entity_bombs_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = workbook(tmp_path / "book.xlsx", [["id"], [activity_id(1)]])
    monkeypatch.setattr(pyexpat, "version_info", (2, 2, 10))
    monkeypatch.setattr(workbooks, "DEFUSEDXML", False)
    assert refusal(path) == (
        "this Python's XML parser (expat 2.2.10) is too old to open spreadsheets safely. "
        "Install defusedxml (pip install defusedxml), or use a newer Python."
    )
    monkeypatch.setattr(workbooks, "DEFUSEDXML", True)  # openpyxl then parses with defusedxml
    assert [row.activity_id for row in read_table(path).rows()] == [activity_id(1)]


def test_a_csv_header_cell_larger_than_csv_allows_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    path.write_text('"' + "x" * 200_000 + '",id\n', encoding="utf-8")
    assert refusal(path).startswith("is not a well-formed CSV file: field larger than field limit")


# --- Text that does not belong in an SMS -------------------------------------------------------


def validate(tmp_path: Path, text: str) -> Invalid | None:
    path = tmp_path / "in.csv"
    path.write_bytes(f"id,text\n{activity_id(1)},{text}\n".encode())
    row = next(read_table(path).rows())
    checked = Validator(NOW).validate(row)
    return checked if isinstance(checked, Invalid) else None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Hi there \x07bell", "U+0007 at position 10"),
        ("Hi\x00", "U+0000 at position 3"),
        ("\x1b[31mred", "U+001B at position 1"),
        ("broken \x85 export", "U+0085 at position 8"),
    ],
)
def test_control_characters_in_a_text_are_named_with_their_position(
    tmp_path: Path, text: str, problem: str
) -> None:
    invalid = validate(tmp_path, text)
    assert invalid is not None
    assert invalid.describe() == (
        f"text: holds a control character {problem}, which has no place in an SMS; delete it"
    )


@pytest.mark.parametrize("text", ['"two\nlines"', '"tab\there"', '"windows\r\nline"'])
def test_line_breaks_and_tabs_are_text(tmp_path: Path, text: str) -> None:
    assert validate(tmp_path, text) is None


# --- Long values are quoted short --------------------------------------------------------------


def test_a_long_header_is_cut_in_the_message(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    header = "Campaign " + "x" * 4_000
    path.write_text(f"{header},Message\nacti_1,hi\n", encoding="utf-8")
    message = refusal(path)
    assert len(message) < 300
    assert f"Columns found: '{header[:60]}…', 'Message'." in message


def test_a_long_id_is_cut_in_the_message(tmp_path: Path) -> None:
    invalid = Validator(NOW).validate(
        next(read_table(_csv(tmp_path, "id,text\n" + "y" * 4_000 + ",hi\n")).rows())
    )
    assert isinstance(invalid, Invalid)
    assert invalid.describe() == (
        f"id: '{'y' * 60}…' is not a Close SMS activity id (acti_ followed by letters and digits)"
    )


def _csv(tmp_path: Path, content: str) -> Path:
    path = tmp_path / "in.csv"
    path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("short", "'short'"),
        ("x" * 60, "'" + "x" * 60 + "'"),
        ("x" * 61, "'" + "x" * 60 + "…'"),
        ("two\nlines", "'two\\nlines'"),
        ("\x1b[2J clear screen", "'\\x1b[2J clear screen'"),
        ("x" * 58 + "\x07yz", "'" + "x" * 58 + "…'"),
    ],
)
def test_quoted_values_are_short_one_line_and_inert(value: str, shown: str) -> None:
    assert quote(value) == shown


def test_a_long_list_of_values_is_cut_too() -> None:
    assert quote_list([str(n) for n in range(12)]) == (
        "'0', '1', '2', '3', '4', '5', '6', '7', '8', '9' and 2 more"
    )
