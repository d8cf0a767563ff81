"""The results table: one line per figure, printed and written as Markdown."""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class Figure:
    """One measured figure, with what it is judged against (a baseline or a goal), if any."""

    measurement: str
    value: float
    unit: str
    reference: str = "-"  # e.g. "goal >= 0.95" or "baseline 9.7 rows/s"
    ratio: float | None = None  # value / baseline
    passed: bool | None = None  # None: no goal for this figure

    def cells(self) -> list[str]:
        ratio = "-" if self.ratio is None else f"{self.ratio:.1f}x"
        verdict = {None: "-", True: "pass", False: "FAIL"}[self.passed]
        return [self.measurement, _number(self.value, self.unit), self.reference, ratio, verdict]


def _number(value: float, unit: str) -> str:
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"
    return f"{text} {unit}".strip()


HEADER = ["measurement", "ours", "baseline or goal", "ratio", "verdict"]


@dataclass(frozen=True)
class Table:
    """A measurement's figures in a grid of their own, after the main table."""

    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[str]]
    notes: Sequence[str] = ()

    def lines(self) -> list[str]:
        lines = ["", f"## {self.title}", "", _row(self.header), _row(["---"] * len(self.header))]
        lines += [_row(row) for row in self.rows]
        return lines + ([""] + list(self.notes) if self.notes else [])


def header_lines(now: datetime, notes: Sequence[str] = ()) -> list[str]:
    return [
        f"Date: {now.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
        f"Cores (os.cpu_count()): {os.cpu_count()}",
        f"Python: {platform.python_version()} ({platform.system()} {platform.machine()})",
        f"Commit: {git_commit()}",
        *notes,
    ]


def git_commit() -> str:
    folder = Path(__file__).parent
    try:
        head = _git(folder, "rev-parse", "--short", "HEAD")
        dirty = _git(folder, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} (with uncommitted changes)" if dirty else head


def _git(folder: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def markdown(figures: Sequence[Figure], header: Sequence[str], tables: Sequence[Table] = ()) -> str:
    lines = ["# batch-sms benchmarks", "", *(f"- {line}" for line in header), ""]
    lines += [_row(HEADER), _row(["---"] * len(HEADER))]
    lines += [_row(figure.cells()) for figure in figures]
    for table in tables:
        lines += table.lines()
    return "\n".join(lines) + "\n"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"
