"""The progress bar's rate and ETA follow the rate being ridden now, not the run's average."""

from __future__ import annotations

import io

import pytest

from batch_sms.cli import console
from batch_sms.models import Outcome, RowResult


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def updated() -> RowResult:
    return RowResult(0, Outcome.UPDATED)


def test_no_rate_before_the_first_row() -> None:
    clock = FakeClock()
    recent = console.RecentRate(clock=clock)
    clock.now = 3.0
    assert recent.per_second() is None


def test_rate_follows_a_slow_down_within_the_window() -> None:
    clock = FakeClock()
    recent = console.RecentRate(window=5.0, clock=clock)
    for _ in range(1000):  # 100 rows a second for 10 s
        clock.now += 0.01
        recent.row_done()
    assert recent.per_second() == pytest.approx(100, rel=0.01)
    for _ in range(120):  # then Close slows down: 20 a second for 6 s
        clock.now += 0.05
        recent.row_done()
    # The average since the start would be 1120 / 16 = 70.
    assert recent.per_second() == pytest.approx(20, rel=0.01)


def test_rate_falls_while_nothing_comes_back() -> None:
    clock = FakeClock()
    recent = console.RecentRate(window=5.0, clock=clock)
    for _ in range(500):
        clock.now += 0.01
        recent.row_done()
    clock.now += 2.5  # a 429 pause: half the window without a row
    assert recent.per_second() == pytest.approx(250 / 5, rel=0.01)
    clock.now += 10
    assert recent.per_second() is None


def test_the_bar_shows_the_recent_rate_and_its_eta(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    clock = FakeClock()
    recent = console.RecentRate(clock=clock)
    with console.progress(2000, quiet=False, recent=recent) as advance:
        for _ in range(1000):
            clock.now += 0.01
            advance(updated())
        for _ in range(120):
            clock.now += 0.05
            advance(updated())
    last = terminal.getvalue().split("\r")[-1]
    assert "1120/2000" in last
    assert "20.00row/s" in last
    assert "<00:44" in last  # 880 rows left at 20 a second
    assert "ok=1120" in last


def test_quiet_shows_no_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    with console.progress(10, quiet=True) as advance:
        advance(updated())
    assert terminal.getvalue() == ""
