from __future__ import annotations

import csv
import os
import stat
from pathlib import Path

import openpyxl
import pytest

from batch_sms.files import columns
from batch_sms.files.rows import ReadOptions, read_table
from batch_sms.files.tables import open_table_writer, permissions_of
from batch_sms.models import Outcome, RowResult
from tests.conftest import activity_id, write_results

ROWS = [
    ["acti_1", "Grüße aus Köln", "0041791234567"],
    ["acti_2", '=1+1, "quoted"\nand two lines', "1e10"],
    ["acti_3", "", "TRUE"],
    ["acti_4", "#N/A", "=SUM(A1:A3)"],
]


def test_csv_is_written_with_a_byte_order_mark_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    with open_table_writer(path, ["id", "text", "Notes"]) as writer:
        for row in ROWS:
            writer.write_row(row)
    assert path.read_bytes().startswith(b"\xef\xbb\xbfid,text,Notes\r\n")
    with path.open(encoding="utf-8-sig", newline="") as stream:
        assert list(csv.reader(stream)) == [["id", "text", "Notes"], *ROWS]


def test_xlsx_cells_are_all_text(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    with open_table_writer(path, ["id", "text", "Notes"]) as writer:
        for row in ROWS:
            writer.write_row(row)
    workbook = openpyxl.load_workbook(path)
    try:
        sheet = workbook.active
        cells = list(sheet.iter_rows(min_row=2))
        assert [[cell.value or "" for cell in row] for row in cells] == ROWS
        assert {cell.data_type for row in cells for cell in row if cell.value} == {"s"}
    finally:
        workbook.close()


def test_control_characters_are_dropped_from_xlsx_rather_than_failing(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    with open_table_writer(path, ["id", "text"]) as writer:
        writer.write_row(["acti_1", "bell\x07 here"])
    table = read_table(path)
    assert next(table.rows()).values == ("acti_1", "bell here")


@pytest.mark.parametrize("name", ["out.csv", "out.xlsx"])
def test_an_error_inside_the_block_leaves_the_old_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"old results")
    with pytest.raises(RuntimeError, match="disk on fire"):
        with open_table_writer(path, ["id"]) as writer:
            writer.write_row(["acti_1"])
            raise RuntimeError("disk on fire")
    assert path.read_bytes() == b"old results"
    assert [p.name for p in tmp_path.iterdir()] == [name], "no temporary file is left behind"


def test_the_file_appears_only_when_the_block_ends(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "out.csv"
    with open_table_writer(path, ["id"]) as writer:
        writer.write_row(["acti_1"])
        assert not path.exists()
    assert path.read_bytes() == b"\xef\xbb\xbfid\r\nacti_1\r\n"


@pytest.mark.parametrize("name", ["campaign.results.csv", "campaign.results.xlsx"])
def test_results_of_a_spreadsheet_are_a_valid_input_without_maps(tmp_path: Path, name: str) -> None:
    source = tmp_path / "campaign.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.append(["Activity ID", "Message", "Recipient", "outcome"])
    workbook.active.append([activity_id(1), "Grüße", 4155550100, "failed"])
    workbook.active.append([])
    workbook.active.append([activity_id(2), "Hi", "", ""])
    workbook.save(source)
    table = read_table(source, ReadOptions(column_map=(("Activity ID", "id"),)))
    out = tmp_path / name
    write_results(
        table,
        [
            RowResult(0, Outcome.UPDATED, http_status=200, attempts=1),
            RowResult(1, Outcome.SKIPPED),
            RowResult(2, Outcome.INVALID, error_message="text: too long"),
        ],
        out,
    )
    again = read_table(out)
    assert again.columns == ("id", "Message", "Recipient", *columns.RESULTS)
    rows = list(again.rows())
    assert [row.values[:3] for row in rows] == [
        (activity_id(1), "Grüße", "4155550100"),
        ("", "", ""),
        (activity_id(2), "Hi", ""),
    ]
    assert [row.previous_outcome for row in rows] == ["updated", "skipped", "invalid"]
    assert rows[0].cells["http_status"] == "200"


@pytest.mark.parametrize("name", ["out.csv", "out.xlsx"])
def test_a_written_table_has_the_permissions_of_an_ordinary_file(tmp_path: Path, name: str) -> None:
    previous = os.umask(0o022)
    try:
        with open_table_writer(tmp_path / name, ["id"]) as writer:
            writer.write_row(["acti_1"])
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644


def test_csv_cells_the_tool_wrote_cannot_run_as_formulas(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    header = ["id", "Notes", "error_message", "close_status", "close_error_message"]
    with open_table_writer(path, header) as writer:
        writer.write_row(["acti_1", "=1+1", "=cmd|' /C calc'!A0", "@SUM(A1)", "+1+A1"])
        writer.write_row(["acti_2", "-2", "-2-A1", " =1", "\tx\x1b[2J"])
        writer.write_row(["acti_3", "plain", "Close rejected it", "sent", ""])
    with path.open(encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.reader(stream))[1:]
    assert rows == [
        ["acti_1", "=1+1", "'=cmd|' /C calc'!A0", "'@SUM(A1)", "'+1+A1"],
        ["acti_2", "-2", "'-2-A1", "' =1", "\\tx\\x1b[2J"],
        ["acti_3", "plain", "Close rejected it", "sent", ""],
    ]


def test_the_columns_to_neutralise_can_be_named(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    with open_table_writer(path, ["a", "error_message"], tool_columns=("a",)) as writer:
        writer.write_row(["=1", "=2"])
    assert path.read_text(encoding="utf-8-sig").splitlines()[1] == "'=1,=2"


def test_a_neutralised_results_file_reads_back_the_same_on_a_rerun(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("id,Notes\nacti_1,=1+1\n", encoding="utf-8")
    table = read_table(source)
    result = RowResult(0, Outcome.FAILED, error_message="-boom", close_error_message="=x")
    first = tmp_path / "first.csv"
    write_results(table, [result], first)
    carried = next(read_table(first).rows())
    assert (carried.cells["error_message"], carried.cells["close_error_message"]) == (
        "'-boom",
        "'=x",
    )
    assert carried.values[1] == "=1+1"
    again = RowResult.carried_over(carried)
    second = tmp_path / "second.csv"
    write_results(read_table(first), [again], second)
    assert next(read_table(second).rows()).cells["close_error_message"] == "'=x"


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
@pytest.mark.parametrize("name", ["out.csv", "out.xlsx"])
def test_a_results_file_takes_the_permissions_it_is_given(tmp_path: Path, name: str) -> None:
    source = tmp_path / "in.csv"
    source.write_text("id\n")
    source.chmod(0o600)
    path = tmp_path / name
    with open_table_writer(path, ["id"], mode=permissions_of(source)) as writer:
        writer.write_row(["acti_1"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_the_umask_still_narrows_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    mask = os.umask(0o077)
    try:
        with open_table_writer(path, ["id"], mode=0o755) as writer:
            writer.write_row(["acti_1"])
    finally:
        os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_permissions_of_a_missing_file_are_unknown(tmp_path: Path) -> None:
    assert permissions_of(tmp_path / "missing.csv") is None
