from __future__ import annotations

from pathlib import Path

import pytest

from batch_sms.files import columns
from batch_sms.files.rows import read_table
from batch_sms.models import Evidence, Outcome, RowResult
from batch_sms.output.results import OrderedResults, default_results_path
from tests.conftest import WriteCsv, activity_id, read_csv, write_results


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
    book = write_results(
        table,
        [
            RowResult(1, Outcome.FAILED, error_message="boom", attempts=2),
            RowResult(
                0,
                Outcome.UPDATED,
                http_status=200,
                attempts=1,
                close_status="draft",
                evidence=Evidence.ANSWER,
            ),
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
        "evidence": "answer",
        "error_message": "",
        "http_status": "200",
        "attempts": "1",
        "close_status": "draft",
        "close_date_scheduled": "",
        "close_date_sent": "",
        "close_error_message": "",
        "segments": "",
        "recipient_e164": "",
    }
    assert (rows[1]["outcome"], rows[1]["error_message"], rows[1]["http_status"]) == (
        "failed",
        "boom",
        "",
    )
    assert book.counts == {Outcome.UPDATED: 1, Outcome.FAILED: 1}
    assert not list(tmp_path.glob(".out.csv.*")), "no temporary file is left behind"


def test_a_row_is_written_once_every_row_before_it_has_its_result(
    write_csv: WriteCsv, tmp_path: Path
) -> None:
    table = read_table(write_csv([{"id": activity_id(n), "text": "x"} for n in range(3)]))
    written: list[list[str]] = []

    class Recorder:
        def write_row(self, values: list[str]) -> None:
            written.append(values)

    book = OrderedResults(table, Recorder())  # type: ignore[arg-type]
    for row in table.rows():
        book.expect(row)
    book.record(RowResult(2, Outcome.FAILED))
    book.record(RowResult(1, Outcome.UPDATED))
    assert (written, book.waiting, book.missing()) == ([], 3, [0])
    book.record(RowResult(0, Outcome.UPDATED))
    assert [values[0] for values in written] == [activity_id(n) for n in range(3)]
    assert book.waiting == 0


def test_results_refuse_a_second_result_and_a_missing_one(
    write_csv: WriteCsv, tmp_path: Path
) -> None:
    table = read_table(write_csv([{"id": activity_id(n), "text": "x"} for n in range(2)]))
    with pytest.raises(ValueError, match="already has a result"):
        write_results(
            table, [RowResult(0, Outcome.UPDATED), RowResult(0, Outcome.FAILED)], tmp_path / "a"
        )
    with pytest.raises(ValueError, match="1 rows have no result"):
        write_results(table, [RowResult(0, Outcome.UPDATED)], tmp_path / "b.csv")
    assert not (tmp_path / "b.csv").exists(), "an incomplete results file is never left"
