"""Row outcomes and the results file: every input row, in input order, with what happened to it.

A results file is itself a valid input: its own columns are recognized when it is read back, so a
rerun replaces them instead of sending or duplicating them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from batch_sms import columns
from batch_sms.rows import InputTable, SourceRow
from batch_sms.tables import open_table_writer


class Outcome(StrEnum):
    UPDATED = "updated"
    INVALID = "invalid"
    FAILED = "failed"
    SKIPPED = "skipped"
    NOT_ATTEMPTED = "not_attempted"
    PLANNED = "planned"


@dataclass(frozen=True)
class RowResult:
    """What happened to one input row, as the results file reports it."""

    index: int
    outcome: Outcome
    error_message: str = ""
    http_status: int | None = None
    attempts: int = 0
    close_status: str = ""
    close_date_scheduled: str = ""
    close_date_sent: str = ""
    close_error_message: str = ""

    @classmethod
    def from_activity(
        cls, index: int, activity: dict[str, Any], http_status: int, attempts: int
    ) -> RowResult:
        return cls(
            index=index,
            outcome=Outcome.UPDATED,
            http_status=http_status,
            attempts=attempts,
            close_status=_text(activity.get("status")),
            close_date_scheduled=_text(activity.get("date_scheduled")),
            close_date_sent=_text(activity.get("date_sent")),
            close_error_message=_text(activity.get("error_message")),
        )

    @classmethod
    def carried_over(cls, row: SourceRow) -> RowResult:
        """A row already updated by a previous run, kept exactly as that run reported it."""
        cells = row.cells
        return cls(
            index=row.index,
            outcome=Outcome.UPDATED,
            error_message=cells.get("error_message", ""),
            http_status=_int_or_none(cells.get("http_status", "")),
            attempts=_int_or_none(cells.get("attempts", "")) or 0,
            close_status=cells.get("close_status", ""),
            close_date_scheduled=cells.get("close_date_scheduled", ""),
            close_date_sent=cells.get("close_date_sent", ""),
            close_error_message=cells.get("close_error_message", ""),
        )

    def cells(self) -> dict[str, str]:
        """The results columns as text, in the results file's order."""
        return {name: _text(getattr(self, name)) for name in columns.RESULTS}


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _int_or_none(value: str) -> int | None:
    return int(value) if value.strip().isdigit() else None


class ResultBook:
    """Collects one result per input row, in any order, and refuses to lose or repeat one."""

    def __init__(self, total_rows: int) -> None:
        self.total_rows = total_rows
        self._results: dict[int, RowResult] = {}

    def record(self, result: RowResult) -> None:
        if result.index in self._results:
            raise ValueError(f"row index {result.index} already has a result")
        self._results[result.index] = result

    def record_all(self, results: Iterable[RowResult]) -> None:
        for result in results:
            self.record(result)

    def counts(self) -> Counter[Outcome]:
        return Counter(result.outcome for result in self._results.values())

    def missing(self) -> list[int]:
        return [index for index in range(self.total_rows) if index not in self._results]

    def in_order(self) -> list[RowResult]:
        missing = self.missing()
        if missing:
            raise ValueError(f"{len(missing)} rows have no result (first: index {missing[0]})")
        return [self._results[index] for index in range(self.total_rows)]

    def __iter__(self) -> Iterator[RowResult]:
        return iter(self._results.values())


def write_results(table: InputTable, results: list[RowResult], path: Path) -> None:
    """Write the input rows with their results, atomically: a reader (or a crash) sees either
    the old file or the complete new one, never half of it. The input is read again, a chunk
    at a time; `.xlsx` in `path` writes a workbook, anything else CSV."""
    old = {table.headers[c] for c in columns.RESULTS if c in table.headers}
    kept = [at for at, header in enumerate(table.columns) if header not in old]
    header = [table.columns[at] for at in kept] + list(columns.RESULTS)
    with open_table_writer(path, header) as writer:
        for row, result in _paired(table.rows(), results):
            writer.write_row([row.values[at] for at in kept] + list(result.cells().values()))


def _paired(
    rows: Iterator[SourceRow], results: list[RowResult]
) -> Iterator[tuple[SourceRow, RowResult]]:
    """Each row with its result; a row without one, or one too many, is a bug to stop at."""
    count = 0
    for row in rows:
        if count == len(results):
            raise ValueError(f"{len(results)} results for {count + 1 + sum(1 for _ in rows)} rows")
        if results[count].index != row.index:
            raise ValueError(f"result {count} is for row index {results[count].index}")
        yield row, results[count]
        count += 1
    if count != len(results):
        raise ValueError(f"{len(results)} results for {count} rows")


_RESULTS_SUFFIX = re.compile(r"\.results(?:-(\d+))?$")


def default_results_path(input_path: Path) -> Path:
    """`campaign.csv` -> `campaign.results.csv`; a rerun of `campaign.results.csv` writes
    `campaign.results-2.csv`, then `-3`, so that no run overwrites the file it reads."""
    stem = input_path.stem
    match = _RESULTS_SUFFIX.search(stem)
    if match is None:
        return input_path.with_name(f"{stem}.results.csv")
    number = int(match.group(1) or 1) + 1
    return input_path.with_name(f"{stem[: match.start()]}.results-{number}.csv")
