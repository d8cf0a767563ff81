"""What the user sees when batch-sms itself fails: a short message saying what happened and
where the record of the run is, and exit code 4, instead of a traceback and the exit code 1
that also means "some rows failed". BATCH_SMS_DEBUG=1 shows the traceback."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from batch_sms.cli.status import ExitCode
from batch_sms.output.safe_text import MAX_MESSAGE, for_terminal

DEBUG_ENV = "BATCH_SMS_DEBUG"
_LEDGER = "batch_sms.ledger"


def remember_ledger(path: Path) -> None:
    """Note where the running command's ledger is (or will be), for the message if it
    crashes."""
    context = click.get_current_context(silent=True)
    if context is not None:
        context.meta[_LEDGER] = path


def crash_message(error: BaseException, ledger: Path | None) -> str:
    what = for_terminal(f"{type(error).__name__}: {error}".rstrip(": "), MAX_MESSAGE)
    lines = [f"batch-sms stopped on an unexpected error, a bug: {what}"]
    if ledger is None or not ledger.exists():
        lines.append("Nothing was sent.")
    else:
        lines.append(
            f"Every row finished so far is in the ledger {ledger}: run the same command "
            "with --resume to carry on; rows that were in flight are read back from Close."
        )
    lines.append(f"To see the traceback, run it again with {DEBUG_ENV}=1.")
    return "\n".join(lines)


class GuardedGroup(click.Group):
    """A click group whose commands' crashes end in `crash_message` and ExitCode.INTERNAL."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as error:
            if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
                raise
            click.echo(crash_message(error, ctx.meta.get(_LEDGER)), err=True)
            ctx.exit(ExitCode.INTERNAL)
