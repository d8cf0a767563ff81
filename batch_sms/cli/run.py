"""`run` and `rerun`: a campaign from a file, with its plan, confirmation and summary."""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from tqdm import tqdm

from batch_sms.checks.times import QuietHours
from batch_sms.checks.validation import ValidationSettings
from batch_sms.cli.crash import remember_journal
from batch_sms.cli.options import prompt_for_api_key, run_options
from batch_sms.cli.status import ExitCode
from batch_sms.close.client import Credentials
from batch_sms.close.pacing import RateCap
from batch_sms.files.rows import (
    InputError,
    InputTable,
    ReadOptions,
    SourceRow,
    read_table,
)
from batch_sms.job.journal import (
    Journal,
    JournalError,
    Recovered,
    fingerprint,
    journal_path,
    recover,
)
from batch_sms.job.plan import Plan, Planner, make_plan
from batch_sms.job.sender import RunSettings
from batch_sms.job.stream import Connection, HardStop, JobReport, run_job, write_dry_run
from batch_sms.output.results import Outcome, RowResult, default_results_path
from batch_sms.output.safe_text import for_terminal
from batch_sms.sandbox.server import Sandbox, SandboxConfig


@dataclass(frozen=True)
class RunOptions:
    """The `run` command's options, as click parsed them."""

    out_path: Path | None
    overwrite: bool
    resume: bool
    sheet: str | None
    encoding: str | None
    column_map: tuple[tuple[str, str], ...]
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
    rate_limit: RateCap | None
    no_preflight: bool
    max_sends: int | None
    dry_run: bool
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
    _run(input_path, RunOptions(**options))


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
    run_options = RunOptions(**options)
    table = _read_input(results_path, _read_options(run_options))
    if not table.is_results_file:
        raise click.BadParameter(
            f"{results_path} has no 'outcome' column, so it is not a results file. "
            f"To send it, use: batch-sms run {results_path}",
            param_hint="RESULTS",
        )
    _run(results_path, run_options, table)


def _run(input_path: Path, options: RunOptions, table: InputTable | None = None) -> None:
    table = table or _read_input(input_path, _read_options(options))
    out_path = _results_path(input_path, options)
    credentials = _credentials(
        options.api_key, options.oauth_token, required=not (options.dry_run or options.sandbox)
    )
    settings = _run_settings(options)
    recovered = _recover(input_path, out_path, options)
    now = datetime.now(UTC)

    def planner() -> Planner:
        return Planner(table, now, _validation_settings(options), recovered)

    with _interrupts_before_sending():
        plan = _make_plan(planner(), options.quiet)
        if options.dry_run:
            _finish_dry_run(planner(), plan, out_path)
        _check_sends(plan, options)
        journal = _open_journal(input_path, out_path, options.resume)
    with _sandbox_if(options.sandbox, options.quiet) as server:
        connection = _connection(options, credentials, server)
        _send_and_report(
            planner(), plan, connection, settings, out_path, journal, options, input_path
        )


@contextlib.contextmanager
def _interrupts_before_sending() -> Iterator[None]:
    """Ctrl-C while the file is checked: nothing was sent, and no traceback is due."""
    try:
        yield
    except KeyboardInterrupt:
        click.echo("\nInterrupted before sending: nothing was sent.", err=True)
        sys.exit(ExitCode.INTERRUPTED)


def _validation_settings(options: RunOptions) -> ValidationSettings:
    return ValidationSettings(
        options.default_region,
        options.timezone,
        options.date_format,
        options.quiet_hours,
        options.max_segments,
    )


def _run_settings(options: RunOptions) -> RunSettings:
    return RunSettings(
        concurrency=options.concurrency,
        max_retries=options.max_retries,
        retry_wait=options.retry_wait,
        rate_cap=options.rate_limit,
        preflight=not options.no_preflight,
    )


def _connection(
    options: RunOptions, credentials: Credentials | None, server: Sandbox | None
) -> Connection:
    if server is not None:
        return Connection(
            Credentials(api_key=server.config.api_key), server.base_url, options.timeout
        )
    assert credentials is not None
    return Connection(credentials, options.base_url, options.timeout)


def _recover(input_path: Path, out_path: Path, options: RunOptions) -> Recovered | None:
    """What the journal of an unfinished run holds, with --resume. Without it, a journal
    that is there refuses the run: starting over would forget what it sent."""
    path = journal_path(out_path)
    try:
        if not options.resume:
            if not options.dry_run:
                Journal.refuse_unfinished(path)
            return None
        return recover(path, input_path, fingerprint(input_path))
    except JournalError as error:
        hint = "--resume" if options.resume else "--out"
        raise click.BadParameter(str(error), param_hint=hint) from None


