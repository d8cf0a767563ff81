"""From input rows to a plan: which rows will be sent, which are invalid, which an earlier run
already settled, and a plain-words summary of what the plan will do.

A plan is made by streaming the rows once (`make_plan`) without keeping them: a run streams
them again through the same `Planner` rules, so memory does not grow with the file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from batch_sms.checks.segments import SegmentTally
from batch_sms.checks.validation import DEFAULT_CHECKS, CheckOptions, Validator
from batch_sms.errors import InputError
from batch_sms.files.rows import InputTable, nothing_filled_in
from batch_sms.job import messages
from batch_sms.job.ledger import Recovered
from batch_sms.job.recipients import RecipientBook, SheetRecipients, earlier_recipient
from batch_sms.models import (
    Evidence,
    Invalid,
    Kind,
    Outcome,
    RowResult,
    SourceRow,
    Unchanged,
    Update,
    evidence_of,
)

INVALID_SHOWN = 10


class Planner:
    """Turns each row into an update to send or a result known without a request. The same
    rules give the same answers on every pass over the same file."""

    def __init__(
        self,
        table: InputTable,
        now: datetime,
        settings: CheckOptions = DEFAULT_CHECKS,
        recovered: Recovered | None = None,
    ) -> None:
        self.table = table
        self.validator = Validator(now, settings)
        self.recovered = recovered or Recovered()
        self.in_flight = self.recovered.in_flight()

    def classify(self, row: SourceRow) -> Update | RowResult:
        """An Update to send, or the row's result when no request is needed."""
        if row.blank:
            return RowResult(row.index, Outcome.SKIPPED, error_message="empty row")
        # Every row is validated, also those settled earlier, so that a repeated id is caught
        # the same way on every pass.
        checked = self.validator.validate(row)
        journaled = self.recovered.result(row.index)
        settled = self._settled_earlier(row, journaled)
        if settled is not None:
            return settled
        if isinstance(checked, Unchanged):
            return RowResult(row.index, Outcome.SKIPPED, error_message=checked.reason)
        if isinstance(checked, Invalid):
            return RowResult(
                row.index, Outcome.INVALID, error_message=checked.describe(self.table.header)
            )
        if checked.sends and self._may_have_been_sent(row, journaled):
            # Sent only if reading it back from Close shows it still a draft; the number it
            # may have gone to is kept, for the next run if this one does not read it.
            recipient = earlier_recipient(row, journaled, self.recovered.claims)
            return replace(checked, uncertain=True, recipient=recipient)
        return checked

    def unstarted(self, row: SourceRow, reason: str) -> RowResult:
        """The result of a row that a stopped run did not reach, found without validating it
        (validation is what takes time): what an earlier run settled stays settled, and a row
        that may have been sent keeps saying so, for the next run to read it back."""
        if row.blank:
            return RowResult(row.index, Outcome.SKIPPED, error_message="empty row")
        journaled = self.recovered.result(row.index)
        settled = self._settled_earlier(row, journaled)
        if settled is not None:
            return settled
        if self._may_have_been_sent(row, journaled):
            return RowResult(
                row.index,
                Outcome.NOT_ATTEMPTED,
                error_message=f"not attempted: {reason}; {messages.EARLIER_RUN_MAY_HAVE_SENT}",
                evidence=Evidence.UNKNOWN,
                recipient_e164=earlier_recipient(row, journaled, self.recovered.claims),
            )
        return RowResult(row.index, Outcome.NOT_ATTEMPTED, error_message=f"not attempted: {reason}")

    def _settled_earlier(self, row: SourceRow, journaled: RowResult | None) -> RowResult | None:
        """The result an earlier run gave the row, when it needs nothing more."""
        if journaled is not None and journaled.outcome in (Outcome.UPDATED, Outcome.SKIPPED):
            return journaled
        if row.previous_outcome == Outcome.UPDATED:
            return RowResult.carried_over(row)
        return None

    def _may_have_been_sent(self, row: SourceRow, journaled: RowResult | None) -> bool:
        """An earlier run (this one's ledger, or the results file being rerun) left the row
        with a send that may have gone out: it is read back before anything is sent."""
        if row.index in self.in_flight:
            return True
        evidence = journaled.evidence if journaled else evidence_of(row)
        return evidence.may_have_been_sent

    def classified(self) -> Iterator[tuple[SourceRow, Update | RowResult]]:
        for row in self.table.rows():
            yield row, self.classify(row)


