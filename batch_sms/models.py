"""The plain data that passes between the layers: a row as read, a valid row's update, an
invalid row's problems, and a row's result. Everything above imports these; they import
nothing of batch-sms but the column names and Close's facts.

A decision that later code acts on is a field here, never a phrase in a message: whether a
send may have gone out is `RowResult.evidence`, so messages can be reworded freely.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from batch_sms import rules
from batch_sms.files import columns


@dataclass(frozen=True)
class SourceRow:
    """One input row: its position, its cells by canonical column name, and the outcome a
    previous run gave it when the input is a results file."""

    index: int
    number: int
    activity_id: str
    cells: dict[str, str]
    previous_outcome: str
    blank: bool = False
    """Every cell of the row is empty, the columns batch-sms ignores included; a results
    file's own columns are not counted, so that a skipped empty row stays skipped on a rerun."""
    values: tuple[str, ...] = ()
    """Every cell as read, aligned with `InputTable.columns`, for the results file."""
    exported: bool = False
    """The row comes from a file `batch-sms export` wrote (it has the context columns): a row
    left as exported changes nothing on purpose."""
    cell_problems: Mapping[str, str] = field(default_factory=dict)
    """Column -> why the cell's text cannot be trusted, like a formula never calculated: such
    a cell reads as empty, and the row must be invalid, not sent without it. Known columns
    (the id included) only."""


class Kind(StrEnum):
    """What an update does to the SMS, as the user will want it summarized."""

    SEND_NOW = "send_now"
    SCHEDULE = "schedule"
    EDIT = "edit"


@dataclass(frozen=True)
class Update:
    """A valid row: the activity to update and the JSON body of its PUT."""

    index: int
    number: int
    activity_id: str
    body: dict[str, Any] = field(hash=False)
    uncertain: bool = False
    """An earlier run may have sent this row already: Close must be asked before it is sent."""
    segments: int | None = None
    """SMS segments of the text, when the row has one."""
    warnings: tuple[str, ...] = ()
    """Things worth knowing that do not stop the row, like a character that doubles its cost."""
    recipient: str = ""
    """The E.164 number a sending row's SMS goes to, once known (the sheet's, or Close's)."""
    expected: dict[str, Any] | None = field(default=None, hash=False)
    """An undo: the SMS as the run being undone left it. Close must still show it so (or show
    it already put back), else someone changed it since and it is left alone."""
    cancel_first: bool = False
    """An undo of a pending send that also puts fields back: Close changes only drafts, so
    the send is cancelled (status draft) by a PUT of its own before the fields are sent."""

    @property
    def kind(self) -> Kind:
        status = self.body.get("status")
        if status == "outbox":
            return Kind.SEND_NOW
        if status == "scheduled":
            return Kind.SCHEDULE
        return Kind.EDIT

    @property
    def sends(self) -> bool:
        """True when Close sends an SMS because of this update: it must never be repeated."""
        return self.body.get("status") in rules.SENDING_STATUSES


@dataclass(frozen=True)
class Unchanged:
    """A row of an exported file left as it was: nothing to send, and nothing wrong with it."""

    index: int
    number: int
    activity_id: str
    reason: str = "unchanged: nothing filled in"


@dataclass(frozen=True)
class Problem:
    column: str | None
    message: str


@dataclass(frozen=True)
class Invalid:
    """A row that will not be sent, with everything wrong with it."""

    index: int
    number: int
    activity_id: str
    problems: tuple[Problem, ...]

    def describe(self, header: Callable[[str], str] = str) -> str:
        """The problems as one line, each led by the column as the user's file names it."""
        return "; ".join(
            f"{header(p.column)}: {p.message}" if p.column else p.message for p in self.problems
        )


class Evidence(StrEnum):
    """What a row's outcome rests on, as far as a sent SMS is concerned."""

    NONE = ""
    """No SMS could have gone out because of this row (no request, an edit, or Close refused
    before acting)."""
    ANSWER = "answer"
    """Close's answer to the update."""
    READ_BACK = "read_back"
    """The answer was lost; reading the SMS back from Close showed its state."""
    BEFORE_RUN = "before_run"
    """Close showed the SMS so before this run sent anything (the preflight read)."""
    UNKNOWN = "unknown"
    """A send may have gone out and nothing confirms or denies it: the next run reads the SMS
    back before anything is sent."""

    @property
    def may_have_been_sent(self) -> bool:
        return self is Evidence.UNKNOWN


