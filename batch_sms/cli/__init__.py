"""The command line: parses options, calls the library, and turns errors into messages."""

from __future__ import annotations

import click

from batch_sms import __version__
from batch_sms.cli.crash import GuardedGroup
from batch_sms.cli.run import rerun, run
from batch_sms.cli.sandbox import sandbox_command
from batch_sms.cli.status import ExitCode

__all__ = ["ExitCode", "cli"]


@click.group(cls=GuardedGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="batch-sms")
def cli() -> None:
    """Update SMS activities in Close CRM in bulk from a CSV file: fix drafts' text, schedule
    them, or send them, then rerun only the rows that failed.

    Try it without a Close account:

        batch-sms run samples/campaign.csv --sandbox
    """


for command in (run, rerun, sandbox_command):
    cli.add_command(command)
