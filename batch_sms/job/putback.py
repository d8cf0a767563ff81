"""What an undo puts back, row by row, and the planner that turns it into updates.

`batch-sms undo RESULTS` reads the run's results file and its ledger (the SMS as Close showed
it before the run, and as the run left it) and writes the undo's own input beside them: one
row per row of RESULTS, in the same order (so row numbers stay the campaign's), with

- `id`, and `recipient` to recognize the row;
- `action` and `undo`: what the undo will do, as a word and in a sentence;
- `put_back`: the JSON body that puts the SMS back (empty: nothing to send);
- `run_left`: the JSON of the SMS as the run left it.

That file is run like any other input, by the same machinery (plan, confirmation, dry run,
ledger, resume, results file). Its rows are not validated as cells, because a previous empty
text cannot be said with an empty cell; instead, before each row is sent, Close is read and
must still show the SMS as the run left it (`run_left`): one sent since cannot be undone, and
one that someone changed since is left alone (see `close.readback.judge`).

An undo never sends an SMS: `put_back` may only set status draft and the text and phones.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from batch_sms import rules
from batch_sms.checks.validation import ACTIVITY_ID
from batch_sms.close.readback import describe
from batch_sms.files.rows import InputTable
from batch_sms.files.tables import open_table_writer
from batch_sms.job.ledger import Ledger
from batch_sms.job.plan import Planner
from batch_sms.models import Evidence, Outcome, RowResult, SourceRow, Update, evidence_of

PUT_BACK = "put_back"
RUN_LEFT = "run_left"
ACTION = "action"
UNDO = "undo"
RECIPIENT = "recipient"
COLUMNS = ("id", RECIPIENT, ACTION, UNDO, PUT_BACK, RUN_LEFT)

# The fields an undo puts back (besides status): the preflight reads them before every run.
FIELDS = ("text", "local_phone", "remote_phone")
# What `run_left` keeps: what an undo compares with what Close shows.
LEFT_FIELDS = ("status", "date_scheduled", *FIELDS)


class Action(StrEnum):
    CANCEL = "cancel"
    """A send the run scheduled or put in the outbox, not yet sent: back to draft, with the
    text and phones it had before."""
    RESTORE = "restore"
    """A draft the run edited: its text and phones as they were."""
    SENT = "sent"
    """Sent already (or sent and ended in error): cannot be undone."""
    KEPT = "kept"
    """The run cancelled a send: undo never sends, so it stays cancelled."""
    NO_RECORD = "no_record"
    """No record of the SMS before the run (`--no-preflight`): its fields cannot be put back."""
    UNKNOWN = "unknown"
    """The run may have sent it and nothing confirms it: left alone."""
    UNCHANGED = "unchanged"
    """The run did not change it: nothing to undo."""


@dataclass(frozen=True)
class UndoStep:
    """What the undo does for one row."""

    action: Action
    words: str
    put_back: dict[str, Any] | None = None
    run_left: dict[str, Any] | None = None


def decide(row: SourceRow, before: dict[str, Any] | None, after: dict[str, Any] | None) -> UndoStep:
    """The undo of one row of a run's results, from the SMS before the run (the preflight's
    read, None if there was none) and as the run left it (Close's answer, None if unknown)."""
    if row.blank or not row.activity_id:
        return UndoStep(Action.UNCHANGED, "empty row")
    evidence = evidence_of(row)
    if row.previous_outcome != Outcome.UPDATED:
        if evidence.may_have_been_sent:
            return UndoStep(
                Action.UNKNOWN,
                "not undone: the run may have sent it and nothing confirms it; check it in Close",
            )
        outcome = row.previous_outcome or "no outcome"
        return UndoStep(Action.UNCHANGED, f"nothing to undo: the run did not change it ({outcome})")
    if evidence is Evidence.BEFORE_RUN:
        return UndoStep(Action.UNCHANGED, "nothing to undo: Close showed it so before the run")
    left = _left(row, after)
    status = left.get("status")
    if status in ("sent", "error"):
        return UndoStep(Action.SENT, f"already {_sent(left)}: cannot be undone")
    if before is None:
        return _without_before(left)
    if before.get("status") in rules.SENDING_STATUSES:
        return UndoStep(
            Action.KEPT,
            f"not undone: the run cancelled its send (Close showed it {describe(before)}); "
            "undo never sends an SMS: send it again in Close if it is still wanted",
        )
    return _put_back(before, left)


def _left(row: SourceRow, after: dict[str, Any] | None) -> dict[str, Any]:
    """The SMS as the run left it: Close's answer, else what the results file says of it."""
    if after is not None:
        return {
            key: after[key] for key in (*LEFT_FIELDS, "date_sent", "error_message") if key in after
        }
    cells = row.cells
    left: dict[str, Any] = {"status": cells.get("close_status", "")}
    for key in ("date_scheduled", "date_sent", "error_message"):
        left[key] = cells.get(f"close_{key}") or None
    return left


def _without_before(left: dict[str, Any]) -> UndoStep:
    if left.get("status") in rules.SENDING_STATUSES:
        return UndoStep(
            Action.CANCEL,
            f"cancel the {_pending(left)}, back to draft; its text and phones stay as the run "
            "set them (no record of them before the run: it ran with --no-preflight)",
            {"status": "draft"},
            _kept(left),
        )
    return UndoStep(
        Action.NO_RECORD,
        "cannot be undone: no record of the SMS before the run (it ran with --no-preflight)",
    )


def _put_back(before: dict[str, Any], left: dict[str, Any]) -> UndoStep:
    changes = {
        key: before.get(key)
        for key in FIELDS
        if (key not in left or left[key] != before.get(key))
        and (key == "text" or before.get(key))  # a missing phone cannot be put back
    }
    named = ", ".join(
        "empty text" if key == "text" and not value else key for key, value in changes.items()
    )
    if left.get("status") in rules.SENDING_STATUSES:
        words = f"cancel the {_pending(left)}, back to draft"
        if changes:
            words += f", and put back its {named}"
        return UndoStep(Action.CANCEL, words, {"status": "draft", **changes}, _kept(left))
    if left.get("status") == "draft" and changes:
        return UndoStep(Action.RESTORE, f"put back its {named}", changes, _kept(left))
    return UndoStep(
        Action.UNCHANGED, "nothing to undo: the run changed none of status, text and phones"
    )


def _kept(left: dict[str, Any]) -> dict[str, Any]:
    return {key: left[key] for key in LEFT_FIELDS if key in left}


def _pending(left: dict[str, Any]) -> str:
    if left.get("status") == "scheduled":
        return f"send scheduled for {left.get('date_scheduled')}"
    return "send in the outbox"


def _sent(activity: dict[str, Any]) -> str:
    if activity.get("status") == "error":
        reason = activity.get("error_message") or "no reason given"
        return f"sent, and it ended in error ({reason})"
    return f"sent at {activity.get('date_sent') or 'an unknown time'}"


# --- the undo's input file -------------------------------------------------------------------


def write_undo_input(table: InputTable, ledger: Ledger, out_path: Path) -> Counter[Action]:
    """Write the undo of the run whose results are `table` and whose ledger is `ledger` to
    `out_path` (CSV, atomically). Returns how many rows get each action."""
    counts: Counter[Action] = Counter()
    befores = _RowStates(ledger.before_states())
    afters = _RowStates(ledger.after_states())
    with open_table_writer(out_path, COLUMNS) as writer:
        for row in table.rows():
            before = befores.find(row.index, row.activity_id)
            after = afters.find(row.index, row.activity_id)
            step = decide(row, before, after)
            counts[step.action] += 1
            writer.write_row(_cells(row, step, before or after or {}))
    return counts


def _cells(row: SourceRow, step: UndoStep, known: dict[str, Any]) -> list[str]:
    return [
        row.activity_id,
        str(known.get("remote_phone") or ""),
        step.action.value,
        step.words,
        _json(step.put_back),
        _json(step.run_left),
    ]


def _json(value: dict[str, Any] | None) -> str:
    return "" if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)


