"""Streaming a planned run: the plan's rows to Close, and every row, with its result, to the
results file, keeping the ledger as rows start and finish.

`stop()` (the first Ctrl-C) starts no new requests; those in flight finish and the results file
is written with the rest `not_attempted`. Cancelling the task (a second Ctrl-C) stops at once:
the results file is not written, and the ledger lets `--resume` carry on.

A write that fails (a full disk) is an orderly stop too: nothing new is sent, what can still be
recorded is, and the ledger is the way on.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx

from batch_sms.close.client import DEFAULT_BASE_URL, CloseClient, Credentials
from batch_sms.close.pacing import Halted
from batch_sms.files.rows import FIRST_ROW_NUMBER
from batch_sms.files.tables import open_table_writer, permissions_of
from batch_sms.job import canary as canaries
from batch_sms.job.canary import CanaryGate, CanaryReport
from batch_sms.job.halt import FailureWatch, HaltRule
from batch_sms.job.ledger import Ledger
from batch_sms.job.plan import Planner
from batch_sms.job.recipients import RecipientBook, held_back, sheet_recipient
from batch_sms.job.sender import Sender, SendOptions
from batch_sms.models import Evidence, Outcome, RowResult, Update
from batch_sms.output.failures import FailureGroup, FailureTally
from batch_sms.output.results import OrderedResults

# Rows held in memory while they wait for an earlier row's result; past this, reading pauses.
MAX_WAITING = 20_000


@dataclass(frozen=True)
class Connection:
    """Where a run sends, and as whom."""

    credentials: Credentials
    base_url: str = DEFAULT_BASE_URL
    timeout: float = 30.0
    transport: httpx.AsyncBaseTransport | None = None


class StopCause(StrEnum):
    """Why a run stopped in order on its own, so that `--resume` is the way on."""

    CANARY = "canary"
    """The canary was not approved."""
    FAILURES = "failures"
    """--halt-on-failures tripped."""


@dataclass(frozen=True)
class StreamReport:
    counts: Counter[Outcome]
    requested: int
    """Rows for which a request went to Close in this run."""
    aborted: str | None = None
    stopped: bool = False
    results_written: bool = True
    failures: tuple[FailureGroup, ...] = ()
    """The failed and invalid rows by reason, largest group first."""
    canary: CanaryReport | None = None
    stop_cause: StopCause | None = None


class _WriteFailed(Exception):
    """The results file could not be written to the end: it is discarded, the ledger stays."""


def write_dry_run(
    planner: Planner, out_path: Path, recipients: RecipientBook | None = None
) -> tuple[Counter[Outcome], tuple[FailureGroup, ...]]:
    """The results of a dry run: every valid row is `planned`, nothing is sent. With
    `recipients`, a row to a number the sheet gave an earlier row is `skipped`: the only
    repeats a dry run can see, since it does not read Close. Returns the counts by outcome
    and the invalid rows by reason."""
    table = planner.table
    failures = FailureTally()
    mode = permissions_of(table.path)
    with open_table_writer(out_path, OrderedResults.header(table), mode=mode) as writer:
        book = OrderedResults(table, writer)
        for row, item in planner.classified():
            book.expect(row)
            if isinstance(item, Update):
                item = _planned(item, recipients)
            book.record(item)
            failures.add(row.number, item)
        book.check_complete()
    return book.counts, tuple(failures.groups())


def _planned(update: Update, recipients: RecipientBook | None) -> RowResult:
    number = sheet_recipient(update) or ""
    if number and recipients is not None:
        earlier = recipients.claim(number, update.number)
        if earlier is not None:
            return held_back(update, earlier, number)
    return RowResult(update.index, Outcome.PLANNED, segments=update.segments, recipient_e164=number)


class Stream:
    """One pass of a run over its file: send the planner's updates, record every result."""

    def __init__(
        self,
        planner: Planner,
        connection: Connection,
        out_path: Path,
        ledger: Ledger,
        settings: SendOptions,
        on_result: Callable[[RowResult], None] | None = None,
        recipients: RecipientBook | None = None,
        canary: CanaryGate | None = None,
        halt: HaltRule | None = None,
    ) -> None:
        self.planner = planner
        self.recipients = recipients
        self.connection = connection
        self.out_path = out_path
        self.ledger = ledger
        self.settings = settings
        self.on_result = on_result or (lambda result: None)
        self.requested = 0
        self._sender: Sender | None = None
        self._write_failure: str | None = None
        self._results_broken = False
        self._stop_asked = False
        self.canary = canary
        self.failures = FailureTally()
        self._watch = FailureWatch(halt) if halt is not None else None
        self.stop_cause: StopCause | None = None

    def stop(self) -> None:
        """No new requests; those in flight finish and the rest are `not_attempted`."""
        self._stop_asked = True
        if self._sender is not None:
            self._sender.stop()

    @property
    def stopping(self) -> bool:
        return self._stop_asked

    async def run(self) -> StreamReport:
        client = CloseClient(
            self.connection.credentials,
            base_url=self.connection.base_url,
            timeout=self.connection.timeout,
            max_connections=self.settings.concurrency,
            transport=self.connection.transport,
        )
        async with client:
            try:
                return await self._run(client)
            except _WriteFailed:
                counts = Counter(result.outcome for result in self.ledger.results())
                aborted = self._write_failure
                return self._report(counts, aborted, results_written=False)

    def _report(
        self,
        counts: Counter[Outcome],
        aborted: str | None,
        stopped: bool = False,
        results_written: bool = True,
    ) -> StreamReport:
        canary = self.canary.report if self.canary is not None else None
        failures = tuple(self.failures.groups())
        return StreamReport(
            counts,
            self.requested,
            aborted,
            stopped,
            results_written,
            failures,
            canary,
            self.stop_cause,
        )

    async def _run(self, client: CloseClient) -> StreamReport:
        table = self.planner.table
        mode = permissions_of(table.path)
        with open_table_writer(self.out_path, OrderedResults.header(table), mode=mode) as writer:
            book = OrderedResults(table, writer)
            sender = Sender(
                client,
                lambda result: self._record(book, result),
                self.settings,
                on_start=self._started,
                on_before=self._before,
                recipients=self.recipients,
                on_claim=self._claimed,
            )
            self._sender = sender
            if self._stop_asked:
                sender.stop()
            report = await sender.execute(self._updates(book, sender))
            if self._results_broken:
                raise _WriteFailed
            book.check_complete()
        return self._report(book.counts, report.aborted, report.stopped)

    def _started(self, update: Update) -> None:
        """Before a send's first PUT: if it cannot be recorded, it is not sent."""
        try:
            self.ledger.started(update.index)
        except (OSError, sqlite3.Error) as error:
            self._cannot_write(self.ledger.path, error)
            raise Halted from None

    def _claimed(self, update: Update) -> None:
        """Before the row is queued: a claim that cannot be recorded stops the run, so that
        a resumed run knows every number this one may send to."""
        try:
            self.ledger.claimed(update.index, update.recipient)
        except (OSError, sqlite3.Error) as error:
            self._cannot_write(self.ledger.path, error)

    def _before(self, update: Update, activity: dict[str, Any]) -> None:
        try:
            self.ledger.before(update.index, update.activity_id, activity)
        except (OSError, sqlite3.Error) as error:
            self._cannot_write(self.ledger.path, error)

    def _record(self, book: OrderedResults, result: RowResult) -> None:
        if result.outcome is not Outcome.NOT_ATTEMPTED:
            try:
                self.ledger.finished(result)
                self._after(result)
            except (OSError, sqlite3.Error) as error:
                self._cannot_write(self.ledger.path, error)
        if result.attempts:
            self.requested += 1
        self._write(book, result)
        if self.canary is not None:
            self.canary.heard(result)
        self._halt_on_failures(result)
        self.on_result(result)

    def _after(self, result: RowResult) -> None:
        """What this run left in Close, for an undo to compare with."""
        changed = result.evidence in (Evidence.ANSWER, Evidence.READ_BACK)
        if result.outcome is Outcome.UPDATED and changed and result.shown is not None:
            self.ledger.after(result.index, str(result.shown.get("id", "")), result.shown)

    def _halt_on_failures(self, result: RowResult) -> None:
        if self._watch is None:
            return
        reason = self._watch.observe(result.index + FIRST_ROW_NUMBER, result)
        if reason is not None and self._sender is not None and not self._sender.halted:
            self.stop_cause = StopCause.FAILURES
            self._sender.abort(reason)

    def _write(self, book: OrderedResults, result: RowResult) -> None:
        self.failures.add(result.index + FIRST_ROW_NUMBER, result)
        if self._results_broken:
            return
        try:
            book.record(result)
        except OSError as error:
            self._results_broken = True
            self._cannot_write(self.out_path, error)

    def _cannot_write(self, path: Path, error: Exception) -> None:
        if self._write_failure is None:
            reason = getattr(error, "strerror", None) or str(error)
            self._write_failure = (
                f"could not write {path} ({reason}). Free some space, then carry on with "
                "--resume: every row that finished is in the ledger"
            )
        assert self._sender is not None
        self._sender.abort(self._write_failure)

    async def _updates(self, book: OrderedResults, sender: Sender) -> AsyncIterator[Update | None]:
        """The updates to send, in input order; rows settled without a request go straight to
        the results. Yields None when too many rows wait for an earlier row's result: the
        sender then passes on what it holds, and reading waits until those rows are written."""
        for row in self.planner.table.rows():
            book.expect(row)
            if sender.halted:
                # Stopping: the rest only need their result, and validating them would
                # keep Ctrl-C waiting on a big file.
                self._write(book, self.planner.unstarted(row, sender.halt_reason))
                continue
            item = self.planner.classify(row)
            if isinstance(item, Update):
                completes_canary = self.canary is not None and self.canary.takes(item)
                yield item
                if completes_canary:
                    yield None  # the canary goes out now, not once a batch of reads fills
                    await self._decide_canary(sender)
            else:
                self._write(book, item)
            if book.waiting > MAX_WAITING:
                yield None
                while book.waiting > MAX_WAITING // 2:
                    await asyncio.sleep(0.01)

    async def _decide_canary(self, sender: Sender) -> None:
        """Hold the rest back until the canary is decided; a run not approved stops in order,
        and the ledger keeps the decision so that a resumed run does not ask again."""
        assert self.canary is not None
        approved = await self.canary.decide(sender.read_sms, sender.halt)
        if sender.halted:
            return  # stopped meanwhile (Ctrl-C): nothing was decided
        try:
            self.ledger.set_note(canaries.LEDGER_NOTE, "passed" if approved else "stopped")
        except (OSError, sqlite3.Error) as error:
            self._cannot_write(self.ledger.path, error)
            return
        if not approved:
            assert self.canary.report is not None
            self.stop_cause = StopCause.CANARY
            sender.abort(self.canary.report.stop_reason())
