"""Bar charts as inline SVG, written by hand.

Why not a charting library: the report needs stacked bars, shaded bands and axis labels, which
is some 250 lines of SVG. matplotlib would add a large dependency, about half a second of
import, and files of hundreds of kilobytes with glyphs drawn as paths; plotly, Vega or
Chart.js would put megabytes of JavaScript into every page and need scripts allowed. Hand-made
SVG is a few kilobytes, needs no script (the page forbids all of them), stays sharp at any
zoom and prints well; its numbers are text that a browser test can read.

Every string that reaches the SVG goes through `html.escape`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class Series:
    name: str
    color: str


@dataclass(frozen=True)
class Bar:
    label: str
    """Under the bar, like `09:00`."""
    values: tuple[int, ...]
    """One count per series, stacked bottom up."""
    group: str = ""
    """A second line under the first bar of a group, like the date under the hours."""
    shaded: tuple[tuple[float, float], ...] = ()
    """Parts of the bar's slot shaded behind it, as fractions of its width (quiet hours)."""
    tooltip: str = ""


@dataclass(frozen=True)
class Gap:
    """Time left out between two bars, drawn as a break in the axis."""

    label: str


Item = Bar | Gap

WIDTH = 960
LEFT, RIGHT, TOP, BOTTOM = 40, 12, 16, 44  # LEFT: at least; wider for long axis numbers
FONT = 11
CHAR_WIDTH = 6.6  # of the 11 px sans-serif labels, on average
GAP_SLOTS = 1.6
WIDEST_BAR = 64  # a break takes the room of this many bars
SHADE = "#e6e3f5"
GRID = "#e5e7eb"
INK = "#374151"


def bar_chart(
    items: Sequence[Item], series: Sequence[Series], title: str, height: int = 240
) -> str:
    """A stacked bar chart; `title` is what a screen reader says of it."""
    top = _nice_top(max((sum(item.values) for item in items if isinstance(item, Bar)), default=0))
    left = max(LEFT, len(f"{top:,}") * CHAR_WIDTH + 12)
    plot_width, plot_height = WIDTH - left - RIGHT, height - TOP - BOTTOM
    slots = sum(GAP_SLOTS if isinstance(item, Gap) else 1 for item in items) or 1
    slot = plot_width / slots
    y = _Scale(top, plot_height)
    parts = [_open_svg(WIDTH, height, title), *_shading(items, left, slot, plot_height)]
    parts += _grid(y, left, plot_width) + _items(items, series, left, slot, y, plot_height)
    parts.append(
        f'<line x1="{left:.1f}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_height}" '
        f'y2="{TOP + plot_height}" stroke="{INK}"/>'
    )
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class _Scale:
    top: int
    height: float

    def __call__(self, value: float) -> float:
        return TOP + self.height - (value / self.top * self.height if self.top else 0)


def _open_svg(width: int, height: int, title: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg" '
        f'font-family="system-ui, sans-serif" font-size="{FONT}">'
    )


