"""Row outcomes and the results file: every input row, in input order, with what happened to it.

A results file is itself a valid input: its own columns are recognized when it is read back, so a
rerun replaces them instead of sending or duplicating them.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from batch_sms.files import columns
from batch_sms.files.rows import InputTable
from batch_sms.files.tables import TableWriter
from batch_sms.models import Outcome, RowResult, SourceRow


class OrderedResults:
    """Writes every input row with its result, in input order, as soon as the rows before it
    have theirs. Rows are announced in input order with `expect` (their cells are kept until
    written) and results arrive in any order, so memory holds only the rows still waiting."""

    def __init__(self, table: InputTable, writer: TableWriter) -> None:
        replaced = {table.headers[c] for c in columns.RESULTS if c in table.headers}
        self._keep = [at for at, name in enumerate(table.columns) if name not in replaced]
        self._writer = writer
        self._values: dict[int, tuple[str, ...]] = {}
        self._results: dict[int, RowResult] = {}
        self._next = 0
        self.expected = 0
        self.counts: Counter[Outcome] = Counter()

    @staticmethod
    def header(table: InputTable) -> list[str]:
        replaced = {table.headers[c] for c in columns.RESULTS if c in table.headers}
        return [name for name in table.columns if name not in replaced] + list(columns.RESULTS)

    @property
    def waiting(self) -> int:
        """Rows announced and not yet written."""
        return self.expected - self._next

    def expect(self, row: SourceRow) -> None:
        if row.index != self.expected:
            raise ValueError(f"row index {row.index} announced out of order")
        self._values[row.index] = row.values
        self.expected += 1

    def record(self, result: RowResult) -> None:
        index = result.index
        if index < self._next or index in self._results:
            raise ValueError(f"row index {index} already has a result")
        if index >= self.expected:
            raise ValueError(f"row index {index} was never announced")
        self._results[index] = result
        self.counts[result.outcome] += 1
        self._write_ready()

    def _write_ready(self) -> None:
        while self._next in self._results:
            values = self._values.pop(self._next)
            cells = self._results.pop(self._next).cells()
            kept = [values[at] for at in self._keep]
            self._writer.write_row(kept + [cells[name] for name in columns.RESULTS])
            self._next += 1

    def missing(self) -> list[int]:
        """Announced rows that have no result yet."""
        return [index for index in range(self._next, self.expected) if index not in self._results]

    def check_complete(self) -> None:
        if self.waiting:
            missing = self.missing()
            raise ValueError(f"{len(missing)} rows have no result (first: index {missing[0]})")


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
