"""What a results file tells about a campaign, added up row by row without keeping the rows.

Each row adds to counts: its outcome, when its SMS lands (and where, by the recipient's number),
its segments, and for a row that went wrong, its reason. A dry run's rows (`planned`) tell what
would happen from their own cells; an updated row's from what Close showed after the update.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from phonenumbers import NumberParseException

from batch_sms import rules
from batch_sms.checks.phones import PhoneError, time_zone_of, to_e164
from batch_sms.checks.segments import UCS2, count_segments, ucs2_warning
from batch_sms.checks.times import TimeError, parse_moment
from batch_sms.checks.validation import DEFAULT_CHECKS, CheckOptions
from batch_sms.models import Outcome
from batch_sms.output.deliveries import Deliveries, Kind
from batch_sms.output.reasons import ReasonGroups

UCS2_ROWS_SHOWN = 10
# Outcomes whose rows have a reason worth grouping: everything that did not go as asked.
PROBLEM_OUTCOMES = (Outcome.FAILED, Outcome.INVALID, Outcome.NOT_ATTEMPTED, Outcome.SKIPPED)
# An update that Close took, but whose SMS Close shows in error (it could not be sent).
CLOSE_ERROR = "error"

# The few ASCII characters that GSM-7 lacks (the backtick, most control characters): a text of
# ASCII without them is GSM-7, known without counting it character by character.
_ASCII_OUTSIDE_GSM = frozenset(
    character for character in map(chr, range(128)) if count_segments(character).encoding == UCS2
)


@dataclass
class SegmentTally:
    """Segments of the rows updated or planned, split by whether their SMS is sent."""

    histogram: dict[int, list[int]] = field(default_factory=dict)
    """Segments -> [rows that send, rows only edited]."""
    sends: int = 0
    edits: int = 0
    ucs2_rows: int = 0
    single_character_rows: int = 0
    first_single_character: list[tuple[int, str]] = field(default_factory=list)
    """(row number, what the character costs) of the first rows UCS-2 because of one character."""

    def add(self, number: int, cells: Mapping[str, str], sends: bool) -> None:
        segments = cells.get("segments", "")
        if not segments.isdigit():
            return
        count = int(segments)
        self.histogram.setdefault(count, [0, 0])[0 if sends else 1] += 1
        if sends:
            self.sends += count
        else:
            self.edits += count
        self._add_encoding(number, cells.get("text", ""))

    def _add_encoding(self, number: int, text: str) -> None:
        if not text or (text.isascii() and _ASCII_OUTSIDE_GSM.isdisjoint(text)):
            return
        count = count_segments(text)
        if count.encoding != UCS2:
            return
        self.ucs2_rows += 1
        if len(count.outsiders) == 1:
            self.single_character_rows += 1
            warning = ucs2_warning(text, count)
            if warning and len(self.first_single_character) < UCS2_ROWS_SHOWN:
                self.first_single_character.append((number, warning))

    @property
    def total(self) -> int:
        return self.sends + self.edits


@dataclass
class Landings:
    """What the rows of one kind send: when and where they land, their segments."""

    deliveries: Deliveries
    segments: SegmentTally = field(default_factory=SegmentTally)
    edited: int = 0
    """Rows that send nothing: a draft's text or fields changed."""
    zone_from_option: int = 0
    """SMS placed in --timezone, their number not telling their zone."""


