"""The errors batch-sms raises on purpose, under one base class.

Each message is written for the person running the tool: it says what is wrong and how to go
on. The command line turns them into exit codes in one place (`batch_sms.cli.status`).
"""

from __future__ import annotations

from pathlib import Path


class BatchSmsError(Exception):
    """Base class of every error batch-sms raises on purpose."""


class InputError(BatchSmsError):
    """The input file cannot be used as it is; the message says why and how to fix it."""


class OptionError(BatchSmsError):
    """An option's value cannot be used; `option` names it as the command line spells it."""

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


class LedgerError(OptionError):
    """The run's ledger cannot be used as asked (an unfinished run, another input, none to
    resume)."""


class RunRefused(OptionError):
    """The run would do something it was told not to (more sends than --max-sends, overwrite
    results), or another run of the same file is under way. Nothing was sent."""


class RunInterrupted(BatchSmsError):
    """The run was stopped at once (a second Ctrl-C): no results file was written, and the
    ledger holds every row that finished."""

    def __init__(self, ledger: Path) -> None:
        super().__init__(f"stopped at once; every finished row is in {ledger}")
        self.ledger = ledger
