"""Rows that went wrong, grouped by reason: the same problem with different values is one group.

`remote_phone: '(415) 555-01' has no country code` and `remote_phone: '555 0199' has no country
code` are one reason, written `remote_phone: '…' has no country code`. Each group keeps its
size, its first message as an example and its first row numbers; memory is constant per group
and the number of groups is capped, so a file of a million failed rows groups in little memory.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

ROWS_KEPT = 10
GROUPS_KEPT = 100
# A reason is a sentence or two; a cell pasted whole into a message should not fill memory.
LONGEST_MESSAGE = 400

PLACEHOLDER = "…"
OTHER_REASONS = "other reasons (more distinct reasons than are kept apart)"

# In the order applied: a quoted value may hold a date or a number that is not to be seen apart.
_PATTERNS = (
    (re.compile(r"'[^']*'"), f"'{PLACEHOLDER}'"),
    (re.compile(r'"[^"]*"'), f'"{PLACEHOLDER}"'),
    (
        re.compile(
            r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?"
        ),
        "<time>",
    ),
    # Close's object ids: acti_..., lead_..., tmpl_...
    (re.compile(r"\b([a-z]{2,8})_[A-Za-z0-9]{16,}\b"), rf"\1_{PLACEHOLDER}"),
    (re.compile(r"\+\d[\d ]{5,}\d"), f"+{PLACEHOLDER}"),
)
# Numbers standing alone (not the 164 of E.164), except an HTTP status in parentheses, as in
# "Close rejected the update (400)".
_NUMBER = re.compile(r"\(\d{3}\)|(?<![\w.])\d+(?:[.,]\d+)*(?!\w)")


def normalize_reason(message: str) -> str:
    """The message with the values that differ from row to row taken out."""
    reason = message.strip()[:LONGEST_MESSAGE]
    for pattern, replacement in _PATTERNS:
        reason = pattern.sub(replacement, reason)
    return _NUMBER.sub(_keep_status, reason)


def _keep_status(match: re.Match[str]) -> str:
    text = match.group(0)
    return text if text.startswith("(") else "N"


@dataclass(frozen=True)
class ReasonGroup:
    """Rows that share one reason."""

    reason: str
    """The message with row-specific values replaced by placeholders."""
    example: str
    """The first row's message, as it is in the results file."""
    count: int
    rows: tuple[int, ...]
    """The first row numbers (spreadsheet numbering), at most `ROWS_KEPT` of them."""
    other: bool = False
    """The rows whose reason came after the cap on groups was reached, of many reasons."""

    def describe_rows(self) -> str:
        """`rows 4, 9, 12` or `rows 4, 9, 12 and 34 more`."""
        shown = ", ".join(str(number) for number in self.rows)
        label = "row" if self.count == 1 else "rows"
        more = self.count - len(self.rows)
        return f"{label} {shown}" + (f" and {more:,} more" if more else "")


@dataclass
class _Group:
    example: str
    first_row: int
    count: int = 0
    rows: list[int] = field(default_factory=list)

    def add(self, row: int, rows_kept: int) -> None:
        """Count the row; keep the first row numbers of the file, also when rows come in
        another order (a run's results arrive as rows finish)."""
        self.count += 1
        self.first_row = min(self.first_row, row)
        if len(self.rows) < rows_kept or row < self.rows[-1]:
            bisect.insort(self.rows, row)
            del self.rows[rows_kept:]


class ReasonGroups:
    """Groups messages by reason as rows stream by; `groups()` lists them, largest first."""

    def __init__(self, rows_kept: int = ROWS_KEPT, groups_kept: int = GROUPS_KEPT) -> None:
        self._rows_kept = rows_kept
        self._groups_kept = groups_kept
        self._groups: dict[str, _Group] = {}
        self._other: _Group | None = None
        self.total = 0

    def add(self, row: int, message: str) -> None:
        self.total += 1
        reason = normalize_reason(message) or "(no message)"
        group = self._groups.get(reason)
        if group is None:
            group = self._new_group(reason, message, row)
        group.add(row, self._rows_kept)

    def _new_group(self, reason: str, message: str, row: int) -> _Group:
        example = message.strip()[:LONGEST_MESSAGE]
        if len(self._groups) < self._groups_kept:
            group = self._groups[reason] = _Group(example, row)
            return group
        if self._other is None:
            self._other = _Group(example, row)
        return self._other

    def groups(self) -> list[ReasonGroup]:
        """Largest first, ties in order of first row; rows of reasons past the cap last."""
        ranked = sorted(self._groups.items(), key=lambda item: (-item[1].count, item[1].first_row))
        found = [_frozen(reason, group) for reason, group in ranked]
        if self._other is not None:
            found.append(_frozen(OTHER_REASONS, self._other, other=True))
        return found


def _frozen(reason: str, group: _Group, other: bool = False) -> ReasonGroup:
    return ReasonGroup(reason, group.example, group.count, tuple(group.rows), other)


def group_reasons(
    messages: Iterable[tuple[int, str]],
    rows_kept: int = ROWS_KEPT,
    groups_kept: int = GROUPS_KEPT,
) -> list[ReasonGroup]:
    """(row number, message) pairs grouped by reason, largest group first."""
    grouper = ReasonGroups(rows_kept, groups_kept)
    for row, message in messages:
        grouper.add(row, message)
    return grouper.groups()
