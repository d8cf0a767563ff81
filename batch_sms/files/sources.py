"""The file formats an input can come in: a CSV file or a spreadsheet, opened as a header row
and a stream of records whose cells are text, read again from the start each time it is asked.

What the cells mean (which column is the id, which row is blank) is `rows.py`'s business.
"""

from __future__ import annotations

import codecs
import csv
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Protocol

import openpyxl
import pandas as pd
import python_calamine
from openpyxl.styles.numbers import is_datetime

from batch_sms.errors import InputError

OPENPYXL_SUFFIXES = {".xlsx", ".xlsm"}
CALAMINE_SUFFIXES = {".xls", ".xlsb", ".ods"}
SPREADSHEET_SUFFIXES = OPENPYXL_SUFFIXES | CALAMINE_SUFFIXES

# Enough lines of any sane CSV file to tell its delimiter, little enough to read at once.
SNIFF_BYTES = 64 * 1024
SNIFF_LINES = 50
DELIMITERS = ",;\t"
_DELIMITER_NAMES = {";": "semicolons", "\t": "tabs"}
_RAGGED = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


class Source(Protocol):
    @property
    def header(self) -> tuple[str, ...]:
        """The first row as written in the file (a spreadsheet's empty cells as "")."""
        ...

    @property
    def warnings(self) -> tuple[str, ...]: ...

    def records(self) -> Iterator[Sequence[str]]:
        """The rows after the header, from the start of the file, each cell as text."""
        ...


def open_source(path: Path, sheet: str | None, encoding: str | None, chunk_rows: int) -> Source:
    """Open the input for reading: reads the header, not the rows."""
    suffix = path.suffix.lower()
    if not path.exists():
        raise InputError(f"{path}: no such file.")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a CSV or spreadsheet file.")
    if suffix in OPENPYXL_SUFFIXES:
        return XlsxSource.open(path, sheet)
    if suffix in CALAMINE_SUFFIXES:
        return CalamineSource.open(path, sheet)
    return CsvSource.open(path, encoding, chunk_rows)


def ignored_options(path: Path, sheet: str | None, encoding: str | None) -> tuple[str, ...]:
    """Notes on options that do not apply to this file. Not errors: a rerun of the CSV results
    of a spreadsheet run may well repeat the command line that named a sheet."""
    if path.suffix.lower() in SPREADSHEET_SUFFIXES:
        if encoding is not None:
            return (f"--encoding {encoding} ignored: spreadsheets do not need one.",)
    elif sheet is not None:
        return (f"--sheet {sheet} ignored: a CSV file has no sheets.",)
    return ()


# --- CSV ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CsvSource:
    path: Path
    encoding: str
    delimiter: str
    header: tuple[str, ...]
    chunk_rows: int
    warnings: tuple[str, ...] = ()

    @classmethod
    def open(cls, path: Path, encoding: str | None, chunk_rows: int) -> CsvSource:
        codec = _codec(path, encoding)
        delimiter = _sniff_delimiter(_sample(path, codec, encoding))
        header = _csv_header(path, codec, delimiter)
        warnings: tuple[str, ...] = ()
        if delimiter in _DELIMITER_NAMES:
            warnings = (f"{path.name}: cells are separated by {_DELIMITER_NAMES[delimiter]}.",)
        return cls(path, codec, delimiter, header, chunk_rows, warnings)

    def records(self) -> Iterator[Sequence[str]]:
        try:
            with pd.read_csv(
                self.path,
                sep=self.delimiter,
                # Positions, not the headers: "id,text,," has two empty ones, which pandas
                # refuses as names; rows.py knows the headers.
                names=list(range(len(self.header))),
                header=0,
                index_col=False,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                encoding=self.encoding,
                # A blank line is a row in the user's spreadsheet too: keeping it keeps the row
                # numbers in messages equal to the ones the user sees.
                skip_blank_lines=False,
                chunksize=self.chunk_rows,
            ) as reader:
                for chunk in reader:
                    yield from chunk.itertuples(index=False, name=None)
        except UnicodeDecodeError:
            raise InputError(_undecodable(self.path, self.encoding)) from None
        except pd.errors.ParserError as error:
            raise InputError(_malformed(self.path, error)) from None


def _codec(path: Path, encoding: str | None) -> str:
    """The codec to read with. UTF-8 is read as utf-8-sig: Excel's "CSV UTF-8" starts with a
    byte-order mark, which must not end up in the first header."""
    try:
        name = codecs.lookup(encoding or "utf-8").name
    except LookupError:
        raise InputError(
            f"{path}: '{encoding}' is not a text encoding batch-sms knows; "
            "try utf-8, cp1252 or latin-1."
        ) from None
    return "utf-8-sig" if name in ("utf-8", "utf-8-sig") else name


def _sample(path: Path, codec: str, encoding: str | None) -> str:
    """The first lines of the file as text; bad bytes in them are reported at once."""
    try:
        with path.open("rb") as stream:
            start = stream.read(SNIFF_BYTES)
            complete = len(start) < SNIFF_BYTES
    except PermissionError:
        raise InputError(f"{path}: cannot be read (permission denied).") from None
    try:
        text = codecs.getincrementaldecoder(codec)().decode(start, final=complete)
    except UnicodeDecodeError:
        raise InputError(_undecodable(path, codec, encoding)) from None
    # The last line of a cut sample is likely cut too, and would mislead the sniffer.
    return text if complete else text[: text.rfind("\n") + 1] or text