class _RowStates:
    """The ledger's states, walked once in row order alongside the results file."""

    def __init__(self, states: Iterator[tuple[int, str, dict[str, Any]]]) -> None:
        self._states = states
        self._next = next(states, None)

    def find(self, index: int, activity_id: str) -> dict[str, Any] | None:
        while self._next is not None and self._next[0] < index:
            self._next = next(self._states, None)
        if self._next is None or self._next[0] != index or self._next[1] != activity_id:
            return None  # a record of another SMS would be another file's: not trusted
        return self._next[2]


def is_undo_table(table: InputTable) -> bool:
    return PUT_BACK in table.columns and RUN_LEFT in table.columns


def count_actions(table: InputTable) -> Counter[Action]:
    """How many rows of an undo's file get each action."""
    counts: Counter[Action] = Counter()
    if ACTION not in table.columns:
        return counts
    at = table.columns.index(ACTION)
    for row in table.rows():
        try:
            counts[Action(row.values[at].strip())] += 1
        except ValueError:
            counts[Action.UNCHANGED] += 1  # edited by hand: the row itself says what it does
    return counts


def describe_undo(counts: Counter[Action]) -> list[str]:
    """What the undo will do, one line per action, for the plan and the confirmation."""
    lines = {
        Action.CANCEL: "SMS scheduled or in the outbox will be put back to draft (their sends "
        "cancelled), with the text and phones they had before",
        Action.RESTORE: "edited drafts will get their earlier text and phones back",
        Action.SENT: "SMS were sent already: they cannot be undone",
        Action.KEPT: "SMS whose send the run cancelled stay cancelled (undo never sends)",
        Action.NO_RECORD: "SMS cannot be put back: no record of them before the run "
        "(--no-preflight)",
        Action.UNKNOWN: "SMS may have been sent by the run and nothing confirms it: left alone",
        Action.UNCHANGED: "rows were not changed by the run: nothing to undo",
    }
    shown = [f"{counts[action]:,} {text}" for action, text in lines.items() if counts[action]]
    if counts[Action.CANCEL] or counts[Action.RESTORE]:
        shown.append(
            "Each SMS is read from Close first: one sent since cannot be undone, one changed "
            "in Close since the run is left alone; both are reported."
        )
    return shown


