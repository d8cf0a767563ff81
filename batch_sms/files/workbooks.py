"""Spreadsheet inputs: .xlsx streamed with openpyxl, .xls/.xlsb/.ods read with calamine, and
the checks that a workbook is safe to open at all.

A workbook is a zip of XML files, so a small file can unpack to gigabytes: the unpacked sizes
are checked before any part is parsed.
"""

from __future__ import annotations

import pyexpat
import re
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

import openpyxl
import python_calamine
from openpyxl.cell.read_only import ReadOnlyCell
from openpyxl.styles.numbers import is_datetime
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._reader import FORMULA_TAG, WorkSheetParser
from openpyxl.xml import DEFUSEDXML

from batch_sms.files.quoting import quote, quote_list
from batch_sms.files.records import InputError, Record

OPENPYXL_SUFFIXES = {".xlsx", ".xlsm"}
CALAMINE_SUFFIXES = {".xls", ".xlsb", ".ods"}
SPREADSHEET_SUFFIXES = OPENPYXL_SUFFIXES | CALAMINE_SUFFIXES
ZIPPED_SUFFIXES = OPENPYXL_SUFFIXES | {".xlsb", ".ods"}

# How far a workbook's parts may unpack. A sheet is streamed, so its limit bounds time (and a
# single runaway row), not memory: 500 MB holds a full sheet of 1,048,576 rows of about ten
# columns as Excel writes them. Shared strings (every distinct text of an .xlsx) are held in
# memory whole, at about 2.5 times their XML size: 200 MB holds a million distinct 160-character
# texts. Other parts (styles, workbook, theme) are small in any genuine file.
MAX_SHEET_BYTES = 500_000_000
MAX_SHARED_STRINGS_BYTES = 200_000_000
MAX_OTHER_PART_BYTES = 100_000_000
_SHEET_PART = re.compile(r"^(xl/worksheets/[^/]+\.(xml|bin)|content\.xml)$", re.IGNORECASE)
_SHARED_STRINGS_PART = re.compile(r"^xl/sharedStrings\.(xml|bin)$", re.IGNORECASE)

# Excel's last column (XFD): a row claiming a cell beyond it is damaged or hostile.
MAX_COLUMN = 16_384

# expat refuses XML entity bombs (billion laughs) from 2.4.1 on. openpyxl uses defusedxml
# instead when it is installed, which refuses any DTD but reads .xlsx about 50% slower
# (measured): it is not a dependency, and an older expat without it is refused.
SAFE_EXPAT = (2, 4, 1)

# What openpyxl and zipfile raise for a file that is not a workbook or is damaged: a bad or
# truncated zip, a missing part, bad XML, or an XML entity bomb (refused by expat, or by
# defusedxml as a ValueError).
_DAMAGED = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    KeyError,
    OSError,
    ValueError,
    TypeError,
    ParseError,
)


def check_unpacked_sizes(path: Path) -> None:
    """Refuse a zipped workbook whose parts would unpack beyond what batch-sms reads, before
    any part is parsed. A file that is no zip at all is left to its reader to refuse."""
    if path.suffix.lower() not in ZIPPED_SUFFIXES:
        return
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return
    for member in members:
        limit = _unpacked_limit(member.filename)
        if member.file_size > limit:
            raise InputError(
                f"{path}: its part {quote(member.filename)} would unpack to "
                f"{_megabytes(member.file_size)}, more than the {_megabytes(limit)} batch-sms "
                "reads from a spreadsheet; the file is damaged or not a genuine spreadsheet. "
                "If it is genuine, save the sheet as 'CSV UTF-8' and use that."
            )


def _unpacked_limit(name: str) -> int:
    if _SHEET_PART.match(name):
        return MAX_SHEET_BYTES
    if _SHARED_STRINGS_PART.match(name):
        return MAX_SHARED_STRINGS_BYTES
    return MAX_OTHER_PART_BYTES


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:,.0f} MB"


# --- Cells as text -----------------------------------------------------------------------------