def _open_journal(input_path: Path, out_path: Path, resume: bool) -> Journal:
    path = journal_path(out_path)
    try:
        if resume:
            # `_recover` has read the journal and checked the input's fingerprint already.
            journal = Journal.append(path)
        else:
            journal = Journal.create(path, input_path, fingerprint(input_path))
    except JournalError as error:
        raise click.BadParameter(str(error), param_hint="--out") from None
    remember_journal(path, journal.close)
    return journal


def _make_plan(planner: Planner, quiet: bool) -> Plan:
    try:
        plan = make_plan(planner)
    except InputError as error:
        raise click.BadParameter(str(error), param_hint="INPUT") from None
    if not quiet:
        _note_warnings(planner.table)
        _note_ignored(planner.table)
        _report_invalid(plan)
        _report_warnings(plan)
    return plan


def _read_options(options: RunOptions) -> ReadOptions:
    return ReadOptions(options.sheet, options.encoding, options.column_map)


def _read_input(path: Path, options: ReadOptions) -> InputTable:
    try:
        return read_table(path, options)
    except InputError as error:
        raise click.BadParameter(str(error), param_hint="INPUT") from None


def _note_warnings(table: InputTable) -> None:
    for warning in table.warnings:
        click.echo(f"Note: {for_terminal(warning)}", err=True)


def _rows(table: InputTable) -> Iterator[SourceRow]:
    """The table's rows, with a fault found mid-file (a ragged line) as a usage error."""
    try:
        yield from table.rows()
    except InputError as error:
        raise click.BadParameter(str(error), param_hint="INPUT") from None


def _results_path(input_path: Path, options: RunOptions) -> Path:
    path = options.out_path or default_results_path(input_path)
    if path.resolve() == input_path.resolve():
        raise click.BadParameter("the results would overwrite the input file.", param_hint="--out")
    if path.exists() and not (options.overwrite or options.resume):
        raise click.BadParameter(
            f"{path} exists already. Choose another file with --out, or pass --overwrite.",
            param_hint="--out",
        )
    _check_writable(path.parent)
    return path


def _check_writable(folder: Path) -> None:
    """Find out before sending anything: results that cannot be written are results lost."""
    if not folder.is_dir():
        raise click.BadParameter(f"folder {folder} does not exist.", param_hint="--out")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise click.BadParameter(
            f"cannot write in folder {folder}: {error.strerror}.", param_hint="--out"
        ) from None


def _credentials(
    api_key: str | None, oauth_token: str | None, required: bool
) -> Credentials | None:
    if not required:
        return None
    if api_key and oauth_token:
        raise click.UsageError("Give --api-key or --oauth-token, not both.")
    if not (api_key or oauth_token):
        api_key = prompt_for_api_key()
    if not (api_key or oauth_token):
        raise click.UsageError(
            "No credentials: set CLOSE_API_KEY (or pass --api-key-file, --api-key, or "
            "--oauth-token). To try the tool without a Close account, add --sandbox."
        )
    return Credentials(api_key=api_key or None, oauth_token=oauth_token or None)


def _note_ignored(table: InputTable) -> None:
    if table.ignored:
        names = ", ".join(table.ignored)
        click.echo(f"Note: columns not sent (kept in the results): {for_terminal(names)}", err=True)


def _report_invalid(plan: Plan) -> None:
    title = f"{plan.invalid:,} rows are invalid and will not be sent:"
    _report_rows(title, plan.first_invalid, plan.invalid, "more: see the results file.")


def _report_warnings(plan: Plan) -> None:
    _report_rows(
        f"{plan.warned:,} rows fall out of GSM-7 because of a few characters:",
        plan.first_warnings,
        plan.warned,
        "more.",
    )


def _report_rows(title: str, shown: list[tuple[int, str]], total: int, rest: str) -> None:
    """A title, then the first rows as `row N: message`, then how many more there are."""
    if not total:
        return
    click.echo(title, err=True)
    for number, message in shown:
        click.echo(f"  row {number}: {for_terminal(message)}", err=True)
    if total > len(shown):
        click.echo(f"  ... and {total - len(shown):,} {rest}", err=True)


def _finish_dry_run(planner: Planner, plan: Plan, out_path: Path) -> None:
    write_dry_run(planner, out_path)
    click.echo("Dry run: nothing was sent. If run for real:")
    for line in plan.describe():
        click.echo(f"  {line}")
    click.echo(f"Results: {out_path}")
    sys.exit(ExitCode.ROWS_FAILED if plan.invalid else ExitCode.OK)


