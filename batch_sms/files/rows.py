"""Reading the input file into rows of text cells, with headers matched to known columns.

The file is streamed: `read_table` reads only its header, and each call of `InputTable.rows()`
reads it again from the start, a chunk at a time, so a million rows fit in little memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl.utils import get_column_letter

from batch_sms.errors import InputError
from batch_sms.files import columns
from batch_sms.files.quoting import QUOTE_LIMIT, quote, quote_list
from batch_sms.files.records import MAX_ROW_NUMBER, Record
from batch_sms.files.sources import Source, ignored_options, open_source
from batch_sms.models import SourceRow

__all__ = [
    "FIRST_ROW_NUMBER",
    "InputError",
    "InputTable",
    "ReadOptions",
    "SourceRow",
    "nothing_filled_in",
    "parse_map",
    "read_table",
]

# The spreadsheet row number of the first data row when the header is in row 1.
FIRST_ROW_NUMBER = 2

# Rows searched for a header when the header row has no `id` column: a title and a blank row
# or two above the header are common, ten rows above it are not.
HEADER_SEARCH_ROWS = 10

# Empty rows in a row that batch-sms accepts between two rows with data. More is a stray cell
# far below the data (or a file made to blow up into a million-row run); empty rows at the end
# are dropped, however many.
MAX_BLANK_RUN = 1_000

# The columns a --map may rename a header to: the results columns are batch-sms's own.
MAPPABLE = (columns.ID, *columns.FIELDS)


@dataclass(frozen=True)
class ReadOptions:
    sheet: str | None = None
    """Spreadsheet sheet name; None: the first sheet."""
    encoding: str | None = None
    """Text encoding of a CSV file; None: UTF-8 (a byte-order mark accepted)."""
    column_map: tuple[tuple[str, str], ...] = ()
    """(header as written in the file, column name) pairs: headers renamed before matching."""
    chunk_rows: int = 10_000
    header_row: int | None = None
    """The row that holds the headers (1 is the first); None: row 1. Rows above it are not
    read; row numbers in messages stay the spreadsheet's."""

    @property
    def header_row_number(self) -> int:
        return self.header_row or 1


@dataclass(frozen=True)
class InputTable:
    """An input file's header matched to the columns batch-sms knows; its rows are read on
    demand by `rows()`."""

    path: Path
    columns: tuple[str, ...]
    """Every header in file order, after --map renaming."""
    headers: dict[str, str]
    """Canonical column name -> the header as in `columns`, for known columns only."""
    ignored: tuple[str, ...]
    """Headers that are neither an SMS field nor a results column: kept, never sent."""
    warnings: tuple[str, ...]
    """Things the user should know about how the file was read."""
    source: Source = field(repr=False, compare=False)
    file_headers: tuple[str, ...]
    """Every header as written in the file, before --map; aligned with `columns`."""
    header_row: int = 1
    """The spreadsheet row of the header: the first data row is the one after it."""

    @property
    def is_results_file(self) -> bool:
        return "outcome" in self.headers

    @property
    def is_export_file(self) -> bool:
        """Written by `batch-sms export` (or a run's results of such a file): it shows each
        SMS's current values in columns of its own."""
        return any(column in self.headers for column in columns.CONTEXT)

    def header(self, column: str) -> str:
        """How the user wrote a column's header, for messages that name it: `Send at`, not
        the `date_scheduled` that --map made of it."""
        if column not in self.headers:
            return column
        return self.file_headers[self.columns.index(self.headers[column])]

    def rows(self) -> Iterator[SourceRow]:
        """Every row from the start of the file, in chunks; may be called again."""
        known = {
            column: self.columns.index(header)
            for column, header in self.headers.items()
            if column != "outcome" and column not in columns.CONTEXT
        }
        outcome_at = self.columns.index(self.headers["outcome"]) if self.is_results_file else None
        results = {self.headers[column] for column in columns.RESULTS if column in self.headers}
        inputs = [at for at, header in enumerate(self.columns) if header not in results]
        records = _every_row(self.path, self.source.records(), self.header_row + 1)
        for index, record in enumerate(records):
            values = self._fit(record.cells, record.number)
            cells = {column: values[at].strip() for column, at in known.items()}
            problems = {
                column: record.problems[at] for column, at in known.items() if at in record.problems
            }
            yield SourceRow(
                index=index,
                number=record.number,
                activity_id=cells.pop(columns.ID),
                cells=cells,
                previous_outcome=values[outcome_at].strip() if outcome_at is not None else "",
                blank=not problems and not any(values[at].strip() for at in inputs),
                values=values,
                cell_problems=problems,
                exported=self.is_export_file,
            )

    def _fit(self, record: Sequence[str], number: int) -> tuple[str, ...]:
        """The record cut or padded to the header's width. A spreadsheet row may be shorter,
        or longer with empty cells; a value beyond the last header would be lost."""
        width = len(self.columns)
        if len(record) == width:
            return tuple(record)
        for position in range(width, len(record)):
            if record[position].strip():
                raise InputError(
                    f"{self.path}: row {number} has {quote(record[position])} in column "
                    f"{_column_name(position)}, which has no header. Give the column a "
                    "header (any name: batch-sms keeps columns it does not know) or clear it."
                )
        return tuple(record[:width]) + ("",) * (width - len(record))