def cell_text(value: object, number_format: str | None = None) -> str:
    """A spreadsheet cell as the text the user sees, without the spreadsheet's guesses: a
    phone stored as a number keeps its digits, a time is a local time without offset."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return _datetime_text(value, number_format)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return _time_text(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _datetime_text(value: datetime, number_format: str | None) -> str:
    # Excel stores times as fractions of a day: 09:00 may come back a microsecond short.
    value = (value + timedelta(microseconds=500_000)).replace(microsecond=0)
    if number_format and is_datetime(number_format) == "date" and value.time() == time(0):
        return value.date().isoformat()
    return f"{value.date().isoformat()} {_time_text(value.time())}"


def _time_text(value: time) -> str:
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")


# --- .xlsx -------------------------------------------------------------------------------------

UNCALCULATED = "uncalculated"
"""The data type our parser gives a formula cell that has no saved value."""


class _CellParser(WorkSheetParser):  # type: ignore[misc]
    """openpyxl's own sheet parser, which also tells a formula that has no saved value from an
    empty cell. openpyxl reads both as None, and a program that writes a workbook (openpyxl,
    a script) saves formulas without calculating them: the text the user sees in Excel
    would reach batch-sms as an empty cell."""

    def parse_cell(self, element: Any) -> dict[str, Any]:
        cell: dict[str, Any] = super().parse_cell(element)
        # An empty <v/> of type "str" is a formula whose value is the empty string.
        if (
            cell["value"] is None
            and element.get("t") != "str"
            and element.find(FORMULA_TAG) is not None
        ):
            cell["data_type"] = UNCALCULATED
        return cell


@dataclass(frozen=True)
class XlsxSource:
    """An .xlsx workbook, streamed: memory stays small however many rows the sheet has (its
    shared strings aside, which openpyxl holds whole)."""

    path: Path
    sheet: str
    header: tuple[str, ...]
    header_row: int = 1
    warnings: tuple[str, ...] = ()

    @classmethod
    def open(cls, path: Path, sheet: str | None, header_row: int = 1) -> XlsxSource:
        check_unpacked_sizes(path)
        with _xlsx_workbook(path) as workbook:
            name = _choose_sheet(path, workbook.sheetnames, sheet)
            header: tuple[str, ...] = ()
            for record in _xlsx_records(path, workbook[name]):
                if record.number >= header_row:
                    if record.number == header_row:
                        header = tuple(record.cells)
                    break
        return cls(path, name, header, header_row)

    def records(self) -> Iterator[Record]:
        with _xlsx_workbook(self.path) as workbook:
            for record in _xlsx_records(self.path, workbook[self.sheet]):
                if record.number > self.header_row:
                    yield record

    def top_rows(self, count: int) -> list[Sequence[str]]:
        with _xlsx_workbook(self.path) as workbook:
            return _dense_top(_xlsx_records(self.path, workbook[self.sheet]), count)


@contextmanager
def _xlsx_workbook(path: Path) -> Iterator[Any]:
    """An openpyxl read-only workbook, closed after use, whose damage is an InputError."""
    _require_safe_xml_parser(path)
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except PermissionError:
        raise InputError(f"{path}: cannot be read (permission denied).") from None
    except _DAMAGED:
        raise InputError(_not_a_workbook(path)) from None
    try:
        yield workbook
    finally:
        workbook.close()


def _require_safe_xml_parser(path: Path) -> None:
    if DEFUSEDXML or pyexpat.version_info >= SAFE_EXPAT:
        return
    version = ".".join(map(str, pyexpat.version_info))
    raise InputError(
        f"{path}: this Python's XML parser (expat {version}) is too old to open spreadsheets "
        "safely. Install defusedxml (pip install defusedxml), or use a newer Python."
    )


def _xlsx_records(path: Path, sheet: Any) -> Iterator[Record]:
    """The rows that the sheet's XML holds, in order, each with its own row number: a sheet
    whose only cell is at row 1,000,001 is one record, not a million. Uses openpyxl's parser
    directly, as its read-only sheet does (which fills every gap with empty rows)."""
    try:
        with sheet.parent._archive.open(sheet._worksheet_path) as source:
            parser = _CellParser(
                source,
                sheet._shared_strings,
                data_only=True,
                epoch=sheet.parent.epoch,
                date_formats=sheet.parent._date_formats,
                timedelta_formats=sheet.parent._timedelta_formats,
            )
            for number, cells in parser.parse():
                yield _xlsx_record(path, sheet, number, cells)
    except _DAMAGED:
        raise InputError(_not_a_workbook(path)) from None


def _xlsx_record(path: Path, sheet: Any, number: int, cells: list[dict[str, Any]]) -> Record:
    width = max((cell["column"] for cell in cells), default=0)
    if width > MAX_COLUMN:
        raise InputError(
            f"{path}: row {number:,} has a cell in column {width:,}, past the last column a "
            f"spreadsheet has ({MAX_COLUMN:,}); the file is damaged."
        )
    texts = [""] * width
    problems: dict[int, str] = {}
    for cell in cells:
        position = cell["column"] - 1
        if cell["data_type"] == UNCALCULATED:
            problems[position] = _uncalculated(get_column_letter(cell["column"]), number)
        else:
            texts[position] = _xlsx_cell_text(sheet, cell)
    return Record(number, texts, problems) if problems else Record(number, texts)


def _xlsx_cell_text(sheet: Any, cell: dict[str, Any]) -> str:
    value = cell["value"]
    if isinstance(value, datetime):
        return cell_text(value, ReadOnlyCell(sheet, **cell).number_format)
    return cell_text(value)


def _uncalculated(column: str, number: int) -> str:
    return (
        f"{column}{number} holds a formula whose value was never calculated: open the file in "
        "Excel or LibreOffice and save it"
    )


def _dense_top(records: Iterator[Record], count: int) -> list[Sequence[str]]:
    """The first `count` rows of a sheet, rows missing from its XML as empty ones."""
    rows: list[Sequence[str]] = []
    for record in records:
        if record.number > count:
            break
        rows.extend([()] * (record.number - 1 - len(rows)))
        rows.append(record.cells)
    return rows


# --- .xls, .xlsb, .ods -------------------------------------------------------------------------


@dataclass(frozen=True)
class CalamineSource:
    """An .xls, .xlsb or .ods workbook, read with calamine. Unlike .xlsx it is read whole on
    each pass: these formats are rarely large (.xls holds at most 65,536 rows), and their
    unpacked size is capped before reading."""

    path: Path
    sheet: str
    header: tuple[str, ...]
    header_row: int = 1
    warnings: tuple[str, ...] = ()

    @classmethod
    def open(cls, path: Path, sheet: str | None, header_row: int = 1) -> CalamineSource:
        check_unpacked_sizes(path)
        with _load_calamine(path) as workbook:
            name = _choose_sheet(path, workbook.sheet_names, sheet)
            rows = _calamine_rows(path, workbook, name)
        first = rows[header_row - 1] if len(rows) >= header_row else []
        return cls(path, name, tuple(cell_text(value) for value in first), header_row)

    def records(self) -> Iterator[Record]:
        with _load_calamine(self.path) as workbook:
            rows = _calamine_rows(self.path, workbook, self.sheet)
        for number, row in enumerate(rows[self.header_row :], start=self.header_row + 1):
            yield Record(number, [cell_text(value) for value in row])

    def top_rows(self, count: int) -> list[Sequence[str]]:
        with _load_calamine(self.path) as workbook:
            rows = _calamine_rows(self.path, workbook, self.sheet)
        return [[cell_text(value) for value in row] for row in rows[:count]]


def _calamine_rows(path: Path, workbook: Any, sheet: str) -> list[list[Any]]:
    # Without skip_empty_area=False, calamine drops empty leading rows and columns, which
    # would shift the row numbers and the columns under their headers.
    try:
        rows: list[list[Any]] = workbook.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    except Exception:  # calamine raises its own errors and plain ones for damaged sheets
        raise InputError(_not_a_workbook(path)) from None
    return rows


def _load_calamine(path: Path) -> Any:
    try:
        return python_calamine.CalamineWorkbook.from_path(str(path))
    except PermissionError:
        raise InputError(f"{path}: cannot be read (permission denied).") from None
    except Exception:  # calamine raises its own errors and plain ones for damaged files
        raise InputError(_not_a_workbook(path)) from None


# --- Both --------------------------------------------------------------------------------------


def _not_a_workbook(path: Path) -> str:
    return (
        f"{path}: is not a {path.suffix.lower()} spreadsheet, or it is damaged; open it in "
        "your spreadsheet program and save it again."
    )


def _choose_sheet(path: Path, names: Sequence[str], wanted: str | None) -> str:
    if not names:
        raise InputError(f"{path}: has no sheets.")
    if wanted is None:
        return names[0]
    if wanted in names:
        return wanted
    raise InputError(f"{path}: has no sheet {quote(wanted)}. Its sheets: {quote_list(names)}.")
