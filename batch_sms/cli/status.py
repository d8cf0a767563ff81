"""The exit codes of batch-sms, decided in one place: the README documents each."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from enum import IntEnum

import click

from batch_sms.errors import InputError, OptionError, RunInterrupted
from batch_sms.job.campaign import RunSummary


class ExitCode(IntEnum):
    OK = 0
    ROWS_FAILED = 1
    USAGE = 2
    ABORTED = 3
    INTERNAL = 4
    """batch-sms itself failed (a bug): the journal holds what the run did."""
    INTERRUPTED = 130


def exit_code(summary: RunSummary) -> ExitCode:
    """What a finished run tells the shell."""
    if summary.stopped:
        return ExitCode.INTERRUPTED
    if summary.aborted or not summary.results_written:
        return ExitCode.ABORTED
    if summary.unfinished:
        return ExitCode.ROWS_FAILED
    return ExitCode.OK


class Stop(Exception):
    """The command ends here, with this code, after saying `message` (on stderr): the user
    declined, pressed Ctrl-C before anything was sent, or a run was stopped at once."""

    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@contextlib.contextmanager
def fail_on_errors() -> Iterator[None]:
    """The library's errors as the command line shows them: a user's mistake is a usage error
    (exit 2) naming the option or file; a run stopped at once exits 130."""
    try:
        yield
    except OptionError as error:
        raise click.BadParameter(str(error), param_hint=error.option) from None
    except InputError as error:
        raise click.BadParameter(str(error), param_hint="INPUT") from None
    except RunInterrupted as error:
        click.echo(f"\nStopped at once. Every finished row is in {error.ledger}.", err=True)
        raise SystemExit(ExitCode.INTERRUPTED) from None
    except Stop as stop:
        click.echo(stop.message, err=True)
        raise SystemExit(stop.code) from None
    except KeyboardInterrupt:
        # Ctrl-C during a send is the campaign's (an orderly stop); here, nothing was sent.
        click.echo("\nInterrupted before sending: nothing was sent.", err=True)
        raise SystemExit(ExitCode.INTERRUPTED) from None
