"""Reading the input file into rows of text cells, with headers matched to known columns.

The file is streamed: `read_table` reads only its header, and each call of `InputTable.rows()`
reads it again from the start, a chunk at a time, so a million rows fit in little memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl.utils import get_column_letter

from batch_sms.files import columns
from batch_sms.files.sources import InputError, Source, ignored_options, open_source

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

# The spreadsheet row number of the first data row: row 1 is the header.
FIRST_ROW_NUMBER = 2

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


@dataclass(frozen=True)
class SourceRow:
    """One input row: its position, its cells by canonical column name, and the outcome a
    previous run gave it when the input is a results file."""

    index: int
    number: int
    activity_id: str
    cells: dict[str, str]
    previous_outcome: str
    blank: bool = False
    """Every cell of the row is empty, the columns batch-sms ignores included; a results
    file's own columns are not counted, so that a skipped empty row stays skipped on a rerun."""
    values: tuple[str, ...] = ()
    """Every cell as read, aligned with `InputTable.columns`, for the results file."""
    exported: bool = False
    """The row comes from a file `batch-sms export` wrote (it has the context columns): a row
    left as exported changes nothing on purpose."""


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
        for index, record in enumerate(self.source.records()):
            values = self._fit(record, index + FIRST_ROW_NUMBER)
            cells = {column: values[at].strip() for column, at in known.items()}
            yield SourceRow(
                index=index,
                number=index + FIRST_ROW_NUMBER,
                activity_id=cells.pop(columns.ID),
                cells=cells,
                previous_outcome=values[outcome_at].strip() if outcome_at is not None else "",
                blank=not any(values[at].strip() for at in inputs),
                values=values,
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
                    f"{self.path}: row {number} has '{record[position]}' in column "
                    f"{_column_name(position)}, which has no header. Give the column a "
                    "header (any name: batch-sms keeps columns it does not know) or clear it."
                )
        return tuple(record[:width]) + ("",) * (width - len(record))


def read_table(path: Path, options: ReadOptions = ReadOptions()) -> InputTable:  # noqa: B008
    """Open an input file (CSV, .xlsx, .xls, .ods) and check its header; reads no row yet."""
    source = open_source(path, options.sheet, options.encoding, options.chunk_rows)
    written = _used_header(path, source.header)
    renamed, map_notes = _apply_map(path, written, options.column_map)
    headers = _match_headers(path, renamed)
    known_headers = set(headers.values())
    return InputTable(
        path=path,
        columns=renamed,
        headers=headers,
        ignored=tuple(header for header in renamed if header not in known_headers),
        warnings=source.warnings
        + ignored_options(path, options.sheet, options.encoding)
        + map_notes,
        source=source,
        file_headers=written,
    )


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
        raise InputError(f"'{text}' is not HEADER=COLUMN, like \"Activity ID=id\".")
    return header.strip(), column.strip()


def _column_name(position: int) -> str:
    return f"{position + 1} ({get_column_letter(position + 1)})"


def _used_header(path: Path, header: Sequence[str]) -> tuple[str, ...]:
    """The header without the empty cells that end it (a spreadsheet's formatted but unused
    columns, a CSV's trailing comma); refuses repeated or missing headers."""
    width = len(header)
    while width and not header[width - 1].strip():
        width -= 1
    used = tuple(header[:width])
    seen: set[str] = set()
    for position, name in enumerate(used):
        if not name.strip():
            raise InputError(
                f"{path}: column {_column_name(position)} has no header; give it one (any "
                "name: batch-sms keeps columns it does not know) or delete the column."
            )
        if name in seen:
            raise InputError(f"{path}: has two columns named '{name}'; keep one of them.")
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
        label = f"--map '{source}={target}'"
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
            raise InputError(f"{path}: {applied[position]} and {label} both rename '{source}'.")
        applied[position] = label
        renamed[position] = column
    _refuse_map_clashes(path, header, renamed, applied)
    return tuple(renamed), tuple(notes)


def _map_target(path: Path, label: str, target: str) -> str:
    column = columns.normalize_header(target)
    if column not in MAPPABLE:
        raise InputError(
            f"{path}: {label}: '{target}' is not a column batch-sms knows. "
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
    found = ", ".join(f"'{name}'" for name in header)
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
                f"{path}: {label}: the file has a '{name}' column already; "
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
                f"{path}: columns '{matched[canonical]}' and '{header}' both mean "
                f"'{canonical}'; keep one of them."
            )
        matched[canonical] = header
    if columns.ID not in matched:
        raise InputError(_no_id_message(path, headers, set(matched.values())))
    return matched


def _no_id_message(path: Path, headers: Sequence[str], matched: set[str]) -> str:
    found = ", ".join(f"'{h}'" for h in headers) or "none"
    message = (
        f"{path}: has no 'id' column (the SMS activity id, like acti_...). Columns found: {found}."
    )
    guess = columns.closest_header([h for h in headers if h not in matched], columns.ID)
    if guess is not None:
        message += f" Did you mean '{guess}'? Pass --map \"{guess}={columns.ID}\"."
    return message
