"""The measurements; each starts its own sandbox process(es) and returns its figures (the
report's needs no sandbox: it reads a results file).

The input rows edit drafts' text (no SMS is sent): every row is one PUT, like a send, but a
rerun of the benchmark needs no fresh drafts and the sandbox keeps no send counters.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.campaign_results import write_campaign_results
from benchmarks.harness import (
    Run,
    Stats,
    Usage,
    baseline_python,
    measure,
    run_baseline,
    run_export,
    run_tool,
    sandbox,
)
from benchmarks.harness import write_input as _write_input
from benchmarks.report import Figure, Table
from benchmarks.ride import ride_grid

RATE_LIMIT = 40  # requests per window, like a tight Close endpoint
RATE_WINDOW = 1.0  # seconds
LATENCY_MS = 100.0
GOAL_RATE_SHARE = 0.95
GOAL_429_SHARE = 0.02
GOAL_SPEED_UP = 20.0
MIB = 1024 * 1024
PAGE_SIZE = 100  # SMS per list request, as the export asks
GOAL_EXPORT_SHARE = 0.9


@dataclass(frozen=True)
class Setup:
    folder: Path  # inputs, results and logs go here
    scale: float = 1.0  # row counts are the times this
    memory_rows: int | None = None  # default: 1,000,000 times scale
    baseline: bool = True  # run the official client in its own venv
    quick: bool = False  # ride: a few cells of the grid, for iterating
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr)

    def rows(self, full: int) -> int:
        return max(10, round(full * self.scale))

    def write_input(self, name: str, rows: int) -> Path:
        self.log(f"{name}: {rows:,} rows")
        return _write_input(self.folder / f"{name}.csv", rows)


def failed_rows(run: Run) -> int:
    return sum(count for outcome, count in run.outcomes.items() if outcome != "updated")


# --- 1. Rate-limit riding ---------------------------------------------------------------------


def rate_limit_riding(setup: Setup) -> list[Figure]:
    """No client-side cap: the tool must ride the sandbox's RateLimit headers and 429s."""
    rows = setup.rows(2000)
    source = setup.write_input("rate", rows)
    with sandbox("--rate-limit", f"{RATE_LIMIT}/{RATE_WINDOW:g}") as server:
        run = run_tool(source, server.base_url)
        stats = server.stats()
    # The span ends one window after the last request: a run that fills every window it
    # touches scores 1.0, however few windows there are.
    span = stats.span(tail=RATE_WINDOW)
    share = stats.requests / span / RATE_LIMIT
    accepted = (stats.requests - stats.by_status.get(429, 0)) / span / RATE_LIMIT
    failed = failed_rows(run)
    limit = f"{RATE_LIMIT}/{RATE_WINDOW:g} s"
    return [
        Figure(
            f"rate: requests/s as share of the limit ({limit}, {rows:,} rows, default concurrency)",
            share,
            "",
            f"goal >= {GOAL_RATE_SHARE}",
            passed=share >= GOAL_RATE_SHARE,
        ),
        Figure("rate: the same, counting only requests not answered 429", accepted, ""),
        Figure(
            "rate: requests answered 429",
            stats.share(429) * 100,
            "%",
            f"goal < {GOAL_429_SHARE:.0%}",
            passed=stats.share(429) < GOAL_429_SHARE,
        ),
        Figure("rate: failed rows", failed, "rows", "goal 0", passed=failed == 0),
        Figure("rate: rows/s, whole command (with start-up)", rows / run.usage.wall, "rows/s"),
    ]


# --- 2. Latency hiding ------------------------------------------------------------------------


def latency_hiding(setup: Setup) -> list[Figure]:
    """Rows/s at 100 ms per answer, ours at --concurrency 8 and 32 against the official client."""
    rows = setup.rows(1000)
    source = setup.write_input("latency", rows)
    ours = {level: _ours_with_latency(source, level) for level in (8, 32)}
    baseline = _baseline_with_latency(setup, source) if setup.baseline else None
    figures = [_against_baseline(level, *ours[level], baseline) for level in (8, 32)]
    whole = rows / ours[32][1].usage.wall
    figures.append(Figure("latency: rows/s at --concurrency 32, whole command", whole, "rows/s"))
    if baseline is not None:
        figures.append(Figure("latency: baseline rows/s (closeio, api.put per row)", baseline, ""))
    return figures


def _ours_with_latency(source: Path, concurrency: int) -> tuple[float, Run]:
    with sandbox("--latency-ms", f"{LATENCY_MS:g}") as server:
        run = run_tool(source, server.base_url, "--concurrency", str(concurrency))
        stats = server.stats()
    return _phase_rate(run.outcomes["updated"], stats), run


