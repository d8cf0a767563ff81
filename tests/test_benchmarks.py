"""Smoke test of the benchmark suite at a tiny scale, so that the script does not rot.

No timing is asserted: the machine running the tests is not a benchmark machine.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from batch_sms.validation import ACTIVITY_ID
from benchmarks.harness import activity_id
from benchmarks.measures import Setup
from benchmarks.report import HEADER, header_lines
from benchmarks.run import main, parse_args, run_suite

OVERHEAD_ROWS = [
    "overhead: rows/s, whole command (30 rows)",
    "overhead: rows/s, sending phase",
    "overhead: CPU per 1,000 rows (user+sys)",
    "overhead: failed rows",
]


def test_overhead_at_a_tiny_scale(tmp_path: Path) -> None:
    setup = Setup(tmp_path, scale=30 / 20_000, baseline=False, log=lambda line: None)
    figures = run_suite(["overhead"], setup)
    assert [figure.measurement for figure in figures] == OVERHEAD_ROWS
    assert all(figure.value > 0 for figure in figures[:3])
    assert figures[3].value == 0 and figures[3].passed is True
    assert (tmp_path / "overhead.results.csv").exists()


def test_the_results_file_has_the_header_and_a_line_per_figure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results.md"
    main(["--only", "overhead", "--scale", "0.0005", "--work", str(tmp_path), "--out", str(out)])
    text = out.read_text(encoding="utf-8")
    assert text == capsys.readouterr().out.removesuffix("\n")
    assert "| " + " | ".join(HEADER) + " |" in text
    assert "Cores (os.cpu_count()): " in text and "Commit: " in text
    assert sum(line.startswith("| overhead: ") for line in text.splitlines()) == 4


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
