"""From input rows to a plan: which rows will be sent, which are invalid, which a previous run
already updated, and a plain-words summary of what the plan will do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from batch_sms.results import Outcome, RowResult
from batch_sms.rows import InputTable, SourceRow
from batch_sms.runner import MAY_HAVE_BEEN_SENT
from batch_sms.validation import Invalid, Kind, Update, Validator

# A rerun does not send a row whose earlier send may have gone out: only the user, having
# looked in Close, can tell. The message keeps the marker, so that later reruns hold it too.
NOT_SENT_AGAIN = (
    f"not sent again: an earlier run reported that {MAY_HAVE_BEEN_SENT}. If it went out, set "
    "this row's outcome to updated; if not, clear its outcome and error_message to send it"
)


@dataclass(frozen=True)
class Plan:
    updates: list[Update]
    """Valid rows to send, in input order."""
    settled: list[RowResult]
    """Rows whose result is known without a request: invalid, or updated by a previous run."""
    invalid: list[Invalid]
    total_rows: int

    def count(self, kind: Kind) -> int:
        return sum(1 for update in self.updates if update.kind is kind)

    @property
    def sends(self) -> int:
        """How many SMS this plan sends, now or at a scheduled time."""
        return sum(1 for update in self.updates if update.sends)

    @property
    def carried_over(self) -> int:
        return sum(1 for result in self.settled if result.outcome is Outcome.UPDATED)

    def schedule_window(self) -> tuple[datetime, datetime] | None:
        times = [
            datetime.fromisoformat(u.body["date_scheduled"])
            for u in self.updates
            if u.kind is Kind.SCHEDULE
        ]
        return (min(times), max(times)) if times else None

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
        if self.carried_over:
            lines.append(
                f"{self.carried_over:,} rows were updated by a previous run: kept as they are"
            )
        if self.invalid:
            lines.append(f"{len(self.invalid):,} rows are invalid and will not be sent")
        return lines


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def make_plan(table: InputTable, now: datetime) -> Plan:
    """Validate every row. Rows that a previous run updated are carried over untouched, so
    rerunning a results file never sends them again."""
    validator = Validator(now)
    updates: list[Update] = []
    settled: list[RowResult] = []
    invalid: list[Invalid] = []
    total_rows = 0
    for row in table.rows():
        total_rows += 1
        checked = None if row.blank else validator.validate(row)
        result = _known_result(row, checked, table)
        if result is None:
            assert isinstance(checked, Update)
            updates.append(checked)
            continue
        settled.append(result)
        if result.outcome is Outcome.INVALID:
            assert isinstance(checked, Invalid)
            invalid.append(checked)
    return Plan(updates=updates, settled=settled, invalid=invalid, total_rows=total_rows)


def _known_result(
    row: SourceRow, checked: Update | Invalid | None, table: InputTable
) -> RowResult | None:
    """The result of a row that needs no request, or None when the row is to be sent."""
    if checked is None:
        return RowResult(row.index, Outcome.SKIPPED, error_message="empty row")
    if row.previous_outcome == Outcome.UPDATED:
        return RowResult.carried_over(row)
    if isinstance(checked, Invalid):
        return RowResult(row.index, Outcome.INVALID, error_message=checked.describe(table.header))
    if checked.sends and MAY_HAVE_BEEN_SENT in row.cells.get("error_message", ""):
        return RowResult(row.index, Outcome.FAILED, error_message=NOT_SENT_AGAIN)
    return None


def planned_results(plan: Plan) -> list[RowResult]:
    """The results of a dry run: every valid row is `planned`, nothing is sent."""
    return [RowResult(update.index, Outcome.PLANNED) for update in plan.updates]
