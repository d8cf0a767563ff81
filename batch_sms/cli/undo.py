"""`undo`: put back what a run changed, as a run of its own (plan, confirmation, dry run,
ledger, --resume, results file, exit codes). The library (`batch_sms.job.undo`) does the work."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from batch_sms.cli import console
from batch_sms.cli.interrupts import run_until_done
from batch_sms.cli.options import (
    connection_options,
    credentials_from,
    halt_option,
    option_bundle,
    rate_limit_option,
    sending_options,
)
from batch_sms.cli.status import ExitCode, Stop, exit_code, fail_on_errors
from batch_sms.close.client import Credentials
from batch_sms.errors import RunInterrupted
from batch_sms.job.campaign import Campaign, RunOptions, RunSummary
from batch_sms.job.putback import describe_undo
from batch_sms.job.sender import SendOptions
from batch_sms.job.stream import Connection
from batch_sms.job.undo import Undo

undo_options = option_bundle(
    click.option(
        "--out",
        "out_path",
        type=click.Path(path_type=Path, dir_okay=False),
        help="The undo's results file. Default: beside RESULTS, campaign.results.csv giving "
        "campaign.undo.results.csv.",
    ),
    click.option(
        "--overwrite",
        is_flag=True,
        help="Replace the undo's results file if it exists (to undo again what an earlier "
        "undo left). Default: refuse.",
    ),
    click.option(
        "--resume",
        is_flag=True,
        help="Carry on an undo of RESULTS that was stopped or crashed: rows it put back are "
        "kept. Default: start the undo.",
    ),
    connection_options,
    sending_options,
    rate_limit_option,
    halt_option,
    click.option(
        "--dry-run",
        is_flag=True,
        help="Write what the undo would do (planned rows); read and change nothing in Close.",
    ),
    click.option(
        "--yes", "-y", is_flag=True, help="Undo without asking for confirmation. Default: ask."
    ),
    click.option("--quiet", "-q", is_flag=True, help="No progress bar or notes, only the summary."),
)


@click.command()
@click.argument("results_path", metavar="RESULTS", type=click.Path(path_type=Path))
@undo_options
def undo(results_path: Path, **options: Any) -> None:
    """Put back what the run whose results are RESULTS changed, where Close still allows it.

    An SMS the run scheduled, or put in the outbox and not yet sent, goes back to draft
    with the text and phones it had before; a draft the run edited gets its earlier text and
    phones back. An SMS already sent cannot be undone, and one changed in Close since the
    run is left alone: both are reported. Nothing is ever sent.

    It needs RESULTS.ledger, which the run wrote beside RESULTS, and writes what it will do
    to campaign.undo.csv beside RESULTS (for campaign.results.csv), then its results to
    campaign.undo.results.csv.

    Example:

        batch-sms undo campaign.results.csv --dry-run

        batch-sms undo campaign.results.csv
    """
    with fail_on_errors():
        credentials = credentials_from(
            options["api_key"], options["oauth_token"], required=not options["dry_run"]
        )
        with Undo(results_path, _run_options(options)) as job:
            summary, plan_lines = _plan_and_go(job, options, credentials)
    code = exit_code(summary)
    resume = _resume_command(results_path, options)
    console.print_summary(summary, code, resume, plan_lines, undoable=False)
    sys.exit(code)


def _plan_and_go(
    job: Undo, options: dict[str, Any], credentials: Credentials | None
) -> tuple[RunSummary, list[str]]:
    campaign = job.campaign
    assert campaign is not None
    plan = campaign.plan()
    lines = describe_undo(job.counts)
    if plan.carried_over:
        lines.append(f"{plan.carried_over:,} rows were put back by the undo being resumed: kept")
    if not options["quiet"]:
        click.echo(f"Undo of {job.results_path}, as written to {job.input_path}:", err=True)
        for line in lines:
            click.echo(f"  {line}", err=True)
    if options["dry_run"]:
        return campaign.dry_run(), lines
    if plan.updates and not options["yes"]:
        _confirm(plan.updates)
    assert credentials is not None
    connection = Connection(credentials, options["base_url"], options["timeout"])
    return _send(job, campaign, connection, options), lines


def _send(
    job: Undo, campaign: Campaign, connection: Connection, options: dict[str, Any]
) -> RunSummary:
    with console.progress(campaign.plan().updates, options["quiet"]) as on_result:
        try:
            return run_until_done(
                campaign,
                campaign.send(connection, on_result),
                grace=2 * connection.timeout + 5,
            )
        except RunInterrupted as interrupted:
            resume = _resume_command(job.results_path, options)
            raise Stop(
                ExitCode.INTERRUPTED, console.hard_stop(interrupted.ledger, resume)
            ) from None


def _run_options(options: dict[str, Any]) -> RunOptions:
    return RunOptions(
        out_path=options["out_path"],
        overwrite=options["overwrite"],
        resume=options["resume"],
        dry_run=options["dry_run"],
        send=SendOptions(
            concurrency=options["concurrency"],
            max_retries=options["max_retries"],
            retry_wait=options["retry_wait"],
            rate_cap=options["rate_limit"],
        ),
        halt=options["halt_on_failures"],
    )


def _resume_command(results_path: Path, options: dict[str, Any]) -> str:
    out = f" --out {console.quote(options['out_path'])}" if options["out_path"] else ""
    return f"batch-sms undo {console.quote(results_path)}{out} --resume"


def _confirm(updates: int) -> None:
    if not sys.stdin.isatty():
        raise click.UsageError(
            f"This undo would change {updates:,} SMS and there is no terminal to confirm it. "
            "Pass --yes to undo, or --dry-run to see what it would do."
        )
    if not click.confirm("Put them back?", default=False, err=True):
        raise Stop(ExitCode.ABORTED, "Nothing was changed.")
