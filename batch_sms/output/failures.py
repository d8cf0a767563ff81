"""Failures at a glance: the failed and invalid rows of a run grouped by reason, largest first,
so that one thing going wrong 3,000 times reads as one line with its row numbers:

    37 failed: Close rejected the update (400): local_phone: +12125550123 is not one of your
    organization's SMS-enabled numbers.: rows 4, 9, 12, ... and 27 more

The grouping is the report's (`reasons.py`): messages that differ only by the values of a row
are one reason, and memory is bounded. This module keeps the failed and the invalid rows apart
and words a group for the terminal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from batch_sms.models import Outcome, RowResult
from batch_sms.output.reasons import ReasonGroups

ROWS_KEPT = 8
GROUPS_KEPT = 200
GROUPED = (Outcome.FAILED, Outcome.INVALID)


@dataclass(frozen=True)
class FailureGroup:
    outcome: Outcome
    message: str
    """The first row's message, as the results file has it."""
    count: int
    rows: tuple[int, ...]
    """The first row numbers of the group in the file (as the spreadsheet numbers them), at
    most ROWS_KEPT."""

    def describe(self) -> str:
        """`37 failed: <message>: rows 4, 9, 12, ... and 27 more`."""
        shown = ", ".join(str(number) for number in self.rows)
        label = "row" if self.count == 1 else "rows"
        more = self.count - len(self.rows)
        rest = f" and {more:,} more" if more else ""
        return f"{self.count:,} {self.outcome.value}: {self.message}: {label} {shown}{rest}"


class FailureTally:
    """Counts the failed and invalid rows by reason as results go by."""

    def __init__(self, rows_kept: int = ROWS_KEPT, groups_kept: int = GROUPS_KEPT) -> None:
        self._by_outcome = {outcome: ReasonGroups(rows_kept, groups_kept) for outcome in GROUPED}
        self.total = 0

    def add(self, number: int, result: RowResult) -> None:
        groups = self._by_outcome.get(result.outcome)
        if groups is None:
            return
        self.total += 1
        groups.add(number, result.error_message.strip() or "no reason given")

    def groups(self) -> list[FailureGroup]:
        """Largest first; a tie keeps failed before invalid, then the order of first rows."""
        found = [
            FailureGroup(
                outcome, group.reason if group.other else group.example, group.count, group.rows
            )
            for outcome, groups in self._by_outcome.items()
            for group in groups.groups()
        ]
        return sorted(found, key=lambda group: -group.count)

    def largest(self) -> FailureGroup | None:
        groups = self.groups()
        return groups[0] if groups else None


def group_failures(results: Iterable[tuple[int, RowResult]]) -> list[FailureGroup]:
    """(row number, result) pairs grouped by reason, largest first."""
    tally = FailureTally()
    for number, result in results:
        tally.add(number, result)
    return tally.groups()
