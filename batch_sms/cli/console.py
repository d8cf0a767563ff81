"""What a run shows in the terminal: notes on the file, the rows that will not be sent, a
progress bar on stderr, and the summary with the commands that carry on."""

from __future__ import annotations

import contextlib
import shlex
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from batch_sms.cli.interrupts import plain_ctrl_c
from batch_sms.cli.status import ExitCode
from batch_sms.job.campaign import Campaign, RunSummary
from batch_sms.job.canary import CanaryReport
from batch_sms.job.plan import Plan
from batch_sms.models import Outcome, RowResult
from batch_sms.output.safe_text import for_terminal

# Groups of failed and invalid rows shown in the summary; the results file has every row.
FAILURE_GROUPS_SHOWN = 5


def print_notes(campaign: Campaign, plan: Plan) -> None:
    """What the user should know before anything is sent."""
    table = campaign.table
    assert table is not None
    for warning in table.warnings:
        click.echo(f"Note: {for_terminal(warning)}", err=True)
    if table.ignored:
        names = ", ".join(table.ignored)
        click.echo(f"Note: columns not sent (kept in the results): {for_terminal(names)}", err=True)
    _print_rows(
        f"{plan.invalid:,} rows are invalid and will not be sent:",
        plan.first_invalid,
        plan.invalid,
        "more: see the results file.",
    )
    _print_rows(
        f"{plan.warned:,} rows fall out of GSM-7 because of a few characters:",
        plan.first_warnings,
        plan.warned,
        "more.",
    )
    canary = campaign.options.canary
    if canary is not None and not campaign.options.resume and plan.sends <= canary.rows:
        click.echo(
            f"Note: --canary {canary.rows}: this run sends {plan.sends:,} SMS, so the canary "
            "holds nothing back.",
            err=True,
        )


def _print_rows(title: str, shown: list[tuple[int, str]], total: int, rest: str) -> None:
    """A title, then the first rows as `row N: message`, then how many more there are."""
    if not total:
        return
    click.echo(title, err=True)
    for number, message in shown:
        click.echo(f"  row {number}: {for_terminal(message)}", err=True)
    if total > len(shown):
        click.echo(f"  ... and {total - len(shown):,} {rest}", err=True)


_PROGRESS_NAMES = {
    Outcome.UPDATED: "ok",
    Outcome.FAILED: "failed",
    Outcome.SKIPPED: "skipped",
    Outcome.NOT_ATTEMPTED: "not attempted",
}


# The bar's rate and ETA count the rows of the last few seconds. tqdm's own rate is an average
# of the updates between redraws: at 200 rows a second it swings with each batch of answers,
# and after Close slows down (or a 429 pause) it takes a minute to show it. Five seconds is
# several rate-limit windows, so the rate is the limit being ridden, not its ripples.
RATE_WINDOW_SECONDS = 5.0


class RecentRate:
    """Rows per second over the last `window` seconds (or since the start, if shorter)."""

    def __init__(
        self, window: float = RATE_WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic
    ):
        self.window = window
        self._clock = clock
        self._started = clock()
        self._done: deque[float] = deque()

    def row_done(self) -> None:
        now = self._clock()
        self._done.append(now)
        self._forget_before(now - self.window)

    def per_second(self) -> float | None:
        """None until a row is done, so the bar shows no rate rather than a made-up one."""
        now = self._clock()
        since = max(self._started, now - self.window)
        self._forget_before(since)
        if not self._done or now <= since:
            return None
        return len(self._done) / (now - since)

    def _forget_before(self, moment: float) -> None:
        while self._done and self._done[0] < moment:
            self._done.popleft()


class _RecentRateBar(tqdm):  # type: ignore[misc]  # tqdm ships no type hints
    """A tqdm bar whose rate, and so its ETA, is a `RecentRate`."""

    def __init__(self, *args: Any, recent: RecentRate, **kwargs: Any) -> None:
        self.recent = recent
        super().__init__(*args, **kwargs)

    @property
    def format_dict(self) -> dict[str, Any]:
        shown: dict[str, Any] = super().format_dict
        shown["rate"] = self.recent.per_second()
        return shown


@contextlib.contextmanager
def progress(
    total: int, quiet: bool, recent: RecentRate | None = None
) -> Iterator[Callable[[RowResult], None]]:
    disable = quiet or not sys.stderr.isatty()
    recent = recent or RecentRate()
    with _RecentRateBar(
        total=total, unit="row", desc="Sending", file=sys.stderr, disable=disable, recent=recent
    ) as bar:
        # ok and failed from the start, the rest once they happen: a row not attempted after
        # Ctrl-C, or skipped because Close shows it sent already, did not fail.
        counts = {Outcome.UPDATED: 0, Outcome.FAILED: 0}

        def advance(result: RowResult) -> None:
            counts[result.outcome] = counts.get(result.outcome, 0) + 1
            shown = {_PROGRESS_NAMES[outcome]: count for outcome, count in counts.items()}
            recent.row_done()
            bar.set_postfix(shown, refresh=False)
            bar.update()

        yield advance