def _sniff_delimiter(sample: str) -> str:
    # csv.Sniffer's quote detection costs about 0.2 s per 16 KB; a few dozen lines tell the
    # delimiter as well as the whole sample does.
    lines = sample.splitlines(keepends=True)[:SNIFF_LINES]
    try:
        return csv.Sniffer().sniff("".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def _csv_header(path: Path, codec: str, delimiter: str) -> tuple[str, ...]:
    with path.open(encoding=codec, newline="") as stream:
        header = next(csv.reader(stream, delimiter=delimiter), None)
    if header is None:
        raise InputError(f"{path}: is empty; it needs a header row with an 'id' column.")
    return tuple(header)


def _undecodable(path: Path, codec: str, encoding: str | None = None) -> str:
    where = _first_undecodable(path, codec)
    if codec == "utf-8-sig":
        return (
            f"{path}: is not UTF-8 text ({where}). Save it as 'CSV UTF-8' and try again, "
            "or pass --encoding cp1252 if it was saved by Excel on Windows."
        )
    return f"{path}: cannot be read as {encoding or codec} ({where}); check --encoding."


def _first_undecodable(path: Path, codec: str) -> str:
    """Where the first byte that cannot be decoded is, line by line so that memory stays small
    (the decoder's own offset is relative to the block it was reading)."""
    decoder = codecs.getincrementaldecoder(codec)()
    with path.open("rb") as stream:
        for number, line in enumerate(stream, start=1):
            try:
                decoder.decode(line)
            except UnicodeDecodeError as error:
                return f"byte 0x{error.object[error.start]:02x} on line {number}"
    return "undecodable bytes at its end"


def _malformed(path: Path, error: pd.errors.ParserError) -> str:
    ragged = _RAGGED.search(str(error))
    if ragged is None:
        return f"{path}: is not a well-formed CSV file: {error}".strip()
    expected, line, saw = ragged.groups()
    return (
        f"{path}: line {line} has {saw} cells but the header has {expected}. "
        "A cell with the delimiter in it must be in double quotes."
    )


# --- Spreadsheets ------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class XlsxSource:
    """An .xlsx workbook, streamed with openpyxl's read-only mode: memory stays small however
    many rows the sheet has."""

    path: Path
    sheet: str
    header: tuple[str, ...]
    warnings: tuple[str, ...] = ()

    @classmethod
    def open(cls, path: Path, sheet: str | None) -> XlsxSource:
        workbook = _load_xlsx(path)
        try:
            name = _choose_sheet(path, workbook.sheetnames, sheet)
            first = next(_xlsx_sheet(workbook, name).iter_rows(max_row=1), ())
            header = tuple(cell_text(cell.value) for cell in first)
        finally:
            workbook.close()
        return cls(path, name, _require_header(path, name, header))

    def records(self) -> Iterator[Sequence[str]]:
        workbook = _load_xlsx(self.path)
        try:
            for row in _xlsx_sheet(workbook, self.sheet).iter_rows(min_row=2):
                yield [cell_text(cell.value, getattr(cell, "number_format", None)) for cell in row]
        finally:
            workbook.close()


def _xlsx_sheet(workbook: Any, name: str) -> Any:
    sheet = workbook[name]
    # Some programs write a wrong sheet size, which would cut rows short in read-only mode.
    sheet.reset_dimensions()
    return sheet


def _load_xlsx(path: Path) -> Any:
    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except PermissionError:
        raise InputError(f"{path}: cannot be read (permission denied).") from None
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise InputError(_not_a_workbook(path)) from None


@dataclass(frozen=True)
class CalamineSource:
    """An .xls, .xlsb or .ods workbook, read with calamine. Unlike .xlsx it is read whole on
    each pass: these formats are rarely large (.xls holds at most 65,536 rows)."""

    path: Path
    sheet: str
    header: tuple[str, ...]
    warnings: tuple[str, ...] = ()

    @classmethod
    def open(cls, path: Path, sheet: str | None) -> CalamineSource:
        with _load_calamine(path) as workbook:
            name = _choose_sheet(path, workbook.sheet_names, sheet)
            first = next(iter(_calamine_rows(workbook, name)), [])
        header = tuple(cell_text(value) for value in first)
        return cls(path, name, _require_header(path, name, header))

    def records(self) -> Iterator[Sequence[str]]:
        with _load_calamine(self.path) as workbook:
            rows = _calamine_rows(workbook, self.sheet)
        for row in rows[1:]:
            yield [cell_text(value) for value in row]


def _calamine_rows(workbook: Any, sheet: str) -> list[list[Any]]:
    # Without skip_empty_area=False, calamine drops empty leading rows and columns, which
    # would shift the row numbers and the columns under their headers.
    rows: list[list[Any]] = workbook.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    return rows


def _load_calamine(path: Path) -> Any:
    try:
        return python_calamine.CalamineWorkbook.from_path(str(path))
    except PermissionError:
        raise InputError(f"{path}: cannot be read (permission denied).") from None
    except Exception:  # calamine raises its own errors and plain ones for damaged files
        raise InputError(_not_a_workbook(path)) from None


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
    listed = ", ".join(f"'{name}'" for name in names)
    raise InputError(f"{path}: has no sheet '{wanted}'. Its sheets: {listed}.")


def _require_header(path: Path, sheet: str, header: tuple[str, ...]) -> tuple[str, ...]:
    if not any(cell.strip() for cell in header):
        raise InputError(
            f"{path}: sheet '{sheet}' has no header in row 1; it needs a header row with an "
            "'id' column."
        )
    return header
