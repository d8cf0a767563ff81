"""The exit codes of batch-sms, in one place: the README documents each."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ROWS_FAILED = 1
    USAGE = 2
    ABORTED = 3
    INTERNAL = 4
    """batch-sms itself failed (a bug): the journal holds what the run did."""
    INTERRUPTED = 130
