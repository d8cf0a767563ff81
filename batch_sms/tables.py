"""Writing a table file atomically: it appears whole at its path, or not at all."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class TableWriter:
    def __init__(self, writer: Any) -> None:
        self._writer = writer

    def write_row(self, values: Sequence[str]) -> None:
        self._writer.writerow(values)


@contextmanager
def open_table_writer(path: Path, header: Sequence[str]) -> Iterator[TableWriter]:
    """A CSV file written to a temporary file beside `path` and renamed over it when the block
    ends without error; on error the temporary file is removed and `path` is untouched."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(header)
            yield TableWriter(writer)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