def _baseline_with_latency(setup: Setup, source: Path) -> float:
    python = baseline_python(setup.folder / "baseline-venv")
    with sandbox("--latency-ms", f"{LATENCY_MS:g}") as server:
        figures = run_baseline(python, source, server.base_url)
        stats = server.stats()
    return _phase_rate(int(figures["rows"] - figures["errors"]), stats)


def _phase_rate(rows: int, stats: Stats) -> float:
    """Rows per second from the first request's arrival to the last one's answer."""
    return rows / stats.span(tail=LATENCY_MS / 1000)


def _against_baseline(level: int, rate: float, run: Run, baseline: float | None) -> Figure:
    name = f"latency: rows/s at --concurrency {level}, sending phase"
    if baseline is None:
        return Figure(name, rate, "rows/s", "baseline not run")
    ratio = rate / baseline
    if level != 32:
        return Figure(name, rate, "rows/s", f"baseline {baseline:.1f} rows/s", ratio)
    reference = f"baseline {baseline:.1f} rows/s, goal >= {GOAL_SPEED_UP:g}x"
    return Figure(name, rate, "rows/s", reference, ratio, ratio >= GOAL_SPEED_UP)


# --- 3. Overhead ------------------------------------------------------------------------------


def overhead(setup: Setup) -> list[Figure]:
    """No latency, no limit: the ceiling our own code sets (the sandbox shares the cores)."""
    rows = setup.rows(20_000)
    source = setup.write_input("overhead", rows)
    with sandbox() as server:
        run = run_tool(source, server.base_url)
        stats = server.stats()
    return [
        Figure(f"overhead: rows/s, whole command ({rows:,} rows)", rows / run.usage.wall, "rows/s"),
        Figure("overhead: rows/s, sending phase", rows / stats.span(), "rows/s"),
        Figure("overhead: CPU per 1,000 rows (user+sys)", run.usage.cpu / rows * 1000, "s"),
        Figure(
            "overhead: failed rows", failed_rows(run), "rows", "goal 0", None, failed_rows(run) == 0
        ),
    ]


# --- 4. Memory --------------------------------------------------------------------------------