# Results files written before the `evidence` column said "may have been sent" only in words;
# a rerun of such a file still recognizes them by this phrase. Nothing written today uses it.
LEGACY_MAY_HAVE_BEEN_SENT = "the SMS may have been sent"


# What a row's result keeps of the SMS as Close showed it: what an undo puts back or compares.
SHOWN_FIELDS = (
    "id",
    "status",
    "text",
    "date_scheduled",
    "date_sent",
    "local_phone",
    "remote_phone",
)


class Outcome(StrEnum):
    UPDATED = "updated"
    INVALID = "invalid"
    FAILED = "failed"
    SKIPPED = "skipped"
    NOT_ATTEMPTED = "not_attempted"
    PLANNED = "planned"


@dataclass(frozen=True)
class RowResult:
    """What happened to one input row, as the results file reports it."""

    index: int
    outcome: Outcome
    error_message: str = ""
    http_status: int | None = None
    attempts: int = 0
    close_status: str = ""
    close_date_scheduled: str = ""
    close_date_sent: str = ""
    close_error_message: str = ""
    segments: int | None = None
    """SMS segments of the row's text (valid rows with a text only)."""
    evidence: Evidence = Evidence.NONE
    recipient_e164: str = ""
    """Whom a sending row's SMS goes to (or would have), when known; a rerun reads it to hold
    back other rows to the numbers this run sent to."""
    shown: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    """The SMS as Close showed it when the row was settled (`SHOWN_FIELDS`): what an undo
    compares with later. Kept in the ledger, not in the results file."""

    @classmethod
    def from_activity(
        cls, index: int, activity: dict[str, Any], http_status: int | None, attempts: int
    ) -> RowResult:
        return cls(
            index=index,
            outcome=Outcome.UPDATED,
            http_status=http_status,
            attempts=attempts,
            close_status=_text(activity.get("status")),
            close_date_scheduled=_text(activity.get("date_scheduled")),
            close_date_sent=_text(activity.get("date_sent")),
            close_error_message=_text(activity.get("error_message")),
            evidence=Evidence.ANSWER,
            shown={key: activity[key] for key in SHOWN_FIELDS if key in activity},
        )

    @classmethod
    def carried_over(cls, row: SourceRow) -> RowResult:
        """A row already updated by a previous run, kept exactly as that run reported it."""
        cells = row.cells
        return cls(
            index=row.index,
            outcome=Outcome.UPDATED,
            error_message=cells.get("error_message", ""),
            http_status=_int_or_none(cells.get("http_status", "")),
            attempts=_int_or_none(cells.get("attempts", "")) or 0,
            close_status=cells.get("close_status", ""),
            close_date_scheduled=cells.get("close_date_scheduled", ""),
            close_date_sent=cells.get("close_date_sent", ""),
            close_error_message=cells.get("close_error_message", ""),
            segments=_int_or_none(cells.get("segments", "")),
            evidence=evidence_of(row),
            recipient_e164=cells.get("recipient_e164", ""),
        )

    def cells(self) -> dict[str, str]:
        """The results columns as text, in the results file's order."""
        return {name: _text(getattr(self, name)) for name in columns.RESULTS}


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _int_or_none(value: str) -> int | None:
    return int(value) if value.strip().isdigit() else None


def evidence_of(row: SourceRow) -> Evidence:
    """The evidence an earlier run's results file gives for a row; files written before the
    `evidence` column are read by their message."""
    cells = row.cells
    if "evidence" in cells:
        try:
            return Evidence(cells["evidence"])
        except ValueError:
            return Evidence.UNKNOWN  # edited by hand into something unknown: trust nothing
    if LEGACY_MAY_HAVE_BEEN_SENT in cells.get("error_message", ""):
        return Evidence.UNKNOWN
    return Evidence.NONE
