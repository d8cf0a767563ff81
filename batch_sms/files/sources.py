"""The file formats an input can come in: a CSV file or a spreadsheet, opened as a header row
and a stream of records whose cells are text, read again from the start each time it is asked.

What the cells mean (which column is the id, which row is blank) is `rows.py`'s business.
"""

from __future__ import annotations

import codecs
import csv
import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pandas as pd

from batch_sms.files.quoting import quote
from batch_sms.files.records import InputError, Record
from batch_sms.files.workbooks import (
    CALAMINE_SUFFIXES,
    OPENPYXL_SUFFIXES,
    SPREADSHEET_SUFFIXES,
    CalamineSource,
    XlsxSource,
    cell_text,
)

__all__ = ["InputError", "Record", "Source", "cell_text", "ignored_options", "open_source"]

# Enough lines of any sane CSV file to tell its delimiter, little enough to read at once.
SNIFF_BYTES = 64 * 1024
SNIFF_LINES = 50
DELIMITERS = ",;\t"
_DELIMITER_NAMES = {";": "semicolons", "\t": "tabs"}
_RAGGED = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


# A byte-order mark says how a text file is encoded; it is read, never guessed. UTF-32's marks
# come first: they begin with UTF-16's.
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)
_ZIP_MAGIC = b"PK\x03\x04"
_TEXT_CONTROLS = b"\t\n\r"


class Source(Protocol):
    @property
    def header(self) -> tuple[str, ...]:
        """The header row as written in the file (a spreadsheet's empty cells as ""); empty
        when the file has no such row."""
        ...

    @property
    def warnings(self) -> tuple[str, ...]: ...

    def records(self) -> Iterator[Record]:
        """The rows after the header, from the start of the file, each cell as text. A
        spreadsheet leaves out rows that its file does not hold: the numbers tell."""
        ...

    def top_rows(self, count: int) -> list[Sequence[str]]:
        """The first `count` rows of the sheet, to tell where its header is."""
        ...


