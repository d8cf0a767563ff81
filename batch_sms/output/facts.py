"""What a report says of the run and of the file it was made from, beside the rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class RunFacts:
    """What the run knew about itself, that its results file does not say."""

    command: str
    """`run`, `rerun` or `undo`."""
    input_path: Path
    input_sha256: str
    started_at: datetime
    finished_at: datetime | None
    options: tuple[tuple[str, str], ...]
    """(option, value) of the options that matter, like ("--quiet-hours", "21:00-08:00")."""
    version: str
    requests: int | None
    """Requests made to Close, read-backs and the preflight's reads included."""
    rate_per_second: float | None
    """Requests per second reached while sending."""
    dry_run: bool


@dataclass(frozen=True)
class ResultsFile:
    """The results file the report was made from."""

    path: Path
    sha256: str
    modified_at: datetime
