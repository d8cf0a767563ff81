"""The canary: send the first N rows that send an SMS, hold the rest back, read those N from
Close until each shows sent (or scheduled as asked) or in error, and let someone decide
whether the rest go out. A typo or a wrong link then reaches N people, not 5,000.

Edits do not count towards N (they send nothing) and are not held back until the canary is
full. The decision is the caller's (`ApproveCanary`): the command line asks on a terminal,
and with --yes (or from the Python API, by default) the run carries on only if every canary
row is confirmed. A run that stops here stops in order; the ledger remembers the decision, so
that a resumed run does not repeat the canary.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import httpx

from batch_sms.close.client import CloseAPIError
from batch_sms.close.pacing import sleep_unless
from batch_sms.close.readback import describe
from batch_sms.models import Kind, Outcome, RowResult, Update

DEFAULT_WAIT = 120.0
"""Seconds: a send delayed by send_in (at most 59 s) and a minute for the carrier to answer."""
POLL_EVERY = 2.0
READ_BATCH = 100  # ids per list request
TEXT_SHOWN = 160  # characters of an SMS's text shown in the report
LEDGER_NOTE = "canary"


@dataclass(frozen=True)
class CanaryOptions:
    rows: int
    """How many sending rows go out first."""
    wait: float = DEFAULT_WAIT
    """Seconds to wait for Close to show each canary SMS sent or in error."""
    poll: float = POLL_EVERY

    def __post_init__(self) -> None:
        if self.rows < 1 or self.wait < 0 or self.poll <= 0:
            raise ValueError("a canary needs at least 1 row, a wait of 0 s or more")


class CanaryState(StrEnum):
    CONFIRMED = "confirmed"
    """Close shows it sent, or scheduled as the row asked."""
    ERROR = "error"
    """Close shows status error: the send failed."""
    PENDING = "pending"
    """Still in the outbox when the wait ran out."""
    FAILED = "failed"
    """The row itself was not updated; its result says why."""
    OTHER = "other"
    """Close shows something else (a draft again, scheduled for another time)."""
    UNREAD = "unread"
    """Close could not be asked, or does not list it."""


@dataclass(frozen=True)
class CanaryRow:
    update: Update
    result: RowResult
    activity: dict[str, Any] | None
    """The SMS as Close showed it when the wait ended."""
    state: CanaryState

    def describe(self) -> list[str]:
        """`row 4 (acti_...) to +14155550123: sent at ... [confirmed]`, then its text."""
        activity = self.activity or {}
        recipient = activity.get("remote_phone") or self.update.body.get("remote_phone")
        to = f" to {recipient}" if recipient else ""
        if self.state is CanaryState.FAILED:
            shown = f"{self.result.outcome.value}: {self.result.error_message}"
        elif self.activity is None:
            shown = "could not be read back from Close"
        else:
            shown = describe(self.activity)
        lines = [
            f"row {self.update.number} ({self.update.activity_id}){to}: {shown} [{self.state}]"
        ]
        text = activity.get("text")
        if isinstance(text, str):
            cut = text if len(text) <= TEXT_SHOWN else text[: TEXT_SHOWN - 1] + "…"
            lines.append(f'    "{cut}"')
        return lines


@dataclass(frozen=True)
class CanaryReport:
    rows: tuple[CanaryRow, ...]
    waited: float
    """Seconds spent reading the canary back."""

    @property
    def confirmed(self) -> bool:
        return all(row.state is CanaryState.CONFIRMED for row in self.rows)

    @property
    def unconfirmed(self) -> list[CanaryRow]:
        return [row for row in self.rows if row.state is not CanaryState.CONFIRMED]

    def lines(self) -> list[str]:
        count = len(self.rows)
        lines = [f"Canary: the first {count:,} SMS, as Close shows them after {self.waited:.1f} s:"]
        for row in self.rows:
            lines.extend(f"  {line}" for line in row.describe())
        unconfirmed = self.unconfirmed
        if not unconfirmed:
            lines.append(f"All {count:,} confirmed.")
        else:
            lines.append(f"{len(unconfirmed):,} of {count:,} not confirmed.")
        return lines

    def stop_reason(self) -> str:
        unconfirmed = self.unconfirmed
        if not unconfirmed:
            return "stopped after the canary, as asked"
        first = unconfirmed[0]
        return (
            f"stopped after the canary: {len(unconfirmed):,} of {len(self.rows):,} canary SMS "
            f"not confirmed (row {first.update.number}: {first.state})"
        )


ApproveCanary = Callable[[CanaryReport], bool | Awaitable[bool]]
Reader = Callable[[list[str]], Awaitable[list[dict[str, Any]]]]


def approve_if_confirmed(report: CanaryReport) -> bool:
    """The decision without a person: carry on only if every canary SMS is confirmed."""
    return report.confirmed


def state_of(update: Update, result: RowResult, activity: dict[str, Any] | None) -> CanaryState:
    if result.outcome is not Outcome.UPDATED:
        return CanaryState.FAILED
    if activity is None:
        return CanaryState.UNREAD
    status = activity.get("status")
    if status == "error":
        return CanaryState.ERROR
    if status == "sent":
        return CanaryState.CONFIRMED
    if update.kind is Kind.SEND_NOW and status == "outbox":
        return CanaryState.PENDING
    if update.kind is Kind.SCHEDULE and status == "scheduled":
        if _same_moment(activity.get("date_scheduled"), update.body.get("date_scheduled")):
            return CanaryState.CONFIRMED
    return CanaryState.OTHER


def _same_moment(shown: Any, wanted: Any) -> bool:
    try:
        return datetime.fromisoformat(str(shown)) == datetime.fromisoformat(str(wanted))
    except ValueError:
        return False


async def watch(
    rows: Sequence[tuple[Update, RowResult]],
    read: Reader,
    settings: CanaryOptions,
    halt: asyncio.Event,
    clock: Callable[[], float] = time.monotonic,
) -> CanaryReport:
    """Read the canary rows back until none is pending, the wait runs out or the run halts."""
    started = clock()
    while True:
        found = await _read_all([update.activity_id for update, _ in rows], read)
        report_rows = tuple(
            _row(update, result, found.get(update.activity_id)) for update, result in rows
        )
        left = settings.wait - (clock() - started)
        pending = any(row.state is CanaryState.PENDING for row in report_rows)
        if not pending or left <= 0 or halt.is_set():
            return CanaryReport(report_rows, clock() - started)
        await sleep_unless(halt, min(settings.poll, left))


def _row(update: Update, result: RowResult, activity: dict[str, Any] | None) -> CanaryRow:
    return CanaryRow(update, result, activity, state_of(update, result, activity))


async def _read_all(activity_ids: list[str], read: Reader) -> dict[str, dict[str, Any]]:
    """Each SMS by id, as Close lists it; none when Close cannot be asked."""
    found: dict[str, dict[str, Any]] = {}
    try:
        for start in range(0, len(activity_ids), READ_BATCH):
            for item in await read(activity_ids[start : start + READ_BATCH]):
                found[str(item.get("id"))] = item
    except (CloseAPIError, httpx.TransportError):
        return {}
    return found


class CanaryGate:
    """A stream's side of the canary: counts the sending rows as they go out, hears their
    results, and decides whether the rest may follow."""

    def __init__(self, settings: CanaryOptions, approve: ApproveCanary) -> None:
        self.settings = settings
        self.approve = approve
        self.report: CanaryReport | None = None
        self._updates: list[Update] = []
        self._indexes: set[int] = set()
        self._results: dict[int, RowResult] = {}
        self._heard_all = asyncio.Event()

    @property
    def full(self) -> bool:
        return len(self._updates) >= self.settings.rows

    def takes(self, update: Update) -> bool:
        """Count `update` into the canary if it sends; True when it completes the canary.
        Called before the update goes to the sender, so that its result is heard."""
        if self.full or not update.sends:
            return False
        self._updates.append(update)
        self._indexes.add(update.index)
        return self.full

    def heard(self, result: RowResult) -> None:
        if result.index in self._indexes:
            self._results[result.index] = result
            if self.full and len(self._results) == len(self._updates):
                self._heard_all.set()

    async def decide(self, read: Reader, halt: asyncio.Event) -> bool:
        """Wait for the canary rows' results, read them back, and ask. Every row the sender
        is given gets a result, also when the run halts, so the wait ends."""
        await self._heard_all.wait()
        rows = [(update, self._results[update.index]) for update in self._updates]
        self.report = await watch(rows, read, self.settings, halt)
        if halt.is_set():
            return False
        answer = self.approve(self.report)
        if inspect.isawaitable(answer):
            answer = await answer
        return bool(answer)
