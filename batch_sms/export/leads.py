"""Lead ids from a CSV file or a spreadsheet, for `export --leads FILE`: a `lead_id` column, or
an `id` column of lead ids (a lead list exported from Close has one)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from batch_sms.errors import InputError
from batch_sms.export.filters import check_id, unique
from batch_sms.files.columns import normalize_header
from batch_sms.files.sources import open_source

LEAD_ID = "lead_id"
CHUNK_ROWS = 10_000


def read_lead_ids(
    path: Path,
    sheet: str | None = None,
    encoding: str | None = None,
    column_map: Sequence[tuple[str, str]] = (),
) -> tuple[str, ...]:
    """Every lead id of the file, once each, in file order. InputError names the row and
    column of a value that is not a lead id, or the columns found when none holds them."""
    source = open_source(path, sheet, encoding, CHUNK_ROWS)
    header = [_renamed(path, name, column_map) for name in source.header]
    at = _lead_column(path, header, (record.cells for record in source.records()))
    ids = []
    for record in source.records():
        number, cells = record.number, record.cells
        value = cells[at].strip() if at < len(cells) else ""
        if not value:
            continue
        try:
            ids.append(check_id(LEAD_ID, value))
        except ValueError as error:
            column = source.header[at]
            raise InputError(f"{path}: row {number}, column '{column}': {error}.") from None
    if not ids:
        raise InputError(f"{path}: column '{source.header[at]}' holds no lead id.")
    return unique(ids)


def _renamed(path: Path, name: str, column_map: Sequence[tuple[str, str]]) -> str:
    for header, column in column_map:
        if normalize_header(column) != LEAD_ID:
            raise InputError(
                f"{path}: --map '{header}={column}': a --leads file has one column to map, "
                f'{LEAD_ID}; like --map "{header}={LEAD_ID}".'
            )
        if normalize_header(header) == normalize_header(name):
            return LEAD_ID
    return name


def _lead_column(path: Path, header: list[str], records: Iterable[Sequence[str]]) -> int:
    """Where the lead ids are: `lead_id`, else `id` when its first value is a lead id."""
    names = [normalize_header(name) for name in header]
    if LEAD_ID in names:
        return names.index(LEAD_ID)
    if "id" in names:
        at = names.index("id")
        values = (record[at].strip() for record in records if at < len(record))
        if next((value for value in values if value), "").startswith("lead_"):
            return at
    found = ", ".join(f"'{name}'" for name in header) or "none"
    raise InputError(
        f"{path}: has no {LEAD_ID} column (nor an id column of lead ids, lead_...). Columns "
        f'found: {found}. Pass --map "HEADER={LEAD_ID}" to name the column.'
    )