@dataclass
class Plan:
    """What a run of the file will do, counted without keeping the rows."""

    total_rows: int = 0
    kinds: Counter[Kind] = field(default_factory=Counter)
    invalid: int = 0
    first_invalid: list[tuple[int, str]] = field(default_factory=list)
    """(row number, problems) of the first invalid rows, to show before sending."""
    carried_over: int = 0
    uncertain: int = 0
    first_scheduled: datetime | None = None
    last_scheduled: datetime | None = None
    segments: SegmentTally = field(default_factory=SegmentTally)
    warned: int = 0
    first_warnings: list[tuple[int, str]] = field(default_factory=list)
    """(row number, warning) of the first rows with a warning, to show before sending."""
    holds_back_duplicates: bool = True
    """A second SMS to one number is held back (no --allow-duplicate-recipients)."""
    repeated: Counter[Kind] = field(default_factory=Counter)
    """Sending rows, by kind, to a number that an earlier row sets in the sheet or that an
    earlier run sent to: held back, unless duplicates are allowed."""
    from_close: int = 0
    """Sending rows that set no number: whether theirs repeats is known once Close is read."""
    earlier_claims: RecipientBook = field(default_factory=RecipientBook, repr=False)
    """Numbers that earlier runs of these rows sent to, or may have: no row goes to them."""

    @property
    def updates(self) -> int:
        """Rows handed to the sender, held-back ones included."""
        return sum(self.kinds.values())

    @property
    def held_back(self) -> int:
        return self.repeated.total() if self.holds_back_duplicates else 0

    def count(self, kind: Kind) -> int:
        """Rows of this kind that will do it: held-back rows are not counted."""
        if self.holds_back_duplicates:
            return self.kinds[kind] - self.repeated[kind]
        return self.kinds[kind]

    @property
    def sends(self) -> int:
        """How many SMS this plan sends at most, now or at a scheduled time."""
        return self.count(Kind.SEND_NOW) + self.count(Kind.SCHEDULE)

    def schedule_window(self) -> tuple[datetime, datetime] | None:
        if self.first_scheduled is None or self.last_scheduled is None:
            return None
        return self.first_scheduled, self.last_scheduled

    def add(self, row: SourceRow, item: Update | RowResult) -> None:
        self.total_rows += 1
        if isinstance(item, Update):
            self._add_update(item)
            self._add_warnings(row, item)
        elif item.outcome is Outcome.INVALID:
            self.invalid += 1
            if len(self.first_invalid) < INVALID_SHOWN:
                self.first_invalid.append((row.number, item.error_message))
        elif item.outcome is Outcome.UPDATED:
            self.carried_over += 1

    def _add_warnings(self, row: SourceRow, update: Update) -> None:
        if update.warnings:
            self.warned += 1
            if len(self.first_warnings) < INVALID_SHOWN:
                self.first_warnings.append((row.number, "; ".join(update.warnings)))

    def _add_update(self, update: Update) -> None:
        self.segments.add(update)
        self.kinds[update.kind] += 1
        self.uncertain += update.uncertain
        if update.kind is Kind.SCHEDULE:
            moment = datetime.fromisoformat(update.body["date_scheduled"])
            if self.first_scheduled is None or moment < self.first_scheduled:
                self.first_scheduled = moment
            if self.last_scheduled is None or moment > self.last_scheduled:
                self.last_scheduled = moment

    def describe(self) -> list[str]:
        """What the plan will do, one line per kind of row, for the summary and confirmation."""
        lines = [f"{self.count(Kind.SEND_NOW):,} SMS will be sent now"]
        window = self.schedule_window()
        scheduled = f"{self.count(Kind.SCHEDULE):,} SMS will be scheduled"
        if window is not None:
            first, last = (_utc(moment) for moment in window)
            scheduled += f" between {first} and {last}" if first != last else f" for {first}"
        lines.append(scheduled)
        lines.append(f"{self.count(Kind.EDIT):,} SMS will only be edited (nothing sent)")
        if self.uncertain:
            lines.append(
                f"{self.uncertain:,} of them may have been sent by an earlier run: each is read "
                "back from Close first, and sent only if it is still a draft"
            )
        if self.carried_over:
            lines.append(
                f"{self.carried_over:,} rows were updated by an earlier run: kept as they are"
            )
        if self.invalid:
            lines.append(f"{self.invalid:,} rows are invalid and will not be sent")
        return lines + self._describe_recipients() + self.segments.describe()

    def _describe_recipients(self) -> list[str]:
        repeated = self.repeated.total()
        if not self.holds_back_duplicates:
            if not repeated:
                return []
            return [
                f"{repeated:,} SMS go to a number that an earlier row sends to: sent all the "
                "same (--allow-duplicate-recipients)"
            ]
        lines = []
        if repeated:
            seen = "the sheet, or an earlier run's results" if self.earlier_claims else "the sheet"
            lines.append(
                f"{repeated:,} SMS held back: same recipient as an earlier row (seen in {seen})"
            )
        if self.from_close:
            lines.append(
                f"{self.from_close:,} SMS go to numbers only Close knows (no remote_phone): "
                "repeats among them are held back when the run reads Close"
            )
        return lines


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def make_plan(planner: Planner, hold_back_duplicates: bool = True) -> Plan:
    """Validate every row, once, and count what a run would do."""
    plan = Plan(holds_back_duplicates=hold_back_duplicates)
    recipients = SheetRecipients(planner.recovered.claims)
    for row, item in planner.classified():
        plan.add(row, item)
        recipients.add(row, item)
    plan.repeated = recipients.held_back()
    plan.from_close = recipients.from_close
    plan.earlier_claims = recipients.earlier
    if planner.table.is_export_file and not (plan.updates or plan.invalid or plan.carried_over):
        raise InputError(nothing_filled_in(planner.table))
    return plan