def open_source(
    path: Path,
    sheet: str | None,
    encoding: str | None,
    chunk_rows: int,
    header_row: int = 1,
) -> Source:
    """Open the input for reading: reads the header, not the rows."""
    suffix = path.suffix.lower()
    if not path.exists():
        raise InputError(f"{path}: no such file.")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a CSV or spreadsheet file.")
    if suffix in OPENPYXL_SUFFIXES:
        return XlsxSource.open(path, sheet, header_row)
    if suffix in CALAMINE_SUFFIXES:
        return CalamineSource.open(path, sheet, header_row)
    return CsvSource.open(path, encoding, chunk_rows, header_row)


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
    header_row: int = 1

    @classmethod
    def open(
        cls, path: Path, encoding: str | None, chunk_rows: int, header_row: int = 1
    ) -> CsvSource:
        codec, notes = _codec(path, encoding)
        delimiter = _sniff_delimiter(_sample(path, codec))
        header = _csv_header(path, codec, delimiter, header_row)
        if delimiter in _DELIMITER_NAMES:
            notes += (f"{path.name}: cells are separated by {_DELIMITER_NAMES[delimiter]}.",)
        return cls(path, codec, delimiter, header, chunk_rows, notes, header_row)

    def records(self) -> Iterator[Record]:
        number = self.header_row + 1
        try:
            with pd.read_csv(
                self.path,
                sep=self.delimiter,
                # Positions, not the headers: "id,text,," has two empty ones, which pandas
                # refuses as names; rows.py knows the headers.
                names=list(range(len(self.header))),
                skiprows=self.header_row - 1,
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
                    for values in chunk.itertuples(index=False, name=None):
                        yield Record(number, values)
                        number += 1
        except UnicodeDecodeError:
            raise InputError(_undecodable(self.path, self.encoding)) from None
        except pd.errors.ParserError as error:
            raise InputError(_malformed(self.path, error)) from None

    def top_rows(self, count: int) -> list[Sequence[str]]:
        try:
            with self.path.open(encoding=self.encoding, newline="") as stream:
                return list(itertools.islice(csv.reader(stream, delimiter=self.delimiter), count))
        except (csv.Error, UnicodeDecodeError):
            return []


def _codec(path: Path, encoding: str | None) -> tuple[str, tuple[str, ...]]:
    """The codec to read with, and a note when the file's byte-order mark overrides --encoding.
    UTF-8 is read as utf-8-sig: Excel's "CSV UTF-8" starts with a byte-order mark, which must
    not end up in the first header."""
    try:
        name = codecs.lookup(encoding or "utf-8").name
    except LookupError:
        raise InputError(
            f"{path}: {quote(encoding or '')} is not a text encoding batch-sms knows; "
            "try utf-8, cp1252 or latin-1."
        ) from None
    marked = _byte_order_mark(path)
    if marked is None:
        return ("utf-8-sig" if name in ("utf-8", "utf-8-sig") else name), ()
    codec, family = marked
    if encoding is None or name.replace("-", "").startswith(family.lower().replace("-", "")):
        return codec, ()
    return codec, (
        f"--encoding {encoding} ignored: the file starts with a {family} byte-order "
        "mark, which says how it is encoded.",
    )


def _byte_order_mark(path: Path) -> tuple[str, str] | None:
    """The codec and name of the encoding that the file's byte-order mark names, if any."""
    try:
        with path.open("rb") as stream:
            start = stream.read(4)
    except PermissionError:
        raise InputError(f"{path}: cannot be read (permission denied).") from None
    for mark, codec, family in _BYTE_ORDER_MARKS:
        if start.startswith(mark):
            return codec, family
    return None


def _sample(path: Path, codec: str) -> str:
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
        raise InputError(_undecodable(path, codec)) from None
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


def _csv_header(path: Path, codec: str, delimiter: str, header_row: int) -> tuple[str, ...]:
    try:
        with path.open(encoding=codec, newline="") as stream:
            rows = csv.reader(stream, delimiter=delimiter)
            header = next(itertools.islice(rows, header_row - 1, None), None)
            first = next(rows, None)
            _refuse_lost_cells(path, header or [], first, rows.line_num)
    except csv.Error as error:
        raise InputError(f"{path}: is not a well-formed CSV file: {error}.") from None
    if header is None and header_row == 1:
        raise InputError(f"{path}: is empty; it needs a header row with an 'id' column.")
    return tuple(header or ())


def _refuse_lost_cells(
    path: Path, header: Sequence[str], first: Sequence[str] | None, line: int
) -> None:
    """pandas refuses a row with more cells than the header, except the first one, whose extra
    cells it drops with a mere warning: "Hi there, see you" unquoted would be sent as "Hi
    there"."""
    if first is None or len(first) <= len(header):
        return
    raise InputError(
        f"{path}: line {line} has {len(first)} cells but the header has {len(header)}. "
        "A cell with the delimiter in it must be in double quotes."
    )


def _undecodable(path: Path, codec: str) -> str:
    where, line = _first_undecodable(path, codec)
    if codec != "utf-8-sig":
        return f"{path}: cannot be read as {codec} ({where}); check --encoding."
    return f"{path}: is not UTF-8 text ({where}). {_encoding_advice(line)}"


def _encoding_advice(line: bytes) -> str:
    """What to do about a file that is not UTF-8, from the bytes of the line that is not:
    --encoding cp1252 only where they read as cp1252 text (Excel's CSV on Windows)."""
    if line.startswith(_ZIP_MAGIC):
        return (
            "It looks like a spreadsheet (a zip file) with the wrong name: give it its own "
            "extension, like .xlsx."
        )
    if b"\x00" in line:
        return (
            "It holds NUL bytes, like UTF-16 text without a byte-order mark (Excel's "
            "'Unicode Text'): try --encoding utf-16-le, or save it as 'CSV UTF-8'."
        )
    if _reads_as_cp1252(line):
        return (
            "Save it as 'CSV UTF-8' and try again, or pass --encoding cp1252 if it was saved "
            "by Excel on Windows."
        )
    return "Save it as 'CSV UTF-8' and try again, or pass --encoding with its encoding."


def _reads_as_cp1252(line: bytes) -> bool:
    """True when the bytes are cp1252 text: every byte one cp1252 defines (0x81, 0x8d, 0x8f,
    0x90 and 0x9d are not), and no control character but tab and line ends."""
    try:
        line.decode("cp1252")
    except UnicodeDecodeError:
        return False
    return not any(byte < 0x20 and byte not in _TEXT_CONTROLS for byte in line)


def _first_undecodable(path: Path, codec: str) -> tuple[str, bytes]:
    """Where the first byte that cannot be decoded is, and its line's bytes, read line by line
    so that memory stays small (the decoder's own offset is relative to the block it was
    reading)."""
    decoder = codecs.getincrementaldecoder(codec)()
    with path.open("rb") as stream:
        for number, line in enumerate(stream, start=1):
            try:
                decoder.decode(line)
            except UnicodeDecodeError as error:
                return f"byte 0x{error.object[error.start]:02x} on line {number}", line
    return "undecodable bytes at its end", b""


def _malformed(path: Path, error: pd.errors.ParserError) -> str:
    ragged = _RAGGED.search(str(error))
    if ragged is None:
        return f"{path}: is not a well-formed CSV file: {error}".strip()
    expected, line, saw = ragged.groups()
    return (
        f"{path}: line {line} has {saw} cells but the header has {expected}. "
        "A cell with the delimiter in it must be in double quotes."
    )