@dataclass
class ResultsTally:
    """Everything the report shows, added up one results row at a time.

    The rows of a dry run (`planned`) and those updated are added up apart: a dry run of a
    results file carries over the rows an earlier run updated, and those send nothing again."""

    now: datetime
    """When SMS sent "now" land, when the file does not say: the run's start."""
    settings: CheckOptions = DEFAULT_CHECKS
    rows: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    close_statuses: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    planned: Landings = field(init=False)
    updated: Landings = field(init=False)
    problems: dict[str, ReasonGroups] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.planned = Landings(Deliveries(self.settings.quiet_hours))
        self.updated = Landings(Deliveries(self.settings.quiet_hours))

    def add(self, number: int, outcome: str, cells: Mapping[str, str]) -> None:
        """One results row: its spreadsheet row number, outcome and cells by column name."""
        self.rows += 1
        self.outcomes[outcome] += 1
        attempts = cells.get("attempts", "")
        self.requests += int(attempts) if attempts.isdigit() else 0
        if outcome == Outcome.PLANNED:
            self._add_update(self.planned, number, outcome, cells)
        elif outcome == Outcome.UPDATED:
            self._add_update(self.updated, number, outcome, cells)
        elif outcome in PROBLEM_OUTCOMES:
            self._add_problem(outcome, number, cells.get("error_message", ""))

    @property
    def dry_run(self) -> bool:
        """Only a dry run plans rows."""
        return bool(self.outcomes[Outcome.PLANNED])

    def landings(self, dry_run: bool | None = None) -> Landings:
        """A dry run's planned rows, or a run's updated ones."""
        return self.planned if (self.dry_run if dry_run is None else dry_run) else self.updated

    def _add_problem(self, group: str, number: int, message: str) -> None:
        self.problems.setdefault(group, ReasonGroups()).add(number, message)

    def _add_update(
        self, landings: Landings, number: int, outcome: str, cells: Mapping[str, str]
    ) -> None:
        close_status = cells.get("close_status", "").lower()
        if outcome == Outcome.UPDATED:
            self.close_statuses[close_status or "(not shown)"] += 1
            if close_status == CLOSE_ERROR:
                self._add_problem(CLOSE_ERROR, number, cells.get("close_error_message", ""))
        kind, moment = self._landing(outcome, close_status, cells)
        if kind is None:
            landings.edited += 1
        else:
            zone = self._zone(landings, cells.get("remote_phone", ""))
            landings.deliveries.add(kind, moment, zone)
        landings.segments.add(number, cells, sends=kind is not None)

    def _landing(
        self, outcome: str, close_status: str, cells: Mapping[str, str]
    ) -> tuple[Kind | None, datetime | None]:
        """How the row's SMS goes out and when it lands; None: the row sends nothing."""
        if outcome == Outcome.UPDATED and close_status:
            return self._as_close_shows(close_status, cells)
        status = cells.get("status", "").lower()
        if status == "outbox":
            return Kind.NOW, self.now
        if status == "scheduled":
            return Kind.SCHEDULED, self._moment(cells.get("date_scheduled", ""))
        return None, None

    def _as_close_shows(
        self, close_status: str, cells: Mapping[str, str]
    ) -> tuple[Kind | None, datetime | None]:
        if close_status in ("sent", "outbox", CLOSE_ERROR):
            sent = _iso(cells.get("close_date_sent", ""))
            return Kind.NOW, sent or self.now
        if close_status == "scheduled":
            scheduled = _iso(cells.get("close_date_scheduled", ""))
            return Kind.SCHEDULED, scheduled or self._moment(cells.get("date_scheduled", ""))
        return None, None

    def _moment(self, value: str) -> datetime | None:
        if not value:
            return None
        try:
            return parse_moment(value, self.settings.timezone, self.settings.date_format)
        except TimeError:
            return None

    def _zone(self, landings: Landings, phone: str) -> str | None:
        """The recipient's zone: their number's, else --timezone's, as quiet hours are checked."""
        zone = _phone_zone(phone, self.settings.default_region) if phone else None
        if zone is None and self.settings.timezone is not None:
            landings.zone_from_option += 1
            return str(self.settings.timezone)
        return zone


def _phone_zone(phone: str, region: str | None) -> str | None:
    try:
        e164 = phone if rules.E164.match(phone) else to_e164(phone, region)
        return time_zone_of(e164)
    except (PhoneError, NumberParseException):
        return None


def _iso(value: str) -> datetime | None:
    """A time as Close writes it (ISO 8601 with offset); None when empty or unreadable."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
