"""Reading the input spreadsheet into rows of text cells, with headers matched to known columns."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from batch_sms import columns

# The spreadsheet row number of the first data row: row 1 is the header.
FIRST_ROW_NUMBER = 2


class InputError(Exception):
    """The input file cannot be used as it is; the message says why and how to fix it."""


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
    """Every cell of the row is empty, the columns batch-sms ignores included."""


@dataclass(frozen=True)
class InputTable:
    """An input file read as text, with its headers matched to the columns batch-sms knows."""

    path: Path
    frame: pd.DataFrame
    headers: dict[str, str]
    """Canonical column name -> the header as written in the file, for known columns only."""
    ignored: tuple[str, ...]
    """Headers that are neither an SMS field nor a results column: kept, never sent."""

    @property
    def is_results_file(self) -> bool:
        return "outcome" in self.headers

    def header(self, column: str) -> str:
        """How the user wrote a column's header, for messages that name it."""
        return self.headers.get(column, column)

    def rows(self) -> Iterator[SourceRow]:
        order = list(self.frame.columns)
        known = [column for column in self.headers if column != "outcome"]
        positions = [order.index(self.headers[column]) for column in known]
        outcome_at = order.index(self.headers["outcome"]) if self.is_results_file else None
        for index, values in enumerate(self.frame.itertuples(index=False, name=None)):
            blank = not any(value.strip() for value in values)
            cells = {
                column: values[at].strip() for column, at in zip(known, positions, strict=True)
            }
            yield SourceRow(
                index=index,
                number=index + FIRST_ROW_NUMBER,
                activity_id=cells.pop(columns.ID),
                cells=cells,
                previous_outcome=values[outcome_at].strip() if outcome_at is not None else "",
                blank=blank,
            )


def read_table(path: Path) -> InputTable:
    """Read a CSV file with every cell as text: no number or date guessing, no lost zeros."""
    frame = _read_csv(path)
    _refuse_repeated_headers(path)
    headers = _match_headers(path, [str(header) for header in frame.columns])
    known_headers = set(headers.values())
    ignored = tuple(str(h) for h in frame.columns if h not in known_headers)
    return InputTable(path=path, frame=frame, headers=headers, ignored=ignored)


def _read_csv(path: Path) -> pd.DataFrame:
    if path.suffix.lower() in {".xlsx", ".xls", ".ods"}:
        raise InputError(f"{path}: spreadsheet files are not read yet; save the sheet as CSV.")
    try:
        return pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            encoding="utf-8-sig",
            # A blank line is a row in the user's spreadsheet too: keeping it keeps the row
            # numbers in messages equal to the ones the user sees.
            skip_blank_lines=False,
        )
    except FileNotFoundError:
        raise InputError(f"{path}: no such file.") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a CSV file.") from None
    except PermissionError:
        raise InputError(f"{path}: cannot be read (permission denied).") from None
    except UnicodeDecodeError:
        raise InputError(
            f"{path}: is not UTF-8 text ({_first_non_utf8(path)}). "
            "Save it as 'CSV UTF-8' and try again."
        ) from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: is empty; it needs a header row with an 'id' column.") from None
    except pd.errors.ParserError as error:
        raise InputError(f"{path}: is not a well-formed CSV file: {error}".strip()) from None


def _refuse_repeated_headers(path: Path) -> None:
    """pandas renames a repeated header `text` to `text.1`, which would silently ignore the
    second column: the user should choose. So the file's own header row is checked."""
    with path.open(encoding="utf-8-sig", newline="") as stream:
        written = next(csv.reader(stream), [])
    seen: set[str] = set()
    for header in written:
        if header in seen:
            raise InputError(f"{path}: has two columns named '{header}'; keep one of them.")
        seen.add(header)


def _first_non_utf8(path: Path) -> str:
    """Where the first byte that is not UTF-8 is, for a message the user can act on (the
    decoder's own offset is relative to the chunk it was reading)."""
    content = path.read_bytes()
    try:
        content.decode("utf-8")
    except UnicodeDecodeError as error:
        line = content.count(b"\n", 0, error.start) + 1
        return f"byte 0x{content[error.start]:02x} on line {line}"
    return "undecodable bytes"


def _match_headers(path: Path, headers: list[str]) -> dict[str, str]:
    known = {columns.ID, *columns.FIELDS, *columns.RESULTS}
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
        found = ", ".join(f"'{h}'" for h in headers) or "none"
        raise InputError(
            f"{path}: has no 'id' column (the SMS activity id, like acti_...). "
            f"Columns found: {found}."
        )
    return matched
