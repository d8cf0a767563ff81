"""`export`: SMS from Close to a file, ready to fill in and `run`."""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import partial
from pathlib import Path
from typing import Any, NoReturn

import click
from tqdm import tqdm

from batch_sms import rules
from batch_sms.checks.times import parse_timezone
from batch_sms.cli.options import connection_options, credentials_from, parsed
from batch_sms.cli.status import ExitCode
from batch_sms.close.client import Credentials
from batch_sms.close.pacing import RateCap, parse_rate_cap
from batch_sms.errors import InputError
from batch_sms.export import ExportAborted, ExportFilters, ExportOptions, ExportReport, export_sms
from batch_sms.export.filters import ID_FILTERS, check_id, parse_when
from batch_sms.export.leads import read_lead_ids
from batch_sms.files.rows import parse_map
from batch_sms.job.stream import Connection
from batch_sms.sandbox import DEMO_SMS, Sandbox, demo_sandbox

DEFAULT_OUT = Path("sms-export.csv")


@dataclass(frozen=True)
class ExportCommandLine:
    """The `export` command's options, as click parsed them."""

    out_path: Path
    statuses: tuple[str, ...]
    user_ids: tuple[str, ...]
    lead_ids: tuple[str, ...]
    contact_ids: tuple[str, ...]
    leads_file: Path | None
    sheet: str | None
    encoding: str | None
    column_map: tuple[tuple[str, str], ...]
    created_after: str | None
    created_before: str | None
    timezone: tzinfo | None
    api_key: str | None
    oauth_token: str | None
    base_url: str
    timeout: float
    max_retries: int
    retry_wait: float
    rate_limit: RateCap | None
    sandbox: bool
    quiet: bool
    overwrite: bool


def _ids(filter_name: str, flag: str, kind: str) -> Callable[[Any], Any]:
    return click.option(
        flag,
        f"{filter_name}s",
        metavar="ID",
        multiple=True,
        callback=parsed(partial(check_id, filter_name)),
        help=f"Only SMS of this {kind} ({ID_FILTERS[filter_name]}...); repeat for several. "
        f"Default: every {kind}.",
    )


@click.command(name="export")
@click.option(
    "--out",
    "out_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=DEFAULT_OUT,
    show_default=True,
    help="The file to write: a name ending in .xlsx writes a workbook (lead links clickable), "
    "any other CSV. An existing file is refused unless --overwrite.",
)
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(rules.STATUSES),
    help="Only SMS with this status; repeat for several. Default: draft, since only drafts "
    "can be changed.",
)
@_ids("user_id", "--user-id", "user")
@_ids("lead_id", "--lead-id", "lead")
@_ids("contact_id", "--contact-id", "contact")
@click.option(
    "--leads",
    "leads_file",
    metavar="FILE",
    type=click.Path(path_type=Path),
    help="Only SMS of the leads in this CSV file or spreadsheet: its lead_id column, or an id "
    "column of lead ids (as in a lead list exported from Close). Default: none.",
)
@click.option(
    "--sheet",
    metavar="NAME",
    help="The sheet of a spreadsheet --leads file. Default: the first.",
)
@click.option(
    "--encoding",
    metavar="NAME",
    help="The text encoding of a CSV --leads file, like cp1252. Default: UTF-8.",
)
@click.option(
    "--map",
    "column_map",
    metavar='"HEADER=lead_id"',
    multiple=True,
    callback=parsed(parse_map),
    help='Read the --leads file\'s column HEADER as lead_id, like --map "Lead=lead_id". '
    "Default: a column named lead_id, else id.",
)
@click.option(
    "--created-after",
    metavar="WHEN",
    help="Only SMS created after this moment: an ISO 8601 date (from its midnight) or date and "
    "time, like 2026-01-31 or 2026-01-31T09:00:00-05:00. Default: no limit.",
)
@click.option(
    "--created-before",
    metavar="WHEN",
    help="Only SMS created before this moment (like --created-after). Default: no limit.",
)
@click.option(
    "--timezone",
    metavar="ZONE",
    callback=parsed(parse_timezone),
    help="IANA time zone (like Europe/Berlin) in which a WHEN without a UTC offset is read. "
    "Default: none, such a WHEN is refused.",
)
@connection_options
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 600),
    default=30.0,
    show_default=True,
    help="Seconds to wait for each answer from Close.",
)
@click.option(
    "--max-retries",
    type=click.IntRange(0, 100),
    default=5,
    show_default=True,
    help="Retries of a list request after a 429, 502, 503, 504 or network error (at most 2 "
    "until Close has answered once).",
)
@click.option(
    "--retry-wait",
    type=click.FloatRange(0, 600),
    default=0.5,
    show_default=True,
    help="Seconds before the first retry of an error whose answer names no wait; doubles "
    "with each retry, plus jitter.",
)
@click.option(
    "--rate-limit",
    metavar="N/SECONDS",
    callback=parsed(parse_rate_cap),
    help="Start at most N requests per SECONDS, to leave room for other integrations on the "
    "same key. Default: as fast as Close's own limit allows.",
)
@click.option(
    "--sandbox",
    is_flag=True,
    help=f"Export from a built-in stand-in for Close on this machine (no account needed), "
    f"which holds {DEMO_SMS} made-up SMS, the same each time.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or notes, only the summary.")
