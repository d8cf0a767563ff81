"""Smoke test of the benchmark suite at a tiny scale, so that the script does not rot.

No timing is asserted: the machine running the tests is not a benchmark machine.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from batch_sms.checks.validation import ACTIVITY_ID
from benchmarks.harness import activity_id
from benchmarks.measures import MEASUREMENTS, Setup
from benchmarks.report import HEADER, Figure, header_lines
from benchmarks.run import main, parse_args, run_suite

SMOKE_ROWS = [
    "overhead: rows/s, whole command (30 rows)",
    "overhead: rows/s, sending phase",
    "overhead: CPU per 1,000 rows (user+sys)",
    "overhead: failed rows",
]


def test_overhead_at_a_tiny_scale(tmp_path: Path) -> None:
    """The real thing end to end: sandbox process, measured run, stats, results file."""
    setup = Setup(tmp_path, scale=30 / 20_000, baseline=False, log=lambda line: None)
    figures = run_suite(["overhead"], setup)
    assert [figure.measurement for figure in figures] == SMOKE_ROWS
    assert all(figure.value > 0 for figure in figures[:3])
    assert (figures[3].value, figures[3].passed) == (0, True)
    assert (tmp_path / "overhead.results.csv").exists()


def test_report_at_a_tiny_scale(tmp_path: Path) -> None:
    """The report's measurement end to end: results files, the measured command, the figures."""
    setup = Setup(tmp_path, scale=40 / 100_000, baseline=False, log=lambda line: None)
    figures = run_suite(["report"], setup)
    assert [figure.measurement for figure in figures] == [
        "report: seconds for 40 rows (whole command)",
        "report: peak RSS, 40 rows",
        "report: RSS per extra row (10 -> 40)",
        "report: size of the page",
    ]
    assert all(figure.value > 0 for figure in (figures[0], figures[1], figures[3]))
    assert figures[0].ratio is not None and figures[0].passed
    page = (tmp_path / "report-40.results.html").read_text(encoding="utf-8")
    assert 'data-outcome="updated"' in page


def test_main_prints_and_writes_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def fake(setup: Setup) -> list[Figure]:
        return [Figure("fake: rows/s", 12.5, "rows/s", "goal >= 10", passed=True)]

    monkeypatch.setitem(MEASUREMENTS, "overhead", fake)
    out = tmp_path / "results.md"
    main(["--only", "overhead", "--scale", "0.5", "--work", str(tmp_path), "--out", str(out)])
    text = out.read_text(encoding="utf-8")
    assert text == capsys.readouterr().out.removesuffix("\n")
    assert "| " + " | ".join(HEADER) + " |" in text
    assert "| fake: rows/s | 12.5 rows/s | goal >= 10 | - | pass |" in text
    assert "- Cores (os.cpu_count()): " in text and "- Commit: " in text
    assert "- Scale: 0.5 of the issue's row counts" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--only", "rate,speed"], "not speed"),
        (["--only", ","], "--only takes"),
        (["--scale", "0"], "--scale must be positive"),
    ],
)
def test_bad_options_are_refused(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_generated_ids_are_valid_and_unique() -> None:
    ids = [activity_id(number) for number in (0, 1, 61, 62, 10**6, 10**12)]
    assert all(ACTIVITY_ID.match(i) and len(i) == len("acti_") + 20 for i in ids)
    assert len(set(ids)) == len(ids)


def test_header_names_the_machine() -> None:
    lines = header_lines(datetime(2026, 11, 29, 12, 0, tzinfo=UTC), ["Scale: 1"])
    assert lines[0] == "Date: 2026-11-29 12:00 UTC"
    assert lines[-1] == "Scale: 1"