# --- planning the undo's rows ----------------------------------------------------------------


class UndoPlanner(Planner):
    """A Planner for an undo's file: each row's update is its `put_back`, to be sent only if
    Close still shows the SMS as `run_left`; a row without one gets its result at once."""

    def __init__(self, *args: Any, **keywords: Any) -> None:
        super().__init__(*args, **keywords)
        columns = self.table.columns
        self._put_back_at = columns.index(PUT_BACK)
        self._left_at = columns.index(RUN_LEFT)
        self._words_at = columns.index(UNDO) if UNDO in columns else None

    def classify(self, row: SourceRow) -> Update | RowResult:
        if row.blank:
            return RowResult(row.index, Outcome.SKIPPED, error_message="empty row")
        settled = self._settled_earlier(row, self.recovered.result(row.index))
        if settled is not None:
            return settled
        put_back = row.values[self._put_back_at].strip()
        if not put_back:
            words = row.values[self._words_at].strip() if self._words_at is not None else ""
            return RowResult(row.index, Outcome.SKIPPED, error_message=words or "nothing to undo")
        try:
            body = _body(put_back)
            left = _object(row.values[self._left_at], RUN_LEFT)
            _check_id(row.activity_id)
        except ValueError as error:
            return RowResult(row.index, Outcome.INVALID, error_message=str(error))
        pending = left.get("status") in rules.SENDING_STATUSES
        return Update(
            row.index,
            row.number,
            row.activity_id,
            body,
            expected=left,
            cancel_first=pending and len(body) > 1,
        )


def _body(text: str) -> dict[str, Any]:
    body = _object(text, PUT_BACK)
    unknown = sorted(set(body) - {"status", *FIELDS})
    if unknown:
        raise ValueError(
            f"{PUT_BACK}: an undo puts back only status, text and phones, not {', '.join(unknown)}"
        )
    if body.get("status", "draft") != "draft":
        raise ValueError(f"{PUT_BACK}: an undo only puts an SMS back to draft; it never sends")
    if not body:
        raise ValueError(f"{PUT_BACK}: is empty; leave the cell empty if there is nothing to undo")
    return body


def _object(text: str, column: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as error:
        raise ValueError(f"{column}: is not valid JSON ({error.msg})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{column}: is not a JSON object")
    return value


def _check_id(activity_id: str) -> None:
    if not ACTIVITY_ID.match(activity_id):
        raise ValueError(f"id: '{activity_id}' is not a Close SMS activity id")