def _every_row(path: Path, records: Iterator[Record], first: int) -> Iterator[Record]:
    """Every row from `first` on, in order: the rows a sparse spreadsheet leaves out come as
    empty ones, so that each row keeps its number. A long run of empty rows is held back, not
    kept: followed by data it is refused (a stray cell far below), at the end it is dropped (a
    sheet may claim a million empty rows). A file with more rows than a spreadsheet holds is
    refused."""
    empty_since = first  # the first row after the last one with data
    held: list[Record] = []  # the empty rows read since then, while they are few
    last = first - 1
    for record in records:
        last = record.number
        if last > MAX_ROW_NUMBER:
            raise InputError(_too_many_rows(path, last))
        if _is_empty(record):
            if last - empty_since < MAX_BLANK_RUN:
                held.append(record)
            continue
        if last - empty_since > MAX_BLANK_RUN:
            raise InputError(_stray_row(path, empty_since, record))
        yield from _empty_rows(held, empty_since, last)
        yield record
        held = []
        empty_since = last + 1
    if last + 1 - empty_since <= MAX_BLANK_RUN:
        yield from _empty_rows(held, empty_since, last + 1)


def _empty_rows(held: list[Record], start: int, end: int) -> Iterator[Record]:
    """Rows `start` to `end - 1`, all empty: those read as such, and those the file left out."""
    read = {record.number: record for record in held}
    for number in range(start, end):
        yield read.get(number) or Record(number, ())


def _is_empty(record: Record) -> bool:
    return not record.problems and not any(cell.strip() for cell in record.cells)


def _too_many_rows(path: Path, number: int) -> str:
    return (
        f"{path}: goes on past row {MAX_ROW_NUMBER:,}, the last row a spreadsheet has (to row "
        f"{number:,} at least); batch-sms stopped reading there. Split it into smaller files."
    )


def _stray_row(path: Path, start: int, record: Record) -> str:
    position, what = _first_filled(record)
    return (
        f"{path}: rows {start:,} to {record.number - 1:,} are empty, then row "
        f"{record.number:,} has {what} in column {_column_name(position)}. A stray cell far "
        "below the data? Clear it (or delete the empty rows) and save the file again."
    )


def _first_filled(record: Record) -> tuple[int, str]:
    for position, cell in enumerate(record.cells):
        if cell.strip():
            return position, quote(cell)
    return min(record.problems), "a formula"


