"""The ride grid: how much of Close's limit a run uses, at every limit and answer time.

Each cell runs `batch-sms sandbox --rate-limit N/1 --latency-ms X --latency-spread 0.5`
(Close-like answer times: log-normal around X) and `batch-sms run` on 12 seconds' worth of
rows against it, once with the default options and once with the old fixed --concurrency 8
(rows cut to what 8 in flight can send in about 12 s). A few cells cap the run with
`--rate-limit N/1` against a sandbox with no limit of its own: the issue asks the same of a
user's cap as of Close's limit, and there no header tells the pace. From the sandbox's stats of
the PUT endpoint group (the preflight's list reads are a group of their own):

- share of the limit (or of the cap): PUTs a second over the limit's, from the first PUT to
  the opening of the last window, plus the share of that window's budget it used. A run that
  fills every window scores 1.0, however its last window ends. (Without a limit, the sandbox
  still counts its PUTs in windows of 1 s that open with the first PUT after the last ended.)
- share (span + 1 window): the measure of the issue and of `rate`, from the first PUT to one
  window after the last; it holds a last, part-filled window against the run.
- 429s as a share of PUTs, rows not updated, the most requests in flight at the sandbox, and
  the client's CPU per row: the run's CPU less that of a dry run of the same file (start-up
  and validation), over the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from benchmarks.harness import Run, Stats, run_tool, sandbox
from benchmarks.report import Figure, Table

if TYPE_CHECKING:
    from benchmarks.measures import Setup

LIMITS = (16, 40, 100, 160, 200)  # requests per 1 s window
LATENCIES_MS = (50, 250, 600, 1000)
QUICK = ((40, 250), (100, 1000), (200, 250), (200, 600))
SPREAD = 0.5  # log-normal sigma of the answer times
STEP = ((4.0, 800.0), (8.0, 100.0))  # from 100 ms: 800 ms after 4 s, 100 ms again after 8 s
STEP_LIMITS = (40, 100, 200)
CAPS = ((40, 250), (100, 1000), (200, 600))  # --rate-limit N/1, mean answer time in ms
SECONDS = 12.0  # worth of rows per run
WINDOW = 1.0
OLD_CONCURRENCY = 8
GOAL_SHARE = 0.95
GOAL_429 = 0.01
PUT = "PUT one"


@dataclass(frozen=True)
class Cell:
    limit: int
    latency_ms: float  # the mean; with STEP, before and after the step
    step: bool = False
    cap: bool = False  # `limit` is the run's --rate-limit; the sandbox has none

    @property
    def name(self) -> str:
        latency = "100 -> 800 -> 100 ms" if self.step else f"{self.latency_ms:g} ms"
        if self.cap:
            return f"--rate-limit {self.limit}/{WINDOW:g} at {latency}"
        return f"{self.limit}/s at {latency}"

    def sandbox_options(self) -> list[str]:
        options = [] if self.cap else ["--rate-limit", f"{self.limit}/{WINDOW:g}"]
        options += ["--latency-ms", f"{self.latency_ms:g}", "--latency-spread", str(SPREAD)]
        for after, latency_ms in STEP if self.step else ():
            options += ["--latency-step", f"{after:g}={latency_ms:g}"]
        return options

    def run_options(self) -> list[str]:
        return ["--rate-limit", f"{self.limit}/{WINDOW:g}"] if self.cap else []

    def slowest(self) -> float:
        """The longest mean answer time in the run, in seconds."""
        return max([self.latency_ms] + [ms for _, ms in STEP if self.step]) / 1000


@dataclass(frozen=True)
class Ride:
    """One run in one cell, as the sandbox and the measured child saw it."""

    cell: Cell
    setting: str
    rows: int
    run: Run
    put: Stats
    peak_in_flight: int
    cpu_per_row: float  # seconds, the dry run's taken off

    @property
    def share(self) -> float:
        put = self.put
        assert put.first_at is not None and put.window_at is not None
        last_window = put.window_requests / self.cell.limit * WINDOW
        return put.requests / (put.window_at - put.first_at + last_window) / self._rate

    @property
    def share_of_span(self) -> float:
        return self.put.requests / self.put.span(tail=WINDOW) / self._rate

    @property
    def rejected(self) -> float:
        return self.put.share(429)

    @property
    def failed(self) -> int:
        return sum(count for outcome, count in self.run.outcomes.items() if outcome != "updated")

    @property
    def passed(self) -> bool:
        return self.share >= GOAL_SHARE and self.rejected < GOAL_429 and self.failed == 0

    @property
    def _rate(self) -> float:
        return self.cell.limit / WINDOW

    def cells(self) -> list[str]:
        return [
            self.cell.name,
            self.setting,
            f"{self.rows:,}",
            f"{self.share:.3f}",
            f"{self.share_of_span:.3f}",
            f"{self.rejected:.1%}",
            str(self.failed),
            str(self.peak_in_flight),
            f"{self.cpu_per_row * 1000:.2f}",
            "pass" if self.passed else "FAIL",
        ]


HEADER = [
    "limit, answer time",
    "setting",
    "rows",
    "share of the limit",
    "share (span + 1 window)",
    "429s",
    "rows not updated",
    "peak in flight",
    "CPU ms/row",
    "verdict (>= 0.95, < 1% 429s, none failed)",
]


def ride_grid(setup: Setup) -> list[Figure | Table]:
    cells = _cells(setup.quick)
    rides: list[Ride] = []
    for cell in cells:
        rides.append(_ride(setup, cell, old=False))
        rides.append(_ride(setup, cell, old=True))
    ours = [ride for ride in rides if ride.setting == "defaults"]
    return [*_summary(ours), Table("ride: the grid", HEADER, [ride.cells() for ride in rides])]


def _cells(quick: bool) -> list[Cell]:
    grid = QUICK if quick else [(limit, ms) for limit in LIMITS for ms in LATENCIES_MS]
    steps = STEP_LIMITS[-1:] if quick else STEP_LIMITS
    caps = CAPS[1:2] if quick else CAPS
    cells = [Cell(limit, ms) for limit, ms in grid]
    cells += [Cell(limit, 100, step=True) for limit in steps]
    return cells + [Cell(limit, ms, cap=True) for limit, ms in caps]


def _ride(setup: Setup, cell: Cell, old: bool) -> Ride:
    """One run in `cell`, with the default options, or (`old`) with the old fixed 8 in flight."""
    seconds = SECONDS * setup.scale
    pace = cell.limit / WINDOW
    options = cell.run_options()
    setting = "defaults"
    if old:  # no more rows than 8 in flight send in about `seconds`
        pace = min(pace, OLD_CONCURRENCY / cell.slowest())
        options += ["--concurrency", str(OLD_CONCURRENCY)]
        setting = f"--concurrency {OLD_CONCURRENCY}"
    rows = max(10, round(seconds * pace))
    kind = "-step" if cell.step else "-cap" if cell.cap else ""
    name = f"ride-{cell.limit}-{cell.latency_ms:g}{kind}-{'old' if old else 'defaults'}"
    source = setup.write_input(name, rows)
    with sandbox(*cell.sandbox_options()) as server:
        run = run_tool(source, server.base_url, *options)
        stats = server.stats()
    dry = run_tool(source, None)
    cpu = max(0.0, run.usage.cpu - dry.usage.cpu) / rows
    ride = Ride(cell, setting, rows, run, stats.groups[PUT], stats.peak_in_flight, cpu)
    setup.log(f"  {cell.name}, {setting}: {' | '.join(ride.cells()[3:])}")
    return ride


def _summary(ours: Sequence[Ride]) -> list[Figure | Table]:
    grid = [ride for ride in ours if not ride.cell.step and not ride.cell.cap]
    others = [ride for ride in ours if ride.cell.step or ride.cell.cap]
    passed = sum(ride.passed for ride in grid)
    worst = min(grid, key=lambda ride: ride.share)
    figures: list[Figure | Table] = [
        Figure(
            f"ride: cells of the grid that pass, default options ({len(grid)} cells)",
            passed,
            f"of {len(grid)}",
            f"goal: all (share >= {GOAL_SHARE}, 429s < {GOAL_429:.0%}, none failed)",
            passed=passed == len(grid),
        ),
        Figure(
            f"ride: lowest share of the limit, default options ({worst.cell.name})",
            worst.share,
            "",
            f"goal >= {GOAL_SHARE}",
            passed=worst.share >= GOAL_SHARE,
        ),
        Figure(
            "ride: most 429s in a cell, default options",
            max(ride.rejected for ride in ours) * 100,
            "%",
            f"goal < {GOAL_429:.0%}",
            passed=max(ride.rejected for ride in ours) < GOAL_429,
        ),
    ]
    for ride in others:
        measure = "cap" if ride.cell.cap else "limit"
        figures.append(
            Figure(
                f"ride: share of the {measure}, {ride.cell.name}, default options",
                ride.share,
                "",
                f"goal >= {GOAL_SHARE}",
                passed=ride.passed,
            )
        )
    cpu = [ride.cpu_per_row * 1000 for ride in ours]
    figures.append(
        Figure(
            "ride: client CPU per row, default options (least, most)",
            min(cpu),
            "ms",
            f"most {max(cpu):.2f} ms",
        )
    )
    return figures