@click.option(
    "--overwrite", is_flag=True, help="Replace the --out file if it exists. Default: refuse."
)
def export(**options: Any) -> None:
    """Write SMS activities from Close to a file that `batch-sms run` takes as it stands.

    Each row shows an SMS as Close has it today (current_status, current_text, ..., the
    lead's address in Close) beside empty columns to fill in: status, date_scheduled, text.
    Fill in the rows to change and leave the others alone; `batch-sms run` the file, and only
    the filled-in cells are sent. Drafts only, unless --status says otherwise.

    Example:

        batch-sms export --sandbox --out drafts.xlsx

        batch-sms export --created-after 2026-01-01 --timezone Europe/Berlin

        batch-sms export --leads leads.csv --status scheduled --out sms.csv
    """
    _export(ExportCommandLine(**options))


def _export(options: ExportCommandLine) -> None:
    filters = _filters(options)
    _check_out(options.out_path, options.overwrite)
    credentials = credentials_from(
        options.api_key, options.oauth_token, required=not options.sandbox
    )
    started = time.monotonic()
    settings = ExportOptions(
        rate_cap=options.rate_limit,
        max_retries=options.max_retries,
        retry_wait=options.retry_wait,
    )
    try:
        with _sandbox_if(options.sandbox, options.quiet) as server:
            if server is not None:
                key = Credentials(api_key=server.config.api_key)
                connection = Connection(key, server.base_url, options.timeout)
            else:
                assert credentials is not None
                connection = Connection(credentials, options.base_url, options.timeout)
            with _progress(options.quiet) as on_progress:
                report = export_sms(connection, filters, options.out_path, settings, on_progress)
    except ExportAborted as error:
        _stop(f"The export stopped: {error}. Nothing was written.", ExitCode.ABORTED)
    except OSError as error:
        _stop(f"Cannot write {options.out_path}: {error}. Nothing was written.", ExitCode.ABORTED)
    except KeyboardInterrupt:
        _stop("\nInterrupted: nothing was written.", ExitCode.INTERRUPTED)
    _summary(report, filters, options.out_path, time.monotonic() - started)


def _stop(message: str, code: ExitCode) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


def _filters(options: ExportCommandLine) -> ExportFilters:
    """The filters, every one checked before any request: a mistake is a usage error."""
    lead_ids = options.lead_ids + _leads_from_file(options)
    try:
        return ExportFilters(
            statuses=options.statuses or ("draft",),
            lead_ids=lead_ids,
            contact_ids=options.contact_ids,
            user_ids=options.user_ids,
            created_after=_when(options.created_after, options.timezone, "--created-after"),
            created_before=_when(options.created_before, options.timezone, "--created-before"),
        )
    except ValueError as error:
        raise click.UsageError(f"{error}.") from None


def _leads_from_file(options: ExportCommandLine) -> tuple[str, ...]:
    if options.leads_file is None:
        for name, value in (("--sheet", options.sheet), ("--encoding", options.encoding)):
            if value:
                raise click.BadParameter("only applies to a --leads file.", param_hint=name)
        if options.column_map:
            raise click.BadParameter("only applies to a --leads file.", param_hint="--map")
        return ()
    try:
        return read_lead_ids(
            options.leads_file, options.sheet, options.encoding, options.column_map
        )
    except InputError as error:
        raise click.BadParameter(str(error), param_hint="--leads") from None


def _when(value: str | None, zone: tzinfo | None, flag: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_when(value, zone)
    except ValueError as error:
        raise click.BadParameter(f"{error}.", param_hint=flag) from None


def _check_out(path: Path, overwrite: bool) -> None:
    """Before any request: an export whose file cannot be written is time lost."""
    if path.exists() and not overwrite:
        raise click.BadParameter(
            f"{path} exists already. Choose another file, or pass --overwrite.",
            param_hint="--out",
        )
    folder = path.parent
    if not folder.is_dir():
        raise click.BadParameter(f"folder {folder} does not exist.", param_hint="--out")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise click.BadParameter(
            f"cannot write in folder {folder}: {error.strerror}.", param_hint="--out"
        ) from None


@contextlib.contextmanager
def _sandbox_if(wanted: bool, quiet: bool) -> Iterator[Sandbox | None]:
    """The stand-in for Close that `run --sandbox` starts too: the same made-up SMS, and every
    other id a draft, so that an exported file runs there as it stands."""
    if not wanted:
        yield None
        return
    with demo_sandbox() as server:
        if not quiet:
            click.echo(
                f"Sandbox: a stand-in for Close at {server.base_url}, with {DEMO_SMS} made-up SMS",
                err=True,
            )
        yield server


@contextlib.contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[int, int], None]]:
    """A bar counting the SMS found (written), and those listed, on stderr."""
    disable = quiet or not sys.stderr.isatty()
    with tqdm(unit=" SMS", desc="Exporting", file=sys.stderr, disable=disable) as bar:
        listed = 0

        def advance(written: int, more_listed: int) -> None:
            nonlocal listed
            listed += more_listed
            bar.set_postfix({"listed": listed}, refresh=False)
            bar.update(written)

        yield advance


def _summary(report: ExportReport, filters: ExportFilters, out_path: Path, seconds: float) -> None:
    statuses = ", ".join(filters.statuses)
    click.echo(
        f"{report.written:,} SMS ({statuses}) of {report.listed:,} listed, in {seconds:.1f} s "
        f"({report.requests:,} requests)"
    )
    click.echo(f"File: {out_path}")
    if report.written:
        click.echo(
            "Next: fill in status, date_scheduled or text in the rows to change (leave the "
            f"others as they are), then: batch-sms run {out_path}"
        )