def _check_sends(plan: Plan, options: RunOptions) -> None:
    """Refuse more sends than --max-sends, and ask before sending unless told not to."""
    if options.max_sends is not None and plan.sends > options.max_sends:
        raise click.UsageError(
            f"This run would send {plan.sends:,} SMS, more than --max-sends {options.max_sends:,}."
            " Nothing was sent."
        )
    if not plan.sends or options.yes or options.sandbox:
        return
    if not sys.stdin.isatty():
        raise click.UsageError(
            f"This run would send {plan.sends:,} SMS and there is no terminal to confirm it. "
            "Pass --yes to send, or --dry-run to see the plan."
        )
    for line in plan.describe():
        click.echo(line, err=True)
    if not click.confirm("Go ahead?", default=False, err=True):
        click.echo("Nothing was sent.", err=True)
        sys.exit(ExitCode.ABORTED)


@contextlib.contextmanager
def _sandbox_if(wanted: bool, quiet: bool) -> Iterator[Sandbox | None]:
    """A sandbox for this run, in which every id exists as a draft (but those containing
    "missing"), so that the file need not be read once more to seed it; None when not wanted."""
    if not wanted:
        yield None
        return
    with Sandbox(SandboxConfig(any_id=True)) as server:
        if not quiet:
            click.echo(f"Sandbox: a stand-in for Close at {server.base_url}", err=True)
        yield server


def _send_and_report(
    planner: Planner,
    plan: Plan,
    connection: Connection,
    settings: RunSettings,
    out_path: Path,
    journal: Journal,
    options: RunOptions,
    input_path: Path,
) -> None:
    started = time.monotonic()

    def stopping() -> None:
        click.echo(
            "\nStopping: no new requests; waiting for those in flight "
            "(Ctrl-C again to stop at once).",
            err=True,
        )

    try:
        with _progress(plan.updates, options.quiet) as on_result:
            report = run_job(
                planner,
                connection,
                out_path,
                journal,
                settings,
                on_result,
                stopping,
                # Requests in flight end within the timeout; a read-back may follow.
                grace=2 * connection.timeout + 5,
            )
    except HardStop:
        journal.close()
        click.echo(
            f"\nStopped at once. Every finished row is in {journal.path}; carry on with:\n"
            f"  batch-sms run {input_path} --out {out_path} --resume",
            err=True,
        )
        sys.exit(ExitCode.INTERRUPTED)
    if report.stopped or report.aborted:
        journal.close()
    else:
        journal.remove()
    _print_summary(report, plan.total_rows, time.monotonic() - started, out_path)
    sys.exit(_exit_code(report, input_path, out_path))


_PROGRESS_NAMES = {
    Outcome.UPDATED: "ok",
    Outcome.FAILED: "failed",
    Outcome.SKIPPED: "skipped",
    Outcome.NOT_ATTEMPTED: "not attempted",
}


@contextlib.contextmanager
def _progress(total: int, quiet: bool) -> Iterator[Callable[[RowResult], None]]:
    disable = quiet or not sys.stderr.isatty()
    with tqdm(total=total, unit="row", desc="Sending", file=sys.stderr, disable=disable) as bar:
        # ok and failed from the start, the rest once they happen: a row not attempted after
        # Ctrl-C, or skipped because Close shows it sent already, did not fail.
        counts = {Outcome.UPDATED: 0, Outcome.FAILED: 0}

        def advance(result: RowResult) -> None:
            counts[result.outcome] = counts.get(result.outcome, 0) + 1
            shown = {_PROGRESS_NAMES[outcome]: count for outcome, count in counts.items()}
            bar.set_postfix(shown, refresh=False)
            bar.update()

        yield advance


def _print_summary(report: JobReport, total_rows: int, elapsed: float, out_path: Path) -> None:
    rate = report.requested / elapsed if elapsed > 0 else 0.0
    click.echo(f"{total_rows:,} rows in {elapsed:.1f} s ({rate:,.1f} rows sent per second)")
    for outcome in Outcome:
        if report.counts[outcome]:
            click.echo(f"  {outcome.value:<14}{report.counts[outcome]:>8,}")
    click.echo(f"Results: {out_path}")


def _exit_code(report: JobReport, input_path: Path, out_path: Path) -> ExitCode:
    if report.stopped:
        click.echo(
            "Interrupted: rows not started are not_attempted. Carry on with:\n"
            f"  batch-sms run {input_path} --out {out_path} --resume\n"
            f"or retry every row not updated with: batch-sms rerun {out_path}",
            err=True,
        )
        return ExitCode.INTERRUPTED
    if report.aborted:
        click.echo(f"The run stopped early: {for_terminal(report.aborted)}", err=True)
        click.echo(f"To retry the rows not updated: batch-sms rerun {out_path}")
        return ExitCode.ABORTED
    if _unfinished(report.counts):
        click.echo(f"To retry the rows not updated: batch-sms rerun {out_path}")
        return ExitCode.ROWS_FAILED
    return ExitCode.OK


def _unfinished(counts: Counter[Outcome]) -> int:
    """Rows that a rerun of the results would try again."""
    return counts[Outcome.INVALID] + counts[Outcome.FAILED] + counts[Outcome.NOT_ATTEMPTED]