def memory(setup: Setup) -> list[Figure]:
    """Peak RSS of a dry run and a real run; the same at a quarter size shows the growth."""
    rows = setup.memory_rows or setup.rows(1_000_000)
    small = max(rows // 4, 10)
    sources = {size: setup.write_input(f"memory-{size}", size) for size in (small, rows)}
    dry = {size: (run_tool(source, None), None) for size, source in sources.items()}
    real = {size: _real_run(source) for size, source in sources.items()}
    figures = [
        _peak(f"memory: peak RSS, dry run, {rows:,} rows", dry[rows][0], dry[small][0], small),
        _peak(f"memory: peak RSS, real run, {rows:,} rows", real[rows][0], real[small][0], small),
        _growth("memory: RSS per extra row, real run", real, small, rows),
        _linearity(real, small, rows),
    ]
    if (server_rss := real[rows][1]) is not None:
        name = f"memory: the sandbox's peak RSS, real run, {rows:,} rows"
        figures.append(Figure(name, server_rss, "MiB"))
    return figures


def _real_run(source: Path) -> tuple[Run, float | None]:
    """The run, and the sandbox's peak RSS (it keeps what each row changed)."""
    with sandbox() as server:
        return run_tool(source, server.base_url), server.peak_rss_mb()


def _peak(name: str, run: Run, small_run: Run, small: int) -> Figure:
    reference = f"{small_run.usage.peak_rss_mb:,.0f} MiB at {small:,} rows"
    return Figure(name, run.usage.peak_rss_mb, "MiB", reference)


def _growth(name: str, runs: dict[int, tuple[Run, float | None]], small: int, rows: int) -> Figure:
    extra = (runs[rows][0].usage.peak_rss_mb - runs[small][0].usage.peak_rss_mb) * MIB
    return Figure(f"{name} ({small:,} -> {rows:,})", extra / (rows - small), "bytes")


def _linearity(runs: dict[int, tuple[Run, float | None]], small: int, rows: int) -> Figure:
    """Rows/s at full size over rows/s at a quarter: about 1.0 when time grows linearly."""
    rate, small_rate = rows / runs[rows][0].usage.wall, small / runs[small][0].usage.wall
    reference = f"{small_rate:,.0f} rows/s at {small:,} rows"
    return Figure(
        f"memory: real run rows/s, {rows:,} rows", rate, "rows/s", reference, rate / small_rate
    )


# --- 5. Report --------------------------------------------------------------------------------

GOAL_REPORT_SECONDS = 10.0
READ_ONLY = (
    "import sys; from pathlib import Path; from batch_sms.files.rows import read_table\n"
    "for row in read_table(Path(sys.argv[1])).rows(): pass"
)


def report(setup: Setup) -> list[Figure]:
    """`batch-sms report` of a 100,000-row results file, against reading the file once; the
    same at a quarter of the rows shows whether memory stays flat."""
    rows = setup.rows(100_000)
    small = max(rows // 4, 10)
    sources = {size: _campaign_results(setup, size) for size in (small, rows)}
    made = {size: _report(source) for size, source in sources.items()}
    read = _read_only(sources[rows])
    wall = made[rows].wall
    extra = (made[rows].peak_rss_mb - made[small].peak_rss_mb) * MIB / (rows - small)
    page = sources[rows].with_suffix(".html").stat().st_size / 1024
    return [
        Figure(
            f"report: seconds for {rows:,} rows (whole command)",
            wall,
            "s",
            f"reading the file once: {read.wall:.2f} s; goal <= {GOAL_REPORT_SECONDS:g} s",
            wall / read.wall,
            wall <= GOAL_REPORT_SECONDS,
        ),
        Figure(
            f"report: peak RSS, {rows:,} rows",
            made[rows].peak_rss_mb,
            "MiB",
            f"reading the file once: {read.peak_rss_mb:,.0f} MiB",
            made[rows].peak_rss_mb / read.peak_rss_mb,
        ),
        Figure(f"report: RSS per extra row ({small:,} -> {rows:,})", extra, "bytes"),
        Figure("report: size of the page", page, "KiB"),
    ]


def _campaign_results(setup: Setup, rows: int) -> Path:
    setup.log(f"report: a results file of {rows:,} rows")
    return write_campaign_results(setup.folder / f"report-{rows}.results.csv", rows)


def _report(source: Path) -> Usage:
    command = [sys.executable, "-m", "batch_sms", "report", str(source), "--overwrite"]
    usage = measure([*command, "--quiet-hours", "21:00-08:00"], source.with_suffix(".log"))
    if usage.exit_code != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {usage.exit_code}")
    return usage


def _read_only(source: Path) -> Usage:
    usage = measure([sys.executable, "-c", READ_ONLY, str(source)], source.with_suffix(".read.log"))
    if usage.exit_code != 0:
        raise RuntimeError(f"reading {source} exited with {usage.exit_code}")
    return usage


# --- 6. Export ---------------------------------------------------------------------------------


def export_listing(setup: Setup) -> list[Figure]:
    """A long list at a tight list limit: SMS/s against the ideal (limit x page size), every
    SMS exactly once, and flat memory (peak RSS at full size against a quarter of it)."""
    sizes = {size: size for size in (max(setup.rows(50_000) // 4, 10), setup.rows(50_000))}
    runs = {size: _export_run(setup, size) for size in sizes}
    small, full = sorted(runs)
    usage, exported, stats = runs[full]
    ideal = RATE_LIMIT / RATE_WINDOW * PAGE_SIZE
    # The span ends one request's share of a window after the last request: N requests at
    # the limit take N / limit windows, however the last window is filled.
    share = full / stats.span(tail=RATE_WINDOW / RATE_LIMIT) / ideal
    limit = f"{RATE_LIMIT}/{RATE_WINDOW:g} s x {PAGE_SIZE}"
    return [
        Figure(
            f"export: SMS/s as share of the ideal ({limit} per page, {full:,} SMS)",
            share,
            "",
            f"goal >= {GOAL_EXPORT_SHARE}",
            passed=share >= GOAL_EXPORT_SHARE,
        ),
        Figure("export: SMS/s, whole command (with start-up)", full / usage.wall, "SMS/s"),
        Figure("export: list requests per 100 SMS", stats.requests / full * 100, ""),
        Figure(
            "export: SMS in the file", exported, "SMS", f"goal {full:,}", passed=exported == full
        ),
        Figure(
            f"export: peak RSS, {full:,} SMS",
            usage.peak_rss_mb,
            "MiB",
            f"{runs[small][0].peak_rss_mb:,.0f} MiB at {small:,} SMS",
        ),
    ]


def _export_run(setup: Setup, size: int) -> tuple[Usage, int, Stats]:
    setup.log(f"export: {size:,} SMS in the sandbox")
    options = ("--seed-demo", str(size), "--rate-limit", f"{RATE_LIMIT}/{RATE_WINDOW:g}")
    with sandbox(*options) as server:
        usage, exported = run_export(setup.folder / f"export-{size}.csv", server.base_url)
        stats = server.stats()
    return usage, exported, stats


MEASUREMENTS: dict[str, Callable[[Setup], list[Figure] | list[Figure | Table]]] = {
    "rate": rate_limit_riding,
    "latency": latency_hiding,
    "overhead": overhead,
    "memory": memory,
    "report": report,
    "export": export_listing,
    "ride": ride_grid,  # 7. in a module of its own: benchmarks/ride.py
}
