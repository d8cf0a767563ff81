"""Writing a table file (CSV or .xlsx) row by row, atomically: the file appears complete at its
path or not at all, and an older file there stays untouched until then.

Cells that the tool or Close wrote (the results columns) cannot hurt whoever opens the file: in
a CSV, one that a spreadsheet would run as a formula (`=HYPERLINK(...)`) starts with an
apostrophe, and control characters are escaped. The user's own cells are written as they were
read, so that a rerun reads back exactly what the user gave: they are the user's to trust.
"""

from __future__ import annotations

import csv
import os
import stat
import tempfile
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import openpyxl
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE

from batch_sms.files import columns
from batch_sms.output.safe_text import escape_controls, neutralise_formula

XLSX_SUFFIX = ".xlsx"
XLSX_SHEET = "Results"


class TableWriter(Protocol):
    def write_row(self, values: Sequence[str]) -> None: ...


@contextmanager
def open_table_writer(
    path: Path,
    header: Sequence[str],
    *,
    links: Collection[str] = (),
    tool_columns: Collection[str] = columns.RESULTS,
    mode: int | None = None,
) -> Iterator[TableWriter]:
    """Write a table to `path`: `.xlsx` as a workbook whose cells are all text, anything else
    as CSV in UTF-8 with a byte-order mark (so that Excel shows "Grüße"). The file is written
    beside `path` and moved there only when the block ends without an error.

    In a workbook, the web addresses in the columns named in `links` are clickable.
    `tool_columns` name the columns whose cells the tool or Close wrote, made harmless in a
    CSV. `mode`: the permission bits of the new file, like the input's (`permissions_of`), so
    that results holding names and phones are no more open than their source; the umask still
    applies. Default: an ordinary file (0666 less the umask)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        if path.suffix.lower() == XLSX_SUFFIX:
            table = _xlsx_table(temporary, header, links)
        else:
            table = _csv_table(temporary, header, tool_columns)
        with table as writer:
            yield writer
        _fsync(temporary)
        set_mode(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def permissions_of(path: Path) -> int | None:
    """The permission bits of `path` (0o600, 0o644...), None when it cannot be read."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None


def set_mode(path: Path, mode: int | None) -> None:
    """Give `path` the permission bits `mode` less the umask (an ordinary file's for None)."""
    # mkstemp makes the file private (0600); a results file is an ordinary file, or as open
    # as the input it comes from. On Windows, chmod can only set read-only: left alone.
    if os.name == "nt":
        return
    wanted = 0o666 if mode is None else mode & 0o666
    os.chmod(path, wanted & ~_umask())


@contextmanager
def _csv_table(
    path: Path, header: Sequence[str], tool_columns: Collection[str]
) -> Iterator[TableWriter]:
    with path.open("w", encoding="utf-8-sig", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        yield _CsvWriter(writer, [at for at, name in enumerate(header) if name in tool_columns])


class _CsvWriter:
    def __init__(self, writer: Any, tool_columns: list[int]) -> None:
        self._writer = writer
        self._tool_columns = tool_columns

    def write_row(self, values: Sequence[str]) -> None:
        if self._tool_columns:
            values = list(values)
            for at in self._tool_columns:
                values[at] = neutralise_formula(escape_controls(values[at]))
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
