"""Writing a table file (CSV or .xlsx) row by row, atomically: the file appears complete at its
path or not at all, and an older file there stays untouched until then."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import openpyxl
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE

XLSX_SUFFIX = ".xlsx"
XLSX_SHEET = "Results"


class TableWriter(Protocol):
    def write_row(self, values: Sequence[str]) -> None: ...


@contextmanager
def open_table_writer(
    path: Path, header: Sequence[str], links: Collection[str] = ()
) -> Iterator[TableWriter]:
    """Write a table to `path`: `.xlsx` as a workbook whose cells are all text, anything else
    as CSV in UTF-8 with a byte-order mark (so that Excel shows "Grüße"). In a workbook, the
    web addresses in the columns named in `links` are clickable. The file is written beside
    `path` and moved there only when the block ends without an error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        if path.suffix.lower() == XLSX_SUFFIX:
            table = _xlsx_table(temporary, header, links)
        else:
            table = _csv_table(temporary, header)
        with table as writer:
            yield writer
        _fsync(temporary)
        # mkstemp makes the file private (0600); a results file is an ordinary file.
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@contextmanager
def _csv_table(path: Path, header: Sequence[str]) -> Iterator[TableWriter]:
    with path.open("w", encoding="utf-8-sig", newline="") as stream:
        writer = _CsvWriter(csv.writer(stream))
        writer.write_row(header)
        yield writer


class _CsvWriter:
    def __init__(self, writer: Any) -> None:
        self._writer = writer

    def write_row(self, values: Sequence[str]) -> None:
        self._writer.writerow(values)


@contextmanager
def _xlsx_table(path: Path, header: Sequence[str], links: Collection[str]) -> Iterator[TableWriter]:
    # Write-only mode keeps rows on disk as they come, not in memory.
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet(XLSX_SHEET)
    writer = _XlsxWriter(sheet)
    writer.write_row(header)
    writer.link({at for at, name in enumerate(header) if name in links})
    try:
        yield writer
    except BaseException:
        # Ends the sheet's half-written stream, which would fail when garbage-collected;
        # openpyxl deletes its own temporary file when the program exits.
        sheet.close()
        raise
    workbook.save(path)


class _XlsxWriter:
    def __init__(self, sheet: Any) -> None:
        self._sheet = sheet
        self._links: set[int] = set()

    def link(self, positions: set[int]) -> None:
        """Make web addresses in these columns clickable, from the next row on."""
        self._links = positions

    def write_row(self, values: Sequence[str]) -> None:
        cells = [self._cell(value) for value in values]
        for at in self._links:
            if at < len(values) and values[at].startswith(("https://", "http://")):
                cells[at] = self._hyperlink(values[at])
        self._sheet.append(cells)

    def _hyperlink(self, url: str) -> WriteOnlyCell:
        cell = WriteOnlyCell(self._sheet, value=url)
        cell.hyperlink = url
        cell.style = "Hyperlink"
        return cell

    def _cell(self, value: str) -> str | WriteOnlyCell:
        # Control characters are not allowed in a workbook: dropping them beats losing the
        # results of a run at its very end.
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
        if not (value.startswith("=") or value in ERROR_CODES):
            return value  # openpyxl writes a str as a string cell: "0041..." keeps its zeros
        # openpyxl would write "=1+1" as a formula and "#N/A" as an error: keep them text.
        # (Only these get a cell object: it makes writing twice as slow.)
        cell = WriteOnlyCell(self._sheet, value=value)
        cell.data_type = "s"
        return cell


def _fsync(path: Path) -> None:
    """On disk before it replaces the old file: a crash must not leave an empty file."""
    with path.open("rb+") as stream:
        os.fsync(stream.fileno())


def _umask() -> int:
    """The process's umask; reading it means setting it, so it is set straight back."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
