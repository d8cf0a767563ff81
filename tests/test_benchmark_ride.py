"""The ride benchmark's measures, on stats made up to the second (the grid itself takes 12
minutes of real traffic, so it is not run here)."""

from __future__ import annotations

from collections import Counter

import pytest

from benchmarks.harness import Run, Stats, Usage
from benchmarks.ride import QUICK, Cell, Ride, _cells


def ride(requests: int, first: float, window_at: float, window_requests: int, last: float) -> Ride:
    put = Stats(requests, {200: requests}, first, last, {}, window_at, window_requests, 0)
    run = Run(Usage(0, 13.0, 2.0, 90.0), Counter(updated=requests))
    return Ride(Cell(100, 250), "defaults", requests, run, put, 40, 0.0012)


def test_a_run_that_fills_every_window_scores_one_however_its_last_window_ends() -> None:
    # 12 windows of 100, back to back; the last request lands late in the last window.
    full = ride(1200, first=0.0, window_at=11.0, window_requests=100, last=11.9)
    assert full.share == pytest.approx(1.0)
    assert full.share_of_span == pytest.approx(1200 / 12.9 / 100)
    assert full.passed


def test_idle_time_between_windows_and_a_spilled_last_window_count_against_the_run() -> None:
    # A window 100 ms late each time, and 3 requests spilled into a 13th window.
    late = ride(1200, first=0.0, window_at=13.2, window_requests=3, last=13.2)
    assert late.share == pytest.approx(1200 / (13.2 + 0.03) / 100)
    assert not late.passed
    assert late.cells()[3:5] == [f"{late.share:.3f}", f"{late.share_of_span:.3f}"]


def test_the_grid_the_quick_subset_and_the_sandbox_options() -> None:
    assert len(_cells(quick=False)) == 5 * 4 + 3 + 3
    grid = [(c.limit, c.latency_ms) for c in _cells(quick=True) if not c.step and not c.cap]
    assert grid == list(QUICK)
    step = Cell(100, 100, step=True)
    assert step.name == "100/s at 100 -> 800 -> 100 ms" and step.slowest() == 0.8
    assert step.sandbox_options() == [
        "--rate-limit",
        "100/1",
        "--latency-ms",
        "100",
        "--latency-spread",
        "0.5",
        "--latency-step",
        "4=800",
        "--latency-step",
        "8=100",
    ]


def test_a_cap_cell_caps_the_run_and_leaves_the_sandbox_unlimited() -> None:
    cap = Cell(100, 1000, cap=True)
    assert cap.name == "--rate-limit 100/1 at 1000 ms"
    assert "--rate-limit" not in cap.sandbox_options()
    assert cap.run_options() == ["--rate-limit", "100/1"]
    assert Cell(100, 1000).run_options() == []
