"""Measure batch-sms against the sandbox in its own process, and write benchmarks/results.md.

    python benchmarks/run.py                           # everything at the issue's sizes
    python benchmarks/run.py --only rate,overhead --scale 0.1

1. rate:     40 requests per 1 s window, 2,000 rows: share of the limit used, 429s, failures.
2. latency:  100 ms per answer, 1,000 rows: rows/s at --concurrency 8 and 32 against a loop of
             the official client (closeio, in benchmarks/out/baseline-venv, made once).
3. overhead: no latency, no limit, 20,000 rows: rows/s and CPU seconds per 1,000 rows.
4. memory:   peak RSS of a dry run and a real run of 1,000,000 rows, and of a quarter of them.
5. report:   `batch-sms report` of a 100,000-row results file: seconds and peak RSS, against
             reading the file once; the same at a quarter of the rows.
6. export:   50,000 SMS at 40 list requests per 1 s window: SMS/s as a share of the ideal
             (40 x 100 per page), every SMS once, peak RSS (and at a quarter of the SMS).
7. ride:     limits of 16 to 200 requests a second x answer times of 50 ms to 1 s, and answer
             times stepping from 100 ms to 800 ms and back, 12 seconds' worth of rows each:
             share of the limit, 429s, peak in flight and CPU per row, with the defaults and
             with the old fixed --concurrency 8; and a user's --rate-limit with no limit in
             the sandbox, at three of those answer times.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

# Run as a script, Python puts benchmarks/ on the path; the package lives one level up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.measures import MEASUREMENTS, Setup  # noqa: E402
from benchmarks.report import Figure, Table, header_lines, markdown  # noqa: E402

HERE = Path(__file__).resolve().parent


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--only",
        default=",".join(MEASUREMENTS),
        help=f"comma-separated measurements to run (default: {','.join(MEASUREMENTS)})",
    )
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply every row count (default: 1)"
    )
    parser.add_argument(
        "--memory-rows", type=int, help="rows for the memory runs (default: 1,000,000 x scale)"
    )
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the official client's loop"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="ride: 4 cells of the grid and the latency step, not all 20 (default: all)",
    )
    parser.add_argument(
        "--note", action="append", default=[], help="a line for the results' header (repeatable)"
    )
    parser.add_argument(
        "--out", type=Path, default=HERE / "results.md", help="default: benchmarks/results.md"
    )
    parser.add_argument(
        "--work", type=Path, default=HERE / "out", help="inputs, results, logs, the baseline venv"
    )
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(args.only) - set(MEASUREMENTS))
    if unknown or not args.only:
        parser.error(f"--only takes {', '.join(MEASUREMENTS)}; not {', '.join(unknown)}")
    if args.scale <= 0:
        parser.error("--scale must be positive")
    return args


def run_suite(names: Sequence[str], setup: Setup) -> list[Figure | Table]:
    setup.folder.mkdir(parents=True, exist_ok=True)
    return [figure for name in names for figure in MEASUREMENTS[name](setup)]


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    setup = Setup(args.work, args.scale, args.memory_rows, not args.no_baseline, args.quick)
    # Taken before measuring: the code measured is the code at the start, and a long run
    # may see commits land meanwhile.
    notes = [f"Scale: {args.scale:g} of the issue's row counts", *args.note]
    header = header_lines(datetime.now(UTC), notes)
    results = run_suite(args.only, setup)
    figures = [result for result in results if isinstance(result, Figure)]
    tables = [result for result in results if isinstance(result, Table)]
    table = markdown(figures, header, tables)
    print(table)
    args.out.write_text(table, encoding="utf-8")
    print(f"Written to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
