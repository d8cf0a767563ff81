"""`run` and `rerun`: a campaign from a file, with its plan, confirmation and summary.

The library (`batch_sms.job.campaign`) does the work; this module turns options into its
arguments, shows the plan, asks, shows progress, and turns the summary into an exit code.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from batch_sms.checks.times import QuietHours
from batch_sms.checks.validation import CheckOptions
from batch_sms.cli import console, remembered
from batch_sms.cli.crash import remember_ledger
from batch_sms.cli.interrupts import run_until_done
from batch_sms.cli.options import credentials_from, run_options
from batch_sms.cli.status import ExitCode, Stop, exit_code, fail_on_errors
from batch_sms.close.client import Credentials
from batch_sms.close.pacing import RateCap
from batch_sms.errors import RunInterrupted
from batch_sms.files.rows import ReadOptions
from batch_sms.job.campaign import Campaign, RunOptions, RunSummary
from batch_sms.job.canary import CanaryOptions
from batch_sms.job.halt import HaltRule
from batch_sms.job.ledger import ledger_path
from batch_sms.job.sender import SendOptions
from batch_sms.job.stream import Connection
from batch_sms.output.results import default_results_path
from batch_sms.sandbox import Sandbox, demo_sandbox


@dataclass(frozen=True)
class CommandLine:
    """The options of `run` and `rerun`, as click parsed them."""

    out_path: Path | None
    overwrite: bool
    resume: bool
    sheet: str | None
    encoding: str | None
    column_map: tuple[tuple[str, str], ...]
    header_row: int | None
    api_key: str | None
    oauth_token: str | None
    base_url: str
    concurrency: int
    timeout: float
    max_retries: int
    retry_wait: float
    default_region: str | None
    timezone: ZoneInfo | None
    date_format: str | None
    quiet_hours: QuietHours | None
    max_segments: int | None
    allow_placeholders: bool
    rate_limit: RateCap | None
    no_preflight: bool
    max_sends: int | None
    allow_duplicate_recipients: bool
    canary_rows: int | None
    canary_wait: float
    halt_on_failures: HaltRule | None
    dry_run: bool
    report_path: Path | None
    yes: bool
    quiet: bool
    sandbox: bool


@click.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@run_options
def run(input_path: Path, **options: Any) -> None:
    """Update the SMS activities listed in INPUT, one row per activity.

    INPUT is a CSV file or a spreadsheet (.xlsx, .xls, .ods) with an `id` column and the
    fields to change (text, status, date_scheduled, ...); empty cells leave a field
    unchanged. A results file from an earlier run is a valid INPUT: rows it shows as updated
    are kept, the others are tried again.

    Example:

        batch-sms run samples/campaign.csv --sandbox

        batch-sms run campaign.csv --dry-run

        CLOSE_API_KEY=... batch-sms run campaign.xlsx --map "Activity ID=id"
    """
    _run(input_path, options, "run")


@click.command()
@click.argument("results_path", metavar="RESULTS", type=click.Path(path_type=Path))
@run_options
def rerun(results_path: Path, **options: Any) -> None:
    """Try again the rows of an earlier run's RESULTS file that were not updated.

    Rows shown as updated are kept as they are; invalid rows fixed by hand in the file are
    validated again; rows that may have been sent are read back from Close first. The new
    results file again holds every row.

    Example:

        batch-sms rerun campaign.results.csv
    """
    _run(results_path, options, "rerun")


def _run(input_path: Path, options: dict[str, Any], command: str) -> None:
    context = click.get_current_context()
    with fail_on_errors():
        _use_earlier_options(context, input_path, options, command)
        line = CommandLine(**options)
        credentials = credentials_from(
            line.api_key, line.oauth_token, required=not (line.dry_run or line.sandbox)
        )
        run_options = replace(run_options_of(line, command), recorded=remembered.recorded(context))
        campaign = Campaign(input_path, run_options)
        remember_ledger(ledger_path(campaign.results_path))
        with campaign:
            try:
                summary = _plan_and_go(campaign, line, credentials)
            except RunInterrupted as interrupted:
                resume = _resume_command(campaign, line)
                message = console.hard_stop(interrupted.ledger, resume)
                raise Stop(ExitCode.INTERRUPTED, message) from None
    code = exit_code(summary)
    console.print_summary(summary, code, _resume_command(campaign, line))
    sys.exit(code)


def _use_earlier_options(
    context: click.Context, input_path: Path, options: dict[str, Any], command: str
) -> None:
    """A rerun or a resume continues an earlier run: its options hold unless given again."""
    if options["resume"]:
        results = options["out_path"] or default_results_path(input_path)
        earlier = ledger_path(results)
    elif command == "rerun":
        earlier = ledger_path(input_path)
    else:
        return
    recorded = remembered.earlier_options(earlier)
    taken, changed = remembered.apply_earlier(context, options, recorded, command == "rerun")
    if taken and not options["quiet"]:
        click.echo(f"Using the earlier run's options: {console.join(taken)}", err=True)
    if changed and not options["quiet"]:
        click.echo(
            f"Note: {console.join(changed)} differs from the earlier run: it applies to the "
            "rows not yet done; rows the earlier run settled are kept as they are.",
            err=True,
        )


def _resume_command(campaign: Campaign, line: CommandLine) -> str:
    """The command that carries on this run where it stopped: the ledger holds its options,
    and a run that was told --yes has been approved already."""
    words = [
        "batch-sms",
        campaign.options.command,
        str(campaign.input_path),
        "--out",
        str(campaign.results_path),
        "--resume",
    ]
    return console.join(words + (["--yes"] if line.yes else []))


def _plan_and_go(
    campaign: Campaign, line: CommandLine, credentials: Credentials | None
) -> RunSummary:
    plan = campaign.plan()
    if not line.quiet:
        console.print_notes(campaign, plan)
    if line.dry_run:
        return campaign.dry_run()
    campaign.refuse_excess(plan)
    if plan.sends and not (line.yes or line.sandbox):
        _confirm(plan.describe(), plan.sends)
    with _sandbox_if(line.sandbox, line.quiet) as server:
        connection = _connection(line, credentials, server)
        with console.progress(plan.updates, line.quiet) as on_result:
            # A terminal is asked about the canary; --yes (or no terminal) goes on only if
            # every canary SMS is confirmed.
            ask = sys.stdin.isatty() and not line.yes
            return run_until_done(
                campaign,
                campaign.send(connection, on_result, console.canary_decision(ask)),
                # Requests in flight end within the timeout; a read-back may follow.
                grace=2 * connection.timeout + 5,
            )


def run_options_of(line: CommandLine, command: str) -> RunOptions:
    return RunOptions(
        out_path=line.out_path,
        overwrite=line.overwrite,
        resume=line.resume,
        dry_run=line.dry_run,
        max_sends=line.max_sends,
        allow_duplicate_recipients=line.allow_duplicate_recipients,
        read=ReadOptions(line.sheet, line.encoding, line.column_map, header_row=line.header_row),
        check=CheckOptions(
            line.default_region,
            line.timezone,
            line.date_format,
            line.quiet_hours,
            line.max_segments,
            line.allow_placeholders,
        ),
        send=SendOptions(
            concurrency=line.concurrency,
            max_retries=line.max_retries,
            retry_wait=line.retry_wait,
            rate_cap=line.rate_limit,
            preflight=not line.no_preflight,
        ),
        command=command,
        report_path=line.report_path,
        canary=CanaryOptions(line.canary_rows, line.canary_wait) if line.canary_rows else None,
        halt=line.halt_on_failures,
    )


def _confirm(plan_lines: list[str], sends: int) -> None:
    if not sys.stdin.isatty():
        raise click.UsageError(
            f"This run would send {sends:,} SMS and there is no terminal to confirm it. "
            "Pass --yes to send, or --dry-run to see the plan."
        )
    for line in plan_lines:
        click.echo(line, err=True)
    if not click.confirm("Go ahead?", default=False, err=True):
        raise Stop(ExitCode.ABORTED, "Nothing was sent.")


def _connection(
    line: CommandLine, credentials: Credentials | None, server: Sandbox | None
) -> Connection:
    if server is not None:
        return Connection(Credentials(api_key=server.config.api_key), server.base_url, line.timeout)
    assert credentials is not None
    return Connection(credentials, line.base_url, line.timeout)


@contextlib.contextmanager
def _sandbox_if(wanted: bool, quiet: bool) -> Iterator[Sandbox | None]:
    """A sandbox for this run, in which every id exists as a draft (but those that stand for
    missing ones), so that the file need not be read once more to seed it, and the made-up SMS
    that `export --sandbox` lists are there as they were exported; None if unwanted."""
    if not wanted:
        yield None
        return
    with demo_sandbox() as server:
        if not quiet:
            click.echo(f"Sandbox: a stand-in for Close at {server.base_url}", err=True)
        yield server
