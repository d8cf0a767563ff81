"""A whole run, without a terminal: stream the plan's rows to Close and every row, with its
result, to the results file, keeping the journal as rows start and finish.

Ctrl-C once: no new requests; those in flight finish (for at most `grace` seconds), and the
results file is written with the rest `not_attempted`. Ctrl-C twice, or the grace ends: stop at
once; the results file is not written, and the journal lets `--resume` carry on.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from batch_sms.checks.validation import Update
from batch_sms.close.client import DEFAULT_BASE_URL, CloseClient, Credentials
from batch_sms.files.tables import open_table_writer
from batch_sms.job.journal import Journal
from batch_sms.job.plan import Planner
from batch_sms.job.sender import RunSettings, Sender
from batch_sms.output.results import OrderedResults, Outcome, RowResult

# Rows held in memory while they wait for an earlier row's result; past this, reading pauses.
MAX_WAITING = 20_000


@dataclass(frozen=True)
class Connection:
    credentials: Credentials
    base_url: str = DEFAULT_BASE_URL
    timeout: float = 30.0
    transport: httpx.AsyncBaseTransport | None = None


@dataclass(frozen=True)
class JobReport:
    counts: Counter[Outcome]
    requested: int
    """Rows for which a request went to Close in this run."""
    aborted: str | None = None
    stopped: bool = False


class HardStop(Exception):
    """The run was stopped at once: no results file, the journal holds what happened."""


def write_dry_run(planner: Planner, out_path: Path) -> Counter[Outcome]:
    """The results of a dry run: every valid row is `planned`, nothing is sent."""
    table = planner.table
    with open_table_writer(out_path, OrderedResults.header(table)) as writer:
        book = OrderedResults(table, writer)
        for row, item in planner.classified():
            book.expect(row)
            if isinstance(item, Update):
                item = RowResult(row.index, Outcome.PLANNED, segments=item.segments)
            book.record(item)
        book.check_complete()
    return book.counts


def run_job(
    planner: Planner,
    connection: Connection,
    out_path: Path,
    journal: Journal,
    settings: RunSettings | None = None,
    on_result: Callable[[RowResult], None] | None = None,
    on_stopping: Callable[[], None] | None = None,
    grace: float = 35.0,
) -> JobReport:
    """Send the planner's updates and write every row's result to `out_path`. Raises
    HardStop when stopped at once; the journal is then the record of the run."""
    job = _Job(
        planner, connection, out_path, journal, settings or RunSettings(), on_result, on_stopping
    )
    try:
        return asyncio.run(job.main(grace))
    except asyncio.CancelledError:
        raise HardStop from None
    except KeyboardInterrupt:
        raise HardStop from None


class _Job:
    def __init__(
        self,
        planner: Planner,
        connection: Connection,
        out_path: Path,
        journal: Journal,
        settings: RunSettings,
        on_result: Callable[[RowResult], None] | None,
        on_stopping: Callable[[], None] | None,
    ) -> None:
        self.planner = planner
        self.connection = connection
        self.out_path = out_path
        self.journal = journal
        self.settings = settings
        self.on_result = on_result or (lambda result: None)
        self.on_stopping = on_stopping or (lambda: None)
        self.requested = 0

    async def main(self, grace: float) -> JobReport:
        table = self.planner.table
        client = CloseClient(
            self.connection.credentials,
            base_url=self.connection.base_url,
            timeout=self.connection.timeout,
            max_connections=self.settings.concurrency,
            transport=self.connection.transport,
        )
        async with client:
            with open_table_writer(self.out_path, OrderedResults.header(table)) as writer:
                book = OrderedResults(table, writer)
                sender = Sender(
                    client,
                    lambda result: self._record(book, result),
                    self.settings,
                    on_start=lambda update: self.journal.started(update.index),
                )
                with _interrupts(sender, grace, self.on_stopping):
                    report = await sender.execute(self._updates(book, sender))
                book.check_complete()
        return JobReport(book.counts, self.requested, report.aborted, report.stopped)

    def _record(self, book: OrderedResults, result: RowResult) -> None:
        if result.outcome is not Outcome.NOT_ATTEMPTED:
            self.journal.finished(result)
        if result.attempts:
            self.requested += 1
        book.record(result)
        self.on_result(result)

    async def _updates(self, book: OrderedResults, sender: Sender) -> AsyncIterator[Update | None]:
        """The updates to send, in input order; rows settled without a request go straight to
        the results. Yields None when too many rows wait for an earlier row's result: the
        sender then passes on what it holds, and reading waits until those rows are written."""
        for row in self.planner.table.rows():
            book.expect(row)
            if sender.halted:
                # Stopping: the rest only need their result, and validating them would
                # keep Ctrl-C waiting on a big file.
                book.record(self.planner.unstarted(row, sender.halt_reason))
                continue
            item = self.planner.classify(row)
            if isinstance(item, Update):
                yield item
            else:
                book.record(item)
            if book.waiting > MAX_WAITING:
                yield None
                while book.waiting > MAX_WAITING // 2:
                    await asyncio.sleep(0.01)


@contextlib.contextmanager
def _interrupts(sender: Sender, grace: float, on_stopping: Callable[[], None]) -> Iterator[None]:
    """SIGINT once stops the sender gently, twice (or after `grace` seconds) cancels the run."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None

    def interrupted() -> None:
        if sender.stopping:
            task.cancel()
            return
        sender.stop()
        on_stopping()
        timers.append(loop.call_later(grace, task.cancel))

    timers: list[asyncio.TimerHandle] = []
    try:
        loop.add_signal_handler(signal.SIGINT, interrupted)
    except (ValueError, RuntimeError, NotImplementedError):
        yield  # not the main thread, or no signals here: Ctrl-C is KeyboardInterrupt
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        for timer in timers:
            timer.cancel()