def canary_decision(ask: bool) -> Callable[[CanaryReport], bool]:
    """The canary's report on stderr, then the decision: asked when `ask`, else go on only
    if every canary SMS is confirmed."""

    def decide(report: CanaryReport) -> bool:
        with tqdm.external_write_mode(file=sys.stderr):
            for line in report.lines():
                click.echo(line, err=True)
            if not ask:
                if not report.confirmed:
                    click.echo(
                        "Stopping: without a question, only a confirmed canary goes on.", err=True
                    )
                return report.confirmed
            with plain_ctrl_c():
                try:
                    return click.confirm("Carry on with the rest?", default=False, err=True)
                except click.Abort:
                    return False

    return decide


def print_summary(
    summary: RunSummary,
    code: ExitCode,
    resume_command: str,
    plan_lines: list[str] | None = None,
    undoable: bool = True,
) -> None:
    """Counts, the failures by reason, where the results are, and what to do next (with
    `undoable`, how to put back what the run changed)."""
    if summary.dry_run:
        click.echo("Dry run: nothing was sent. If run for real:")
        for line in summary.plan.describe() if plan_lines is None else plan_lines:
            click.echo(f"  {line}")
        click.echo(f"Results: {summary.results_path}")
        _print_report(summary)
        return  # the invalid rows were listed before
    click.echo(
        f"{summary.total_rows:,} rows in {summary.elapsed:.1f} s "
        f"({summary.rate:,.1f} rows sent per second)"
    )
    for outcome in Outcome:
        if summary.counts[outcome]:
            click.echo(f"  {outcome.value:<14}{summary.counts[outcome]:>8,}")
    if summary.results_written:
        click.echo(f"Results: {summary.results_path}")
    _print_report(summary)
    _print_failures(summary)
    _print_way_on(summary, code, resume_command)
    if undoable and summary.results_written and summary.counts[Outcome.UPDATED]:
        click.echo(
            f"To put back what this run changed: batch-sms undo {quote(summary.results_path)}"
        )


def _print_report(summary: RunSummary) -> None:
    if summary.report_path is not None:
        click.echo(f"Report: {summary.report_path}")


def _print_failures(summary: RunSummary) -> None:
    """The largest groups of failed and invalid rows: one thing that went wrong 3,000 times
    is one line."""
    groups = summary.failures
    if not groups:
        return
    click.echo("Not updated, by reason:")
    for group in groups[:FAILURE_GROUPS_SHOWN]:
        click.echo(f"  {group.describe()}")
    rest = groups[FAILURE_GROUPS_SHOWN:]
    if rest:
        rows = sum(group.count for group in rest)
        click.echo(f"  ... and {rows:,} rows for {len(rest):,} other reasons: see the results file")


def _print_way_on(summary: RunSummary, code: ExitCode, resume_command: str) -> None:
    rerun = f"batch-sms rerun {quote(summary.results_path)}"
    if code is ExitCode.INTERRUPTED:
        click.echo(
            "Interrupted: rows not started are not_attempted. Carry on with:\n"
            f"  {resume_command}\n"
            f"or retry every row not updated with: {rerun}",
            err=True,
        )
    elif code is ExitCode.ABORTED:
        click.echo(f"The run stopped early: {for_terminal(summary.aborted or '')}", err=True)
        if summary.stop_cause is not None:
            click.echo(
                "Rows not started are not_attempted; the ledger keeps every row that "
                f"finished. Carry on with:\n  {resume_command}",
                err=True,
            )
        elif summary.results_written:
            click.echo(f"To retry the rows not updated: {rerun}")
        else:
            click.echo(f"Carry on with:\n  {resume_command}", err=True)
    elif code is ExitCode.ROWS_FAILED:
        click.echo(f"To retry the rows not updated: {rerun}")


def hard_stop(ledger: Path, resume_command: str) -> str:
    """What a run stopped at once says: where its record is, and how to carry on."""
    return (
        f"\nStopped at once. Every finished row is in {ledger}; carry on with:\n  {resume_command}"
    )


def quote(path: Path | str) -> str:
    """A path as a shell takes it, so that a printed command can be copied as it is."""
    return shlex.quote(str(path))


def join(arguments: list[str]) -> str:
    """Arguments as a shell takes them."""
    return shlex.join(arguments)