def _nice_top(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten, at or above value: a round axis end."""
    if value <= 0:
        return 1
    power: int = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def _grid(y: _Scale, left: float, plot_width: float) -> list[str]:
    ticks = [y.top * share for share in (0, 0.25, 0.5, 0.75, 1)]
    ticks = sorted({round(tick) for tick in ticks if tick == round(tick)})
    lines = []
    for tick in ticks:
        at = y(tick)
        lines.append(
            f'<line x1="{left:.1f}" x2="{left + plot_width:.1f}" y1="{at:.1f}" y2="{at:.1f}" '
            f'stroke="{GRID}"/><text x="{left - 6:.1f}" y="{at + 4:.1f}" text-anchor="end" '
            f'fill="{INK}">{tick:,}</text>'
        )
    return lines


def _items(
    items: Sequence[Item],
    series: Sequence[Series],
    left: float,
    slot: float,
    y: _Scale,
    plot_height: float,
) -> list[str]:
    parts: list[str] = []
    every = _label_every(items, slot)
    show_values = slot >= 22
    x = left
    bar_index = 0
    groups_free_from = 0.0  # where the last group label ends
    for item in items:
        if isinstance(item, Gap):
            parts.append(_gap(item, x, slot * GAP_SLOTS, plot_height))
            x += slot * GAP_SLOTS
            continue
        middle = x + slot / 2
        parts.append(_bar(item, series, x, slot, y, plot_height, show_values))
        if bar_index % every == 0:
            parts.append(_label(item.label, middle, TOP + plot_height + 15))
        half = len(item.group) * CHAR_WIDTH / 2
        if item.group and middle - half > groups_free_from:
            parts.append(_label(item.group, middle, TOP + plot_height + 31, bold=True))
            groups_free_from = middle + half + 8
        bar_index += 1
        x += slot
    return parts


def _shading(items: Sequence[Item], left: float, slot: float, plot_height: float) -> list[str]:
    """The shaded parts of the slots, those that touch merged into one band: drawn slot by
    slot, their seams would show."""
    bands: list[list[float]] = []
    x = left
    for item in items:
        if isinstance(item, Gap):
            x += slot * GAP_SLOTS
            continue
        for low, high in item.shaded:
            start, end = x + low * slot, x + high * slot
            if bands and abs(bands[-1][1] - start) < 0.01:
                bands[-1][1] = end
            else:
                bands.append([start, end])
        x += slot
    return [
        f'<rect x="{start:.2f}" y="{TOP}" width="{end - start:.2f}" height="{plot_height:.1f}" '
        f'fill="{SHADE}"/>'
        for start, end in bands
    ]


def _label_every(items: Sequence[Item], slot: float) -> int:
    """Label one bar in so many that labels do not overlap."""
    longest = max((len(item.label) for item in items if isinstance(item, Bar)), default=1)
    return max(1, math.ceil((longest * CHAR_WIDTH + 6) / slot))


def _bar(
    bar: Bar,
    series: Sequence[Series],
    x: float,
    slot: float,
    y: _Scale,
    plot_height: float,
    show_value: bool,
) -> str:
    parts = [f"<g><title>{escape(bar.tooltip or bar.label)}</title>"]
    width = min(max(slot * 0.78, 1.0), WIDEST_BAR)
    left = x + (slot - width) / 2
    base = 0
    for value, one in zip(bar.values, series, strict=True):
        if value:
            top, bottom = y(base + value), y(base)
            parts.append(
                f'<rect x="{left:.2f}" y="{top:.2f}" width="{width:.2f}" '
                f'height="{bottom - top:.2f}" fill="{one.color}"/>'
            )
        base += value
    if show_value and base:
        parts.append(
            f'<text x="{x + slot / 2:.2f}" y="{y(base) - 4:.2f}" text-anchor="middle" '
            f'fill="{INK}">{base:,}</text>'
        )
    parts.append("</g>")
    return "".join(parts)


def _label(text: str, middle: float, baseline: float, bold: bool = False) -> str:
    weight = ' font-weight="600"' if bold else ""
    return (
        f'<text x="{middle:.2f}" y="{baseline}" text-anchor="middle"{weight} fill="{INK}">'
        f"{escape(text)}</text>"
    )


def _gap(gap: Gap, x: float, width: float, plot_height: float) -> str:
    """Two slanted strokes across the axis, and how much time they leave out."""
    base = TOP + plot_height
    middle = x + width / 2
    return (
        f"<g><title>{escape(gap.label)} left out</title>"
        f'<rect x="{x + 2:.2f}" y="{TOP}" width="{width - 4:.2f}" height="{plot_height:.1f}" '
        f'fill="#f9fafb"/>'
        f'<path d="M{middle - 6:.2f} {base + 6} l6 -12 M{middle:.2f} {base + 6} l6 -12" '
        f'stroke="{INK}" stroke-width="1.5"/>'
        f'<text x="{middle:.2f}" y="{TOP + plot_height / 2:.1f}" text-anchor="middle" '
        f'fill="#6b7280" font-style="italic">{escape(gap.label)}</text></g>'
    )


def proportion_strip(parts: Sequence[tuple[str, int, str]], title: str) -> str:
    """One horizontal bar split in proportion to (label, count, color) parts."""
    total = sum(count for _, count, _ in parts) or 1
    height = 28
    svg = [
        f'<svg class="strip" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg" '
        f'font-family="system-ui, sans-serif" font-size="12">'
    ]
    x = 0.0
    for label, count, color in parts:
        width = count / total * WIDTH
        if width <= 0:
            continue
        svg.append(
            f'<g><title>{escape(label)}: {count:,}</title><rect x="{x:.2f}" y="0" '
            f'width="{width:.2f}" height="{height}" fill="{color}"/></g>'
        )
        text = f"{label} {count:,}"
        if width > len(text) * 7.2 + 10:
            svg.append(
                f'<text x="{x + 8:.2f}" y="18" fill="#fff" font-weight="600">{escape(text)}</text>'
            )
        x += width
    svg.append("</svg>")
    return "".join(svg)
