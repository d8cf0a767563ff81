"""Failures at a glance: the failed and invalid rows of a run grouped by reason, largest first,
so that one thing going wrong 3,000 times reads as one line with its row numbers:

    37 failed: Close rejected the update (400): local_phone: +12125550123 is not one of your
    organization's SMS-enabled numbers.: rows 4, 9, 12, ... and 27 more

Rows whose messages differ only by a value the user typed (a quoted cell, a time, a row
number) are one group; the first row's message stands for the group. Memory is bounded: a
group keeps its first row numbers only, and the number of groups is capped.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from batch_sms.models import Outcome, RowResult

ROWS_KEPT = 8
GROUPS_KEPT = 200
GROUPED = (Outcome.FAILED, Outcome.INVALID)

# Values that differ from row to row in the same message, in the order they are taken out.
_VALUES = (
    (re.compile(r"'[^']*'"), "'…'"),
    (
        re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"),
        "…",
    ),
    (re.compile(r"\brows? \d+\b"), "row …"),
)


def reason_of(message: str) -> str:
    """The message without the values that differ from row to row: the grouping key."""
    reason = message.strip()
    for pattern, placeholder in _VALUES:
        reason = pattern.sub(placeholder, reason)
    return reason


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


@dataclass
class _Group:
    outcome: Outcome
    message: str
    order: int
    count: int = 0
    rows: list[int] = field(default_factory=list)


class FailureTally:
    """Counts the failed and invalid rows by reason as results go by."""

    def __init__(self, rows_kept: int = ROWS_KEPT, groups_kept: int = GROUPS_KEPT) -> None:
        self._rows_kept = rows_kept
        self._groups_kept = groups_kept
        self._groups: dict[tuple[Outcome, str], _Group] = {}
        self._other: dict[Outcome, _Group] = {}
        self.total = 0

    def add(self, number: int, result: RowResult) -> None:
        if result.outcome not in GROUPED:
            return
        self.total += 1
        message = result.error_message.strip() or "no reason given"
        group = self._group(result.outcome, message)
        group.count += 1
        # Results arrive in the order rows finish: keep the first rows of the file.
        if len(group.rows) < self._rows_kept or number < group.rows[-1]:
            bisect.insort(group.rows, number)
            del group.rows[self._rows_kept :]

    def _group(self, outcome: Outcome, message: str) -> _Group:
        key = (outcome, reason_of(message))
        group = self._groups.get(key)
        if group is not None:
            return group
        if len(self._groups) < self._groups_kept:
            group = self._groups[key] = _Group(outcome, message, len(self._groups))
            return group
        # Past the cap, each outcome's further reasons share one group.
        other = f"other reasons (more than {self._groups_kept} different ones)"
        return self._other.setdefault(outcome, _Group(outcome, other, self._groups_kept))

    def groups(self) -> list[FailureGroup]:
        """Largest first; a tie in order of first appearance."""
        found = sorted(
            [*self._groups.values(), *self._other.values()],
            key=lambda group: (-group.count, group.order),
        )
        return [
            FailureGroup(group.outcome, group.message, group.count, tuple(group.rows))
            for group in found
        ]

    def largest(self) -> FailureGroup | None:
        groups = self.groups()
        return groups[0] if groups else None


def group_failures(results: Iterable[tuple[int, RowResult]]) -> list[FailureGroup]:
    """(row number, result) pairs grouped by reason, largest first."""
    tally = FailureTally()
    for number, result in results:
        tally.add(number, result)
    return tally.groups()
