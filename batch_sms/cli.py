"""The command line: parses options, calls the library, and turns errors into messages."""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click
from tqdm import tqdm

from batch_sms import __version__
from batch_sms.close import DEFAULT_BASE_URL, Credentials
from batch_sms.job import Connection, new_book, send_plan, settle_unknown
from batch_sms.plan import Plan, make_plan, planned_results
from batch_sms.results import Outcome, ResultBook, RowResult, default_results_path, write_results
from batch_sms.rows import InputError, InputTable, read_table
from batch_sms.runner import RunReport, RunSettings
from batch_sms.sandbox import Sandbox, SandboxConfig

F = TypeVar("F", bound=Callable[..., Any])

MAX_INVALID_SHOWN = 10


class ExitCode(IntEnum):
    OK = 0
    ROWS_FAILED = 1
    USAGE = 2
    ABORTED = 3
    INTERRUPTED = 130


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="batch-sms")
def cli() -> None:
    """Update SMS activities in Close CRM in bulk from a CSV file: fix drafts' text, schedule
    them, or send them, then rerun only the rows that failed.

    Try it without a Close account:

        batch-sms run samples/campaign.csv --sandbox
    """


def _check_base_url(context: click.Context, param: click.Parameter, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.BadParameter(
            f"'{value}' is not an http(s) URL, like {DEFAULT_BASE_URL}", context, param
        )
    return value


def _option_bundle(*options: Callable[[F], F]) -> Callable[[F], F]:
    """Options shared by commands, applied in the order they are listed (sqlite-utils style)."""

    def apply(command: F) -> F:
        for option in reversed(options):
            command = option(command)
        return command

    return apply


connection_options = _option_bundle(
    click.option(
        "--api-key",
        envvar="CLOSE_API_KEY",
        show_envvar=True,
        help="Close API key (sent as HTTP Basic user name). Default: none.",
    ),
    click.option(
        "--oauth-token",
        envvar="CLOSE_OAUTH_TOKEN",
        show_envvar=True,
        help="OAuth access token, instead of an API key. Default: none.",
    ),
    click.option(
        "--base-url",
        envvar="CLOSE_BASE_URL",
        show_envvar=True,
        default=DEFAULT_BASE_URL,
        show_default=True,
        callback=_check_base_url,
        help="Close API base URL.",
    ),
)

sending_options = _option_bundle(
    click.option(
        "--concurrency",
        type=click.IntRange(1, 256),
        default=8,
        show_default=True,
        help="Requests in flight at once.",
    ),
    click.option(
        "--timeout",
        type=click.FloatRange(0.1, 600),
        default=30.0,
        show_default=True,
        help="Seconds to wait for each answer from Close.",
    ),
    click.option(
        "--max-retries",
        type=click.IntRange(0, 100),
        default=5,
        show_default=True,
        help="Retries per row after a 429, 5xx or network error (a row that sends an SMS "
        "is retried only when Close cannot have acted on it).",
    ),
    click.option(
        "--retry-wait",
        type=click.FloatRange(0, 600),
        default=0.5,
        show_default=True,
        help="Seconds before the first retry of an error whose answer names no wait; "
        "doubles with each retry, plus jitter.",
    ),
)


@cli.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Results file. Default: INPUT's name with .results.csv, beside it "
    "(a rerun of x.results.csv writes x.results-2.csv).",
)
@click.option(
    "--overwrite", is_flag=True, help="Replace the results file if it exists. Default: refuse."
)
@connection_options
@sending_options
@click.option(
    "--dry-run", is_flag=True, help="Validate and write the results as planned; send nothing."
)
@click.option(
    "--yes", "-y", is_flag=True, help="Send without asking for confirmation. Default: ask."
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or notes, only the summary.")
@click.option(
    "--sandbox",
    is_flag=True,
    help="Run against a built-in stand-in for Close on this machine (no account needed); "
    "the input's ids exist there as drafts, except ids containing 'missing'.",
)
def run(
    input_path: Path,
    out_path: Path | None,
    overwrite: bool,
    api_key: str | None,
    oauth_token: str | None,
    base_url: str,
    concurrency: int,
    timeout: float,
    max_retries: int,
    retry_wait: float,
    dry_run: bool,
    yes: bool,
    quiet: bool,
    sandbox: bool,
) -> None:
    """Update the SMS activities listed in INPUT, one row per activity.

    INPUT is a CSV file with an `id` column and the fields to change (text, status,
    date_scheduled, ...); empty cells leave a field unchanged. A results file from an earlier
    run is a valid INPUT: rows it shows as updated are kept, the others are tried again.

    Example:

        batch-sms run samples/campaign.csv --sandbox

        batch-sms run campaign.csv --dry-run

        CLOSE_API_KEY=... batch-sms run campaign.csv
    """
    table = _read_input(input_path)
    out_path = _results_path(input_path, out_path, overwrite)
    credentials = _credentials(api_key, oauth_token, required=not (dry_run or sandbox))
    plan = make_plan(table, now=datetime.now(UTC))
    if not quiet:
        _note_ignored(table)
    _report_invalid(plan, table, quiet)
    if dry_run:
        _finish_dry_run(table, plan, out_path)
    if plan.sends and not (yes or sandbox):
        _confirm_sends(plan)
    settings = RunSettings(concurrency, max_retries, retry_wait)
    with _sandbox_if(sandbox, plan, quiet) as server:
        if server is not None:
            credentials = Credentials(api_key=server.config.api_key)
            base_url = server.base_url
        assert credentials is not None
        connection = Connection(credentials, base_url, timeout)
        _send_and_report(table, plan, connection, settings, out_path, quiet)


def _read_input(path: Path) -> InputTable:
    try:
        return read_table(path)
    except InputError as error:
        raise click.BadParameter(str(error), param_hint="INPUT") from None


def _results_path(input_path: Path, out_path: Path | None, overwrite: bool) -> Path:
    path = out_path or default_results_path(input_path)
    if path.resolve() == input_path.resolve():
        raise click.BadParameter("the results would overwrite the input file.", param_hint="--out")
    if path.exists() and not overwrite:
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
        raise click.UsageError(
            "No credentials: set CLOSE_API_KEY (or pass --api-key, or --oauth-token). "
            "To try the tool without a Close account, add --sandbox."
        )
    return Credentials(api_key=api_key or None, oauth_token=oauth_token or None)


def _note_ignored(table: InputTable) -> None:
    if table.ignored:
        names = ", ".join(table.ignored)
        click.echo(f"Note: columns not sent (kept in the results): {names}", err=True)


def _report_invalid(plan: Plan, table: InputTable, quiet: bool) -> None:
    if not plan.invalid or quiet:
        return
    click.echo(f"{len(plan.invalid):,} rows are invalid and will not be sent:", err=True)
    for row in plan.invalid[:MAX_INVALID_SHOWN]:
        click.echo(f"  row {row.number}: {row.describe(table.header)}", err=True)
    hidden = len(plan.invalid) - MAX_INVALID_SHOWN
    if hidden > 0:
        click.echo(f"  ... and {hidden:,} more: see the results file.", err=True)


def _finish_dry_run(table: InputTable, plan: Plan, out_path: Path) -> None:
    book = new_book(plan)
    book.record_all(planned_results(plan))
    write_results(table, book.in_order(), out_path)
    click.echo("Dry run: nothing was sent. If run for real:")
    for line in plan.describe():
        click.echo(f"  {line}")
    click.echo(f"Results: {out_path}")
    sys.exit(ExitCode.ROWS_FAILED if plan.invalid else ExitCode.OK)


def _confirm_sends(plan: Plan) -> None:
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
def _sandbox_if(wanted: bool, plan: Plan, quiet: bool) -> Iterator[Sandbox | None]:
    """A sandbox for this run, in which the plan's ids exist as drafts; None when not wanted."""
    if not wanted:
        yield None
        return
    with Sandbox(SandboxConfig()) as server:
        server.seed_drafts(update.activity_id for update in plan.updates)
        if not quiet:
            click.echo(f"Sandbox: a stand-in for Close at {server.base_url}", err=True)
        yield server


def _send_and_report(
    table: InputTable,
    plan: Plan,
    connection: Connection,
    settings: RunSettings,
    out_path: Path,
    quiet: bool,
) -> None:
    book = new_book(plan)
    started = time.monotonic()
    report: RunReport | None = None
    try:
        with _progress(len(plan.updates), quiet) as on_result:
            report = send_plan(plan, connection, book, settings, on_result)
    except KeyboardInterrupt:
        click.echo("\nInterrupted: rows not yet sent were not attempted.", err=True)
    finally:
        settle_unknown(plan, book)
        write_results(table, book.in_order(), out_path)
    this_run = {update.index for update in plan.updates}
    sent = sum(1 for result in book if result.index in this_run and result.attempts)
    _print_summary(book, sent, time.monotonic() - started, out_path)
    sys.exit(_exit_code(book, report))


@contextlib.contextmanager
def _progress(total: int, quiet: bool) -> Iterator[Callable[[RowResult], None]]:
    disable = quiet or not sys.stderr.isatty()
    with tqdm(total=total, unit="row", desc="Sending", file=sys.stderr, disable=disable) as bar:
        counts = {"ok": 0, "failed": 0}

        def advance(result: RowResult) -> None:
            counts["ok" if result.outcome is Outcome.UPDATED else "failed"] += 1
            bar.set_postfix(counts, refresh=False)
            bar.update()

        yield advance


def _print_summary(book: ResultBook, sent: int, elapsed: float, out_path: Path) -> None:
    counts = book.counts()
    rate = sent / elapsed if elapsed > 0 else 0.0
    click.echo(f"{book.total_rows:,} rows in {elapsed:.1f} s ({rate:,.1f} rows sent per second)")
    for outcome in Outcome:
        if counts[outcome]:
            click.echo(f"  {outcome.value:<14}{counts[outcome]:>8,}")
    click.echo(f"Results: {out_path}")
    if _unfinished(book):
        click.echo(f"To retry the rows not updated: batch-sms run {out_path}")


def _exit_code(book: ResultBook, report: RunReport | None) -> ExitCode:
    if report is None:
        return ExitCode.INTERRUPTED
    if report.aborted:
        click.echo(f"The run stopped early: {report.aborted}", err=True)
        return ExitCode.ABORTED
    return ExitCode.ROWS_FAILED if _unfinished(book) else ExitCode.OK


def _unfinished(book: ResultBook) -> int:
    """Rows that a rerun of the results would try again."""
    counts = book.counts()
    return counts[Outcome.INVALID] + counts[Outcome.FAILED] + counts[Outcome.NOT_ATTEMPTED]


@cli.command(name="sandbox")
@click.argument("seed_files", metavar="[INPUT]...", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port on 127.0.0.1 (0: any free port).",
)
@click.option(
    "--rate-limit",
    metavar="N/SECONDS",
    help="Allow N requests per window of SECONDS per endpoint, like Close. Default: no limit.",
)
@click.option(
    "--latency-ms",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="Delay added to every answer.",
)
@click.option(
    "--fail-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of requests answered 503 Service Unavailable.",
)
@click.option(
    "--any-id",
    is_flag=True,
    help="Every id exists as a draft, no INPUT needed (except ids containing 'missing'). "
    "Default: only the INPUT files' ids.",
)
def sandbox_command(
    seed_files: tuple[Path, ...],
    port: int,
    rate_limit: str | None,
    latency_ms: float,
    fail_rate: float,
    any_id: bool,
) -> None:
    """Run the built-in stand-in for Close's SMS API in the foreground, until Ctrl-C.

    The ids of the INPUT files exist in it as drafts (except ids containing 'missing').
    GET /_sandbox/stats answers how many requests got which status code.

    Example:

        batch-sms sandbox samples/campaign.csv --rate-limit 40/1

        batch-sms run samples/campaign.csv --yes --api-key sandbox_api_key \\
            --base-url http://127.0.0.1:8765/api/v1/
    """
    limit, window = parse_rate_limit_option(rate_limit) if rate_limit else (None, 1.0)
    config = SandboxConfig(
        rate_limit=limit,
        rate_window=window,
        latency_ms=latency_ms,
        fail_rate=fail_rate,
        keep_log=False,
        any_id=any_id,
    )
    server = Sandbox(config, port=port)
    for path in seed_files:
        server.seed_drafts(row.activity_id for row in _read_input(path).rows())
    try:
        server.start()
    except OSError as error:
        raise click.BadParameter(
            f"cannot listen on port {port}: {error.strerror}", param_hint="--port"
        ) from None
    click.echo(f"Sandbox listening at {server.base_url}")
    click.echo(f"API key: {config.api_key}  (or Bearer token: {config.oauth_token})")
    click.echo("Press Ctrl-C to stop.")
    server.serve_forever()


def parse_rate_limit_option(value: str) -> tuple[int, float]:
    """`40/1` -> (40, 1.0): N requests per window of SECONDS."""
    count, _, seconds = value.partition("/")
    try:
        limit, window = int(count), float(seconds or "1")
    except ValueError:
        limit, window = 0, 0.0
    if limit < 1 or window <= 0:
        raise click.BadParameter(
            f"'{value}' is not N/SECONDS, like 40/1.", param_hint="--rate-limit"
        )
    return limit, window
