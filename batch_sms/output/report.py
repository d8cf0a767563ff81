"""The campaign report: one self-contained HTML page made from a results file.

    write_report(Path("campaign.results.csv"), Path("campaign.report.html"))

The results file is streamed once and added up (`ReportBuilder.add`), never kept: a report of a
100,000-row file takes seconds and the memory of its counts. The page needs nothing but itself:
charts are inline SVG (see charts.py for why no charting library), there is no script at all,
and its Content-Security-Policy forbids the browser to fetch anything. Every value from the file
is escaped.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from batch_sms.checks.validation import DEFAULT_CHECKS, CheckOptions
from batch_sms.errors import InputError
from batch_sms.files.rows import ReadOptions, read_table
from batch_sms.models import RowResult, SourceRow
from batch_sms.output import page
from batch_sms.output.deliveries import Kind
from batch_sms.output.facts import ResultsFile, RunFacts
from batch_sms.output.tally import ResultsTally
from batch_sms.version import __version__

__all__ = [
    "ReportBuilder",
    "ReportSummary",
    "ResultsFile",
    "RunFacts",
    "default_report_path",
    "file_sha256",
    "write_report",
]


@dataclass(frozen=True)
class ReportSummary:
    """What the report shows, in numbers: for the terminal, and for tests."""

    path: Path
    rows: int
    outcomes: dict[str, int]
    sent_now: int
    scheduled: int
    edited: int
    segments: int
    in_quiet_hours: int
    unknown_zone: int
    dry_run: bool


class ReportBuilder:
    """Adds up rows as they come (from a results file, or from a run as it goes) and renders
    the page. `now` places the SMS sent "now" whose time the rows do not tell."""

    def __init__(self, now: datetime, settings: CheckOptions = DEFAULT_CHECKS) -> None:
        self.tally = ResultsTally(now, settings)

    def add(self, row: SourceRow) -> None:
        """A row read from a results file."""
        self.tally.add(row.number, row.previous_outcome, row.cells)

    def add_result(self, row: SourceRow, result: RowResult) -> None:
        """An input row with the result a run gave it."""
        self.tally.add(row.number, result.outcome.value, {**row.cells, **result.cells()})

    def render(
        self,
        facts: RunFacts | None = None,
        results: ResultsFile | None = None,
        made_at: datetime | None = None,
    ) -> str:
        made_at = made_at or datetime.now(UTC)
        return page.render_page(self.tally, facts, results, made_at, __version__)

    def write(
        self, path: Path, facts: RunFacts | None = None, results: ResultsFile | None = None
    ) -> ReportSummary:
        """Render the page and write it to `path` (a half-written page never shows there)."""
        _write_atomically(path, self.render(facts, results))
        return self.summary(path, facts.dry_run if facts else None)

    def summary(self, path: Path, dry_run: bool | None = None) -> ReportSummary:
        """The report's figures; `dry_run` as the run said, else as the rows tell."""
        tally = self.tally
        landings = tally.landings(dry_run)
        deliveries = landings.deliveries
        return ReportSummary(
            path=path,
            rows=tally.rows,
            outcomes=dict(tally.outcomes),
            sent_now=deliveries.counts[Kind.NOW],
            scheduled=deliveries.counts[Kind.SCHEDULED],
            edited=landings.edited,
            segments=landings.segments.total,
            in_quiet_hours=deliveries.in_quiet_hours,
            unknown_zone=sum(deliveries.unknown_zone),
            dry_run=tally.dry_run if dry_run is None else dry_run,
        )


def write_report(
    results_path: Path,
    out_path: Path,
    facts: RunFacts | None = None,
    *,
    settings: CheckOptions = DEFAULT_CHECKS,
    read_options: ReadOptions | None = None,
) -> ReportSummary:
    """Read a results file (CSV or spreadsheet) and write its report to `out_path`.

    `settings` reads the cells as the run did: --timezone and --date-format for scheduled
    times without offset, --default-region for national phone numbers, --quiet-hours to shade.
    InputError when the file cannot be read or is not a results file."""
    table = read_table(results_path, read_options or ReadOptions())
    if not table.is_results_file:
        raise InputError(
            f"{results_path} has no 'outcome' column, so it is not a results file of "
            f"batch-sms. Make one with: batch-sms run {results_path} --dry-run (nothing is "
            "sent), then report on the results file it writes."
        )
    results = ResultsFile(results_path, file_sha256(results_path), _modified_at(results_path))
    builder = ReportBuilder(facts.started_at if facts else results.modified_at, settings)
    for row in table.rows():
        builder.add(row)
    return builder.write(out_path, facts, results)


def default_report_path(results_path: Path) -> Path:
    """`campaign.results.csv` -> `campaign.results.html`, beside it."""
    return results_path.with_suffix(".html")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _modified_at(path: Path) -> datetime:
    """When the results file was written: a run renames it into place as it ends."""
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def _write_atomically(path: Path, text: str) -> None:
    """A half-written page never appears under the report's name."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