def read_table(path: Path, options: ReadOptions = ReadOptions()) -> InputTable:  # noqa: B008
    """Open an input file (CSV, .xlsx, .xls, .ods) and check its header; reads no row yet."""
    header_row = options.header_row_number
    source = open_source(path, options.sheet, options.encoding, options.chunk_rows, header_row)
    notes: tuple[str, ...] = ()
    if header_row != 1 and _is_results_header(source.top_rows(1)):
        # A rerun may repeat the command line of the run that wrote this results file, whose
        # header is row 1 whatever the input's was.
        notes = (
            f"--header-row {header_row} ignored: {path.name} is a results file, whose "
            "header is row 1.",
        )
        header_row = 1
        source = open_source(path, options.sheet, options.encoding, options.chunk_rows)
    try:
        written = _used_header(path, source.header, header_row)
        renamed, map_notes = _apply_map(path, written, options.column_map)
        headers = _match_headers(path, renamed)
    except InputError as error:
        raise InputError(str(error) + _header_row_hint(source, options)) from None
    known_headers = set(headers.values())
    return InputTable(
        path=path,
        columns=renamed,
        headers=headers,
        ignored=tuple(header for header in renamed if header not in known_headers),
        warnings=source.warnings
        + ignored_options(path, options.sheet, options.encoding)
        + notes
        + map_notes,
        source=source,
        file_headers=written,
        header_row=header_row,
    )


def _is_results_header(rows: Sequence[Sequence[str]]) -> bool:
    names = {columns.normalize_header(cell) for row in rows for cell in row}
    return {columns.ID, "outcome"} <= names


def _header_row_hint(source: Source, options: ReadOptions) -> str:
    """Where the header is, when the header row is not it: a row near the top that has an
    `id` column (as written, or as --map names it)."""
    ids = {columns.ID} | {
        columns.normalize_header(header)
        for header, column in options.column_map
        if columns.normalize_header(column) == columns.ID
    }
    for number, cells in enumerate(source.top_rows(HEADER_SEARCH_ROWS), start=1):
        if number != options.header_row_number and any(
            columns.normalize_header(cell) in ids for cell in cells
        ):
            return (
                f" Row {number} has an 'id' column: pass --header-row {number} if it is the header."
            )
    return ""


def nothing_filled_in(table: InputTable) -> str:
    """Why an exported file in which no row changes anything is refused, with the likeliest
    cause: a column meant to be filled in whose header batch-sms does not know."""
    editable = [table.header(column) for column in columns.FIELDS if column in table.headers]
    shown = ", ".join(f"'{name}'" for name in editable) or "none"
    message = (
        f"{table.path}: no row fills in anything to change; every row is as exported. Fill "
        f"in the columns to change in the rows to change (columns to fill in: {shown}; an "
        "empty cell leaves a field as it is)."
    )
    if table.ignored:
        unknown = ", ".join(f"'{name}'" for name in table.ignored)
        message += f" Columns batch-sms does not know, and never sends: {unknown}. Misspelled?"
    return message


def parse_map(text: str) -> tuple[str, str]:
    """`Activity ID=id` -> ("Activity ID", "id"). The last `=` splits, since a column name
    has none and a header might."""
    header, equals, column = text.rpartition("=")
    if not (equals and header.strip() and column.strip()):
        raise InputError(f'{quote(text)} is not HEADER=COLUMN, like "Activity ID=id".')
    return header.strip(), column.strip()


def _column_name(position: int) -> str:
    return f"{position + 1} ({get_column_letter(position + 1)})"


def _used_header(path: Path, header: Sequence[str], header_row: int) -> tuple[str, ...]:
    """The header without the empty cells that end it (a spreadsheet's formatted but unused
    columns, a CSV's trailing comma); refuses repeated or missing headers."""
    width = len(header)
    while width and not header[width - 1].strip():
        width -= 1
    used = tuple(header[:width])
    if not used:
        raise InputError(
            f"{path}: has no header in row {header_row}; it needs a header row with an 'id' column."
        )
    seen: set[str] = set()
    for position, name in enumerate(used):
        if not name.strip():
            raise InputError(
                f"{path}: column {_column_name(position)} has no header; give it one (any "
                "name: batch-sms keeps columns it does not know) or delete the column."
            )
        if name in seen:
            raise InputError(f"{path}: has two columns named {quote(name)}; keep one of them.")
        seen.add(name)
    return used


