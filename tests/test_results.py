from __future__ import annotations

from pathlib import Path

import pytest

from batch_sms import columns
from batch_sms.results import (
    Outcome,
    ResultBook,
    RowResult,
    default_results_path,
    write_results,
)
from batch_sms.rows import read_table
from tests.conftest import WriteCsv, activity_id, read_csv


@pytest.mark.parametrize(
    ("input_name", "results_name"),
    [
        ("campaign.csv", "campaign.results.csv"),
        ("campaign.results.csv", "campaign.results-2.csv"),
        ("campaign.results-2.csv", "campaign.results-3.csv"),
        ("campaign.results-9.csv", "campaign.results-10.csv"),
        ("my.results.backup.csv", "my.results.backup.results.csv"),
        ("noext", "noext.results.csv"),
    ],
)
def test_default_results_path(input_name: str, results_name: str) -> None:
    folder = Path("/data/in")
    assert default_results_path(folder / input_name) == folder / results_name


def test_results_keep_every_input_column_and_replace_old_results(
    write_csv: WriteCsv, tmp_path: Path
) -> None:
    path = write_csv(
        [
            {"Notes": "a", "id": activity_id(1), "text": "x", "outcome": "failed", "attempts": "3"},
            {
                "Notes": "b",
                "id": activity_id(2),
                "text": "y",
                "outcome": "updated",
                "attempts": "1",
            },
        ]
    )
    table = read_table(path)
    out = tmp_path / "out.csv"
    write_results(
        table,
        [
            RowResult(0, Outcome.UPDATED, http_status=200, attempts=1, close_status="draft"),
            RowResult(1, Outcome.FAILED, error_message="boom", attempts=2),
        ],
        out,
    )
    rows = read_csv(out)
    assert list(rows[0]) == ["Notes", "id", "text", *columns.RESULTS]
    assert rows[0] == {
        "Notes": "a",
        "id": activity_id(1),
        "text": "x",
        "outcome": "updated",
        "error_message": "",
        "http_status": "200",
        "attempts": "1",
        "close_status": "draft",
        "close_date_scheduled": "",
        "close_date_sent": "",
        "close_error_message": "",
        "segments": "",
    }
    assert (rows[1]["outcome"], rows[1]["error_message"], rows[1]["http_status"]) == (
        "failed",
        "boom",
        "",
    )
    assert not list(tmp_path.glob(".out.csv.*")), "no temporary file is left behind"


def test_write_results_refuses_to_lose_a_row(write_csv: WriteCsv, tmp_path: Path) -> None:
    table = read_table(write_csv([{"id": activity_id(n), "text": "x"} for n in range(2)]))
    with pytest.raises(ValueError, match="1 results for 2 rows"):
        write_results(table, [RowResult(0, Outcome.UPDATED)], tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def test_result_book_refuses_duplicates_and_reports_missing_rows() -> None:
    book = ResultBook(3)
    book.record(RowResult(2, Outcome.FAILED))
    book.record(RowResult(0, Outcome.UPDATED))
    with pytest.raises(ValueError, match="already has a result"):
        book.record(RowResult(0, Outcome.FAILED))
    assert book.missing() == [1]
    with pytest.raises(ValueError, match="1 rows have no result"):
        book.in_order()
    book.record(RowResult(1, Outcome.INVALID))
    assert [r.outcome for r in book.in_order()] == [
        Outcome.UPDATED,
        Outcome.INVALID,
        Outcome.FAILED,
    ]
    assert book.counts()[Outcome.UPDATED] == 1
