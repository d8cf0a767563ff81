"""What every input format hands on: records of text cells with their row numbers, and the
error that says a file cannot be used."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import NamedTuple

from batch_sms.errors import InputError

__all__ = ["MAX_ROW_NUMBER", "NO_PROBLEMS", "InputError", "Record"]

# The last row a spreadsheet has (Excel, LibreOffice): no genuine input has more rows, and a
# file that claims more is damaged or built to make batch-sms read forever.
MAX_ROW_NUMBER = 1_048_576

NO_PROBLEMS: Mapping[int, str] = MappingProxyType({})


class Record(NamedTuple):
    """One row of the file as read, before rows.py gives its cells a meaning."""

    number: int
    """The row's number as the spreadsheet shows it (a CSV file's first record is row 1)."""
    cells: Sequence[str]
    """Each cell as the text the user sees; a sparse spreadsheet row may be shorter."""
    problems: Mapping[int, str] = NO_PROBLEMS
    """Cell position -> why its text cannot be trusted (a formula never calculated): the row
    must not be sent with that cell, empty as its text may look."""