def _apply_map(
    path: Path, header: tuple[str, ...], column_map: Sequence[tuple[str, str]]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The header with --map's renames applied, and notes on maps that were not needed."""
    renamed = list(header)
    targets: dict[str, str] = {}  # column -> the --map that names it
    applied: dict[int, str] = {}  # position -> the --map that renamed it
    notes: list[str] = []
    for source, target in column_map:
        label = f"--map {quote(f'{source}={target}')}"
        column = _map_target(path, label, target)
        if column in targets:
            raise InputError(
                f"{path}: {targets[column]} and {label} both map to '{column}'; keep one."
            )
        targets[column] = label
        position = _map_source(header, source)
        if position is None:
            notes.append(_unneeded_map(path, label, header, column))
            continue
        if position in applied:
            raise InputError(
                f"{path}: {applied[position]} and {label} both rename {quote(source)}."
            )
        applied[position] = label
        renamed[position] = column
    _refuse_map_clashes(path, header, renamed, applied)
    return tuple(renamed), tuple(notes)


def _map_target(path: Path, label: str, target: str) -> str:
    column = columns.normalize_header(target)
    if column not in MAPPABLE:
        raise InputError(
            f"{path}: {label}: {quote(target)} is not a column batch-sms knows. "
            f"Known columns: {', '.join(MAPPABLE)}."
        )
    return column


def _map_source(header: tuple[str, ...], source: str) -> int | None:
    """Where the header a --map names is: as written, else spelled alike (`activity id`)."""
    if source in header:
        return header.index(source)
    alike = [
        position
        for position, name in enumerate(header)
        if columns.normalize_header(name) == columns.normalize_header(source)
    ]
    return alike[0] if len(alike) == 1 else None


def _unneeded_map(path: Path, label: str, header: tuple[str, ...], column: str) -> str:
    """A map whose header is gone because the file already has the column: a results file
    of a mapped run, rerun with the same command line. Anything else is a mistake."""
    if any(columns.normalize_header(name) == column for name in header):
        return f"{label} not needed: {path.name} has a column '{column}' already."
    found = quote_list(header)
    raise InputError(f"{path}: {label}: there is no such column. Columns found: {found}.")


def _refuse_map_clashes(
    path: Path, header: tuple[str, ...], renamed: list[str], applied: dict[int, str]
) -> None:
    """A header renamed to `text` beside a `Text` column: which one to send is the user's call."""
    renames = {renamed[position]: label for position, label in applied.items()}
    for position, name in enumerate(header):
        label = renames.get(columns.normalize_header(name))
        if label is not None and position not in applied:
            raise InputError(
                f"{path}: {label}: the file has a {quote(name)} column already; "
                "rename or delete one of them."
            )


def _match_headers(path: Path, headers: Sequence[str]) -> dict[str, str]:
    known = {columns.ID, *columns.FIELDS, *columns.RESULTS, *columns.CONTEXT}
    matched: dict[str, str] = {}
    for header in headers:
        canonical = columns.normalize_header(header)
        if canonical not in known:
            continue
        if canonical in matched:
            raise InputError(
                f"{path}: columns {quote(matched[canonical])} and {quote(header)} both mean "
                f"'{canonical}'; keep one of them."
            )
        matched[canonical] = header
    if columns.ID not in matched:
        raise InputError(_no_id_message(path, headers, set(matched.values())))
    return matched


def _no_id_message(path: Path, headers: Sequence[str], matched: set[str]) -> str:
    found = quote_list(headers) or "none"
    message = (
        f"{path}: has no 'id' column (the SMS activity id, like acti_...). Columns found: {found}."
    )
    guess = columns.closest_header([h for h in headers if h not in matched], columns.ID)
    if guess is not None:
        message += f" Did you mean {quote(guess)}?"
        if len(guess) <= QUOTE_LIMIT:
            message += f' Pass --map "{guess}={columns.ID}".'
    return message
