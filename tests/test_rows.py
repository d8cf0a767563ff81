from __future__ import annotations

from pathlib import Path

import pytest

from batch_sms.rows import InputError, read_table
from tests.conftest import WriteCsv, activity_id


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
    assert table.ignored == ("Owner",)
    assert table.header("date_scheduled") == "Date Scheduled"


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


def test_rows_carry_their_spreadsheet_number_and_stripped_cells(write_csv: WriteCsv) -> None:
    path = write_csv([{"id": f" {activity_id(n)} ", "text": f"  hi {n}  "} for n in range(3)])
    rows = list(read_table(path).rows())
    assert [(row.index, row.number, row.activity_id) for row in rows] == [
        (0, 2, activity_id(0)),
        (1, 3, activity_id(1)),
        (2, 4, activity_id(2)),
    ]
    assert rows[2].cells == {"text": "hi 2"}


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(f"\ufeffid,text\n{activity_id(1)},Grüße\n".encode())
    table = read_table(path)
    assert table.headers["id"] == "id"
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


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty; it needs a header row with an 'id' column."),
        (
            b"Activity,Message\nacti_1,hi\n",
            "has no 'id' column (the SMS activity id, like acti_...). "
            "Columns found: 'Activity', 'Message'.",
        ),
        (
            b"id,text\nacti_1,caf\xe9\n",
            "is not UTF-8 text (byte 0xe9 on line 2). Save it as 'CSV UTF-8' and try again.",
        ),
        (
            b"id,Text,text\nacti_1,a,b\n",
            "columns 'Text' and 'text' both mean 'text'; keep one of them.",
        ),
        (b"id,text,text\nacti_1,a,b\n", "has two columns named 'text'; keep one of them."),
    ],
)
def test_unusable_files_are_refused_with_a_reason(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    with pytest.raises(InputError) as raised:
        read_table(path)
    assert str(raised.value) == f"{path}: {message}"


def test_a_ragged_csv_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("id,text\nacti_1,a\nacti_2,b,c,d\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 3"):
        read_table(path)


def test_missing_file_and_spreadsheet_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="save the sheet as CSV"):
        read_table(tmp_path / "book.xlsx")


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
