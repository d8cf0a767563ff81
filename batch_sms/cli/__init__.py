"""The command line: parses options, calls the library, and turns errors into messages."""

from __future__ import annotations

import click

from batch_sms.cli import defaults
from batch_sms.cli.config import config_command
from batch_sms.cli.crash import GuardedGroup
from batch_sms.cli.export import export
from batch_sms.cli.report import report_command
from batch_sms.cli.run import rerun, run
from batch_sms.cli.sandbox import sandbox_command
from batch_sms.cli.status import ExitCode
from batch_sms.cli.undo import undo
from batch_sms.version import __version__

__all__ = ["ExitCode", "cli"]


@click.group(cls=GuardedGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="batch-sms")
@click.pass_context
def cli(context: click.Context) -> None:
    """Update SMS activities in Close CRM in bulk from a CSV file: fix drafts' text, schedule
    them, or send them, then rerun only the rows that failed.

    Every option can also come from an environment variable (BATCH_SMS_TIMEZONE for
    --timezone) or from batch-sms.toml (see batch-sms config).

    Try it without a Close account:

        batch-sms run samples/campaign.csv --sandbox
    """
    config = defaults.read_config(defaults.find_config())
    context.default_map = defaults.default_map(cli, config)
    context.meta[defaults.CONFIG] = config


for command in (
    run,
    rerun,
    undo,
    export,
    sandbox_command,
    report_command,
    config_command,
):
    # BATCH_SMS_TIMEZONE, not click's BATCH_SMS_RUN_TIMEZONE: one name for every command.
    command.context_settings["auto_envvar_prefix"] = defaults.ENV_PREFIX
    cli.add_command(command)
