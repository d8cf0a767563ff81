"""Hourly counts made into the bars of a timeline that fits on a page.

A campaign may send a few SMS now and schedule the rest for next year: the empty months between
are left out and drawn as a break, and when even so there are too many hours to draw, the bars
become days, then weeks, then months.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from batch_sms.checks.times import QuietHours
from batch_sms.output.charts import Bar, Gap, Item
from batch_sms.output.deliveries import Bins, hour_start, quiet_share

MOST_BARS = 96
# Up to so many empty bars between two full ones are drawn, the larger number if the bars fit:
# a longer run of empty ones is a break in the axis.
LONGEST_EMPTY_RUNS = (24, 4)


@dataclass(frozen=True)
class Unit:
    hours: int
    name: str
    """Of one bar, for the chart's caption."""


UNITS = (Unit(1, "hour"), Unit(24, "day"), Unit(24 * 7, "week"), Unit(24 * 30, "30 days"))


@dataclass(frozen=True)
class Timeline:
    items: tuple[Item, ...]
    unit: Unit


def timeline(bins: Bins, quiet: QuietHours | None = None, clock: str = "UTC") -> Timeline:
    """The bars for hourly `bins`, in the finest unit that fits; quiet hours are shaded when
    the bars are hours. `clock` names the clock in the tooltips."""
    for unit in UNITS:
        grouped = _regroup(bins, unit.hours)
        for longest in LONGEST_EMPTY_RUNS:
            keys = _keys_with_gaps(sorted(grouped), longest)
            if len(keys) <= MOST_BARS:
                break
        if len(keys) <= MOST_BARS:
            break
    items = tuple(_item(key, grouped, unit, quiet, clock) for key in keys)
    return Timeline(_with_groups(items, keys, unit), unit)


def _regroup(bins: Bins, hours: int) -> dict[int, tuple[int, ...]]:
    grouped: dict[int, list[int]] = {}
    for hour, counts in bins.items():
        total = grouped.setdefault(hour // hours, [0] * len(counts))
        for position, count in enumerate(counts):
            total[position] += count
    return {key: tuple(counts) for key, counts in grouped.items()}


Key = int | tuple[int, int]
"""A bar's number, or (last bar before, first bar after) for a break."""


def _keys_with_gaps(full: Sequence[int], longest_empty_run: int) -> list[Key]:
    keys: list[Key] = []
    for key in full:
        if keys:
            previous = keys[-1]
            assert isinstance(previous, int)
            if key - previous - 1 > longest_empty_run:
                keys.append((previous, key))
            else:
                keys.extend(range(previous + 1, key))
        keys.append(key)
    return keys


def _item(
    key: Key,
    grouped: dict[int, tuple[int, ...]],
    unit: Unit,
    quiet: QuietHours | None,
    clock: str,
) -> Item:
    if isinstance(key, tuple):
        return Gap(_duration((key[1] - key[0] - 1) * unit.hours))
    counts = grouped.get(key) or (0,) * len(next(iter(grouped.values())))
    start = hour_start(key * unit.hours)
    shaded = quiet_share(quiet, start.hour) if quiet is not None and unit.hours == 1 else ()
    label = f"{start:%H}:00" if unit.hours == 1 else f"{start:%m-%d}"
    tooltip = f"{_period(key, unit)} {clock}: {sum(counts):,} SMS"
    return Bar(label, counts, shaded=shaded, tooltip=tooltip)


def _period(key: int, unit: Unit) -> str:
    start = hour_start(key * unit.hours)
    if unit.hours == 1:
        return f"{start:%Y-%m-%d %H}:00-{start.hour + 1:02d}:00"
    if unit.hours == 24:
        return f"{start:%Y-%m-%d}"
    end = hour_start((key + 1) * unit.hours - 24)
    return f"{start:%Y-%m-%d} to {end:%Y-%m-%d}"


def _with_groups(items: tuple[Item, ...], keys: list[Key], unit: Unit) -> tuple[Item, ...]:
    """The date under the first bar of each day (of each year, for longer bars)."""
    shown: list[Item] = []
    last_group = ""
    for item, key in zip(items, keys, strict=True):
        if isinstance(item, Bar) and isinstance(key, int):
            start = hour_start(key * unit.hours)
            group = f"{start:%Y-%m-%d}" if unit.hours == 1 else f"{start:%Y}"
            if group != last_group:
                item = Bar(item.label, item.values, group, item.shaded, item.tooltip)
                last_group = group
        elif isinstance(item, Gap):
            last_group = ""
        shown.append(item)
    return tuple(shown)


def _duration(hours: int) -> str:
    """How long a break is, roughly: `5 h`, `3 days`, `4 months`, `2.3 years`."""
    if hours < 48:
        return f"{hours} h"
    days = hours / 24
    if days < 90:
        return f"{days:.0f} days"
    if days < 730:
        return f"{days / 30.44:.0f} months"
    return f"{days / 365.25:.1f} years"
