"""`report`: an HTML report of any results file, made after the run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from batch_sms.checks.phones import parse_region
from batch_sms.checks.times import (
    QuietHours,
    parse_date_format,
    parse_quiet_hours,
    parse_timezone,
)
from batch_sms.checks.validation import CheckOptions
from batch_sms.cli import console, remembered
from batch_sms.cli.options import parsed
from batch_sms.errors import InputError, LedgerError
from batch_sms.files.rows import ReadOptions
from batch_sms.job.campaign import run_facts
from batch_sms.job.ledger import Ledger, ledger_path
from batch_sms.models import Outcome
from batch_sms.output.facts import RunFacts
from batch_sms.output.report import ReportSummary, default_report_path, write_report


@click.command(name="report")
@click.argument("results_path", metavar="RESULTS", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The HTML file to write. Default: RESULTS's name with .html, beside it "
    "(campaign.results.csv -> campaign.results.html).",
)
@click.option("--overwrite", is_flag=True, help="Replace the report if it exists. Default: refuse.")
@click.option(
    "--quiet-hours",
    metavar="HH:MM-HH:MM",
    callback=parsed(parse_quiet_hours),
    help="Shade this window of the recipients' local time, like 21:00-08:00, and count the "
    "SMS that land in it. Default: none.",
)
@click.option(
    "--timezone",
    metavar="ZONE",
    callback=parsed(parse_timezone),
    help="IANA time zone (like Europe/Berlin) of times without a UTC offset, and of "
    "recipients whose number does not tell theirs; give the run's. Default: none.",
)
@click.option(
    "--default-region",
    metavar="REGION",
    callback=parsed(parse_region),
    help="Region (like US) of phone numbers written without a leading +; give the run's. "
    "Default: none.",
)
@click.option(
    "--date-format",
    metavar="FORMAT",
    callback=parsed(parse_date_format),
    help="A strptime format of the scheduled times besides ISO 8601; give the run's. "
    "Default: ISO 8601 only.",
)
@click.option(
    "--sheet",
    metavar="NAME",
    help="The sheet to read when RESULTS is a workbook. Default: the first.",
)
@click.option(
    "--encoding",
    metavar="NAME",
    help="The text encoding of a CSV RESULTS file. Default: UTF-8.",
)
@click.pass_context
def report_command(context: click.Context, /, results_path: Path, **options: Any) -> None:
    """Make an HTML report of a RESULTS file: the outcome of every row added up, when the
    SMS land in UTC and on the recipients' clocks, their segments, and what went wrong,
    grouped by reason. The page opens offline in any browser.

    Example:

        batch-sms report campaign.results.csv

        batch-sms report campaign.results.csv --out campaign.html --quiet-hours 21:00-08:00
    """
    facts = _use_the_run(context, results_path, options)
    line = ReportLine(**options)
    out_path = line.out_path or default_report_path(results_path)
    _check_out_path(out_path, results_path, line.overwrite)
    settings = CheckOptions(line.default_region, line.timezone, line.date_format, line.quiet_hours)
    try:
        summary = write_report(
            results_path,
            out_path,
            facts,
            settings=settings,
            read_options=ReadOptions(line.sheet, line.encoding),
        )
    except InputError as error:
        raise click.BadParameter(str(error), param_hint="RESULTS") from None
    except OSError as error:
        raise click.ClickException(f"cannot write {out_path}: {error.strerror}.") from None
    click.echo(_describe(summary))
    click.echo(f"Report: {out_path}")


@dataclass(frozen=True)
class ReportLine:
    """The options of `report`, as click parsed them."""

    out_path: Path | None
    overwrite: bool
    quiet_hours: QuietHours | None
    timezone: ZoneInfo | None
    default_region: str | None
    date_format: str | None
    sheet: str | None
    encoding: str | None


def _use_the_run(
    context: click.Context, results_path: Path, options: dict[str, Any]
) -> RunFacts | None:
    """The facts and options of the run that wrote RESULTS, from its ledger beside it."""
    path = ledger_path(results_path)
    if not path.exists():
        return None
    try:
        ledger = Ledger.read(path)
    except LedgerError:
        return None
    try:
        info = ledger.info
    finally:
        ledger.close()
    taken, _ = remembered.apply_earlier(context, options, info.options, rerun=True)
    if taken:
        click.echo(f"Using the run's options: {console.join(taken)}", err=True)
    return run_facts(info, Path(info.input_path))


def _check_out_path(out_path: Path, results_path: Path, overwrite: bool) -> None:
    if out_path.resolve() == results_path.resolve():
        raise click.BadParameter("the report would overwrite the results file.", param_hint="--out")
    if out_path.exists() and not overwrite:
        raise click.BadParameter(
            f"{out_path} exists already. Choose another file with --out, or pass --overwrite.",
            param_hint="--out",
        )
    if not out_path.parent.is_dir():
        raise click.BadParameter(f"folder {out_path.parent} does not exist.", param_hint="--out")


def _describe(summary: ReportSummary) -> str:
    """`51 rows: 40 updated, 8 invalid, 2 failed, 1 skipped`."""
    order = [outcome.value for outcome in Outcome]
    counts = sorted(
        summary.outcomes.items(),
        key=lambda item: order.index(item[0]) if item[0] in order else len(order),
    )
    shown = ", ".join(f"{count:,} {outcome or '(no outcome)'}" for outcome, count in counts)
    return f"{summary.rows:,} rows: {shown}" if shown else "0 rows"
