"""When the SMS of a campaign land: counted per hour in UTC and in the recipients' local time.

Only counts are kept (per hour, per kind), never the rows, so a file of any length takes the
memory of the hours it spans. The recipient's zone is the one their number names, else the
--timezone, as for --quiet-hours; rows whose zone cannot be told are counted apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from enum import IntEnum
from zoneinfo import ZoneInfo

from batch_sms.checks.times import QuietHours

HOUR = timedelta(hours=1)
# Hours are numbered from this moment, in UTC and on the local clocks alike.
EPOCH = datetime(1970, 1, 1)


class Kind(IntEnum):
    """How an SMS goes out; the value is its position in each bin's counts."""

    NOW = 0
    """Sent at once (outbox), or sent already."""
    SCHEDULED = 1


KINDS = tuple(Kind)


def hour_number(moment: datetime) -> int:
    """Hours since 1970-01-01 00:00 on the clock the moment is read on (its own tzinfo)."""
    return (moment.replace(tzinfo=None) - EPOCH) // HOUR


def hour_start(number: int) -> datetime:
    """The wall-clock time at which hour `number` starts (naive)."""
    return EPOCH + number * HOUR


Bins = dict[int, list[int]]
"""Hour number -> counts by Kind."""


@dataclass
class Deliveries:
    """Counts SMS by the hour they land, in UTC and on the recipient's clock."""

    quiet_hours: QuietHours | None = None
    utc: Bins = field(default_factory=dict)
    local: Bins = field(default_factory=dict)
    local_hour_of_day: list[list[int]] = field(
        default_factory=lambda: [[0] * len(KINDS) for _ in range(24)]
    )
    counts: list[int] = field(default_factory=lambda: [0] * len(KINDS))
    first: list[datetime | None] = field(default_factory=lambda: [None] * len(KINDS))
    last: list[datetime | None] = field(default_factory=lambda: [None] * len(KINDS))
    unknown_time: list[int] = field(default_factory=lambda: [0] * len(KINDS))
    """SMS whose moment could not be read (a scheduled time without offset, no --timezone)."""
    unknown_zone: list[int] = field(default_factory=lambda: [0] * len(KINDS))
    in_quiet_hours: int = 0
    earliest_local: time | None = None
    latest_local: time | None = None

    def add(self, kind: Kind, moment: datetime | None, zone: str | None) -> None:
        self.counts[kind] += 1
        if moment is None:
            self.unknown_time[kind] += 1
            return
        self._add_utc(kind, moment.astimezone(UTC))
        if zone is None:
            self.unknown_zone[kind] += 1
            return
        self._add_local(kind, moment.astimezone(ZoneInfo(zone)))

    def _add_utc(self, kind: Kind, moment: datetime) -> None:
        _count(self.utc, hour_number(moment), kind)
        first, last = self.first[kind], self.last[kind]
        if first is None or moment < first:
            self.first[kind] = moment
        if last is None or moment > last:
            self.last[kind] = moment

    def _add_local(self, kind: Kind, local: datetime) -> None:
        _count(self.local, hour_number(local), kind)
        self.local_hour_of_day[local.hour][kind] += 1
        clock = local.time().replace(second=0, microsecond=0)
        if self.earliest_local is None or clock < self.earliest_local:
            self.earliest_local = clock
        if self.latest_local is None or clock > self.latest_local:
            self.latest_local = clock
        if self.quiet_hours is not None and clock in self.quiet_hours:
            self.in_quiet_hours += 1

    @property
    def total(self) -> int:
        return sum(self.counts)

    @property
    def placed_locally(self) -> int:
        """SMS placed on the recipients' clocks."""
        return sum(sum(counts) for counts in self.local.values())


def _count(bins: Bins, hour: int, kind: Kind) -> None:
    counts = bins.get(hour)
    if counts is None:
        counts = bins[hour] = [0] * len(KINDS)
    counts[kind] += 1


def quiet_share(quiet: QuietHours, hour: int) -> tuple[tuple[float, float], ...]:
    """The parts of clock hour `hour` (0-23) inside the quiet hours, as fractions of the hour."""
    start = quiet.start.hour * 60 + quiet.start.minute
    end = quiet.end.hour * 60 + quiet.end.minute
    windows = [(start, end)] if start < end else [(start, 24 * 60), (0, end)]
    begins, ends = hour * 60, hour * 60 + 60
    parts = []
    for low, high in windows:
        overlap_low, overlap_high = max(low, begins), min(high, ends)
        if overlap_low < overlap_high:
            parts.append(((overlap_low - begins) / 60, (overlap_high - begins) / 60))
    return tuple(parts)
