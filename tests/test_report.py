"""The HTML report: what it counts from a results file, how it groups reasons and draws time, and
the `report` command. The page in a real browser: test_report_browser.py."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from batch_sms.checks.times import QuietHours
from batch_sms.checks.validation import CheckOptions
from batch_sms.cli import cli
from batch_sms.errors import InputError
from batch_sms.files import columns
from batch_sms.files.rows import read_table
from batch_sms.models import Outcome, RowResult
from batch_sms.output.charts import Bar, Gap
from batch_sms.output.deliveries import hour_number, quiet_share
from batch_sms.output.reasons import (
    LONGEST_MESSAGE,
    OTHER_REASONS,
    ReasonGroups,
    group_reasons,
    normalize_reason,
)
from batch_sms.output.report import ReportBuilder, RunFacts, write_report
from batch_sms.output.timeline import MOST_BARS, timeline
from tests.conftest import NOW, WriteCsv, activity_id, read_csv, write_results
from tests.report_pages import PageFacts, outcome_counts, read_page

SAMPLE = Path(__file__).parent.parent / "samples" / "campaign.csv"
QUIET = QuietHours(time(21, 0), time(8, 0))
NEW_YORK, BERLIN, TOLL_FREE = "+16465552000", "+4915112345678", "+18005550100"


def invoke(*args: object) -> Result:
    runner = CliRunner(env={"CLOSE_API_KEY": None, "CLOSE_BASE_URL": None})
    return runner.invoke(cli, [str(arg) for arg in args], catch_exceptions=False)


def result_row(number: int, **cells: str) -> dict[str, str]:
    """A results file's row: the input's cells, then every results column."""
    row = {"id": activity_id(number), "text": "", "status": "", "date_scheduled": ""}
    row["remote_phone"] = ""
    row.update(dict.fromkeys(columns.RESULTS, ""))
    row.update(cells)
    return row


WriteResults = Callable[..., Path]


@pytest.fixture
def write_results_file(write_csv: WriteCsv) -> WriteResults:
    def write(rows: list[dict[str, str]], name: str = "campaign.results.csv") -> Path:
        return write_csv(rows, name=name, header=list(rows[0]))

    return write


def report_of(path: Path) -> tuple[str, dict[str, int]]:
    out = path.with_suffix(".html")
    summary = write_report(path, out)
    return out.read_text(encoding="utf-8"), summary.outcomes


# --- Reasons --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            "remote_phone: '(415) 555-01' has no country code; write it in E.164 format",
            "remote_phone: '555 0199' has no country code; write it in E.164 format",
        ),
        (
            "Date Scheduled: 2024-03-05T09:00:00-05:00 is in the past (now is 2026-11-30T04:48Z)",
            "Date Scheduled: 2025-01-01T10:30:00Z is in the past (now is 2026-12-01T00:00+00:00)",
        ),
        (
            f"id: {activity_id(1)} already appears in row 2; each SMS may appear only once",
            f"id: {activity_id(7)} already appears in row 31; each SMS may appear only once",
        ),
        (
            "Close rejected the update (400): local_phone: +12125550123 is not one of yours.",
            "Close rejected the update (400): local_phone: +442071838750 is not one of yours.",
        ),
        (
            "text: is 1043 characters long; Close's limit is 1000",
            "text: is 1200 characters long; Close's limit is 1000",
        ),
    ],
)
def test_the_same_reason_with_other_values_is_one_group(first: str, second: str) -> None:
    assert normalize_reason(first) == normalize_reason(second)
    [group] = group_reasons([(4, first), (9, second)])
    assert (group.count, group.rows, group.example) == (2, (4, 9), first)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            "Close has no SMS activity with this id (404)",
            "Close has no SMS activity with this id (400)",
        ),
        ("remote_phone: '1' is too short", "local_phone: '1' is too short"),
        ("write it in E.164 format", "write it in E.999 format"),
    ],
)
def test_different_reasons_stay_apart(first: str, second: str) -> None:
    assert len(group_reasons([(2, first), (3, second)])) == 2


def test_groups_come_largest_first_with_their_first_rows() -> None:
    messages = [(n, "status: 'x' is not a status") for n in range(2, 40)]
    messages += [(n, f"Close rejected the update (400): {n}") for n in (5, 6)]
    big, small = group_reasons(messages, rows_kept=3)
    assert (big.count, big.rows, big.describe_rows()) == (38, (2, 3, 4), "rows 2, 3, 4 and 35 more")
    assert (small.count, small.describe_rows()) == (2, "rows 5, 6")
    assert small.reason == "Close rejected the update (400): N"


def test_reasons_past_the_cap_are_counted_together() -> None:
    grouper = ReasonGroups(rows_kept=2, groups_kept=2)
    for number, word in enumerate(["alpha", "beta", "gamma", "delta", "gamma"], start=2):
        grouper.add(number, f"{word} went wrong")
    groups = grouper.groups()
    assert [(g.reason, g.count, g.rows, g.other) for g in groups] == [
        ("alpha went wrong", 1, (2,), False),
        ("beta went wrong", 1, (3,), False),
        (OTHER_REASONS, 3, (4, 5), True),
    ]
    assert grouper.total == 5


def test_a_huge_message_is_kept_short() -> None:
    [group] = group_reasons([(2, "x" * 100_000)])
    assert len(group.reason) == len(group.example) == LONGEST_MESSAGE


# --- Time: hours, breaks, quiet hours -------------------------------------------------------


def test_quiet_hours_shade_the_part_of_each_hour_they_cover() -> None:
    late = QuietHours(time(21, 30), time(8, 0))
    assert quiet_share(late, 20) == ()
    assert quiet_share(late, 21) == ((0.5, 1.0),)
    assert quiet_share(late, 3) == ((0.0, 1.0),)
    assert quiet_share(late, 8) == ()
    assert quiet_share(QuietHours(time(12, 15), time(12, 45)), 12) == ((0.25, 0.75),)


def test_a_long_empty_stretch_is_a_break_in_the_axis() -> None:
    now = hour_number(datetime(2026, 11, 30, 4))
    later = hour_number(datetime(2029, 3, 6, 8))
    drawn = timeline({now: [12, 0], later: [0, 4], later + 2: [0, 4]}, QUIET)
    assert drawn.unit.hours == 1
    bars = [item for item in drawn.items if isinstance(item, Bar)]
    assert [item.label for item in bars] == ["04:00", "08:00", "09:00", "10:00"]
    assert [sum(bar.values) for bar in bars] == [12, 4, 0, 4]
    [gap] = [item for item in drawn.items if isinstance(item, Gap)]
    assert gap.label == "2.3 years"
    assert [bar.group for bar in bars] == ["2026-11-30", "2029-03-06", "", ""]
    assert bars[0].shaded == ((0.0, 1.0),) and bars[2].shaded == ()


@pytest.mark.parametrize(("days", "unit"), [(3, "hour"), (60, "day"), (150, "week")])
def test_hours_spread_over_many_days_become_longer_bars(days: int, unit: str) -> None:
    start = hour_number(datetime(2027, 1, 1, 9))
    drawn = timeline({start + 24 * day: [1, 1] for day in range(days)})
    assert drawn.unit.name == unit
    assert len(drawn.items) <= MOST_BARS
    assert sum(sum(item.values) for item in drawn.items if isinstance(item, Bar)) == 2 * days


# --- What the page counts -------------------------------------------------------------------


def test_the_sample_campaign_report_has_the_results_files_counts(tmp_path: Path) -> None:
    results = tmp_path / "campaign.results.csv"
    assert invoke("run", SAMPLE, "--sandbox", "--out", results, "--quiet").exit_code == 1
    made = invoke("report", results, "--quiet-hours", "21:00-08:00")
    assert made.exit_code == 0, made.output
    report = tmp_path / "campaign.results.html"
    assert made.output == f"51 rows: 40 updated, 8 invalid, 2 failed, 1 skipped\nReport: {report}\n"
    page = read_page(report.read_text(encoding="utf-8"))
    assert page.outcomes == outcome_counts(results)
    rows = read_csv(results)
    statuses = Counter(row["close_status"] for row in rows if row["outcome"] == "updated")
    assert page.counts["sent-now"] == statuses["sent"] + statuses["outbox"]
    assert page.counts["scheduled"] == statuses["scheduled"]
    assert page.counts["edited"] == statuses["draft"]
    assert page.counts["total-rows"] == len(rows)
    segments = sum(int(r["segments"]) for r in rows if r["outcome"] == "updated" and r["segments"])
    assert page.counts["segments-total"] == segments
    # Scheduled for 09:00 in Berlin and London, the New York numbers get them at 03:00 and
    # 04:00 their time; the German number sent now gets it at night unless run by day there.
    assert page.counts["in-quiet-hours"] >= 8
    assert "rows 42" not in page.text and "row 42" in page.text


def test_a_dry_run_report_shows_the_plan_as_the_terminal_does(tmp_path: Path) -> None:
    results = tmp_path / "plan.results.csv"
    planned = invoke("run", SAMPLE, "--dry-run", "--out", results)
    html, outcomes = report_of(results)
    page = read_page(html)
    assert outcomes == page.outcomes == outcome_counts(results)
    assert "If run for real" in page.text and "Dry run: nothing was sent" in page.text
    for line in (
        "14 SMS will be sent now",
        "16 SMS will be scheduled between 2029-03-06 08:00 UTC and 2029-03-06 17:30 UTC",
        "12 SMS will only be edited (nothing sent)",
        "41 SMS segments in all",
    ):
        assert line in planned.output
    assert "14 SMS will be sent now" in page.text
    assert (
        "16 SMS will be scheduled between 2029-03-06 08:00 UTC and 2029-03-06 17:30 UTC"
        in page.text
    )
    assert "12 SMS will only be edited (nothing sent)" in page.text
    assert page.counts["segments-total"] == 41


def test_a_dry_rerun_plans_only_the_rows_not_yet_updated(tmp_path: Path) -> None:
    results = tmp_path / "campaign.results.csv"
    assert invoke("run", SAMPLE, "--sandbox", "--out", results, "--quiet").exit_code == 1
    plan = tmp_path / "plan.results.csv"
    planned = invoke("rerun", results, "--dry-run", "--out", plan)
    html, outcomes = report_of(plan)
    page = read_page(html)
    assert outcomes == {"updated": 40, "invalid": 8, "skipped": 1, "planned": 2}
    for line in (
        "2 SMS will be sent now",
        "0 SMS will be scheduled",
        "40 rows were updated by an earlier run: kept as they are",
        "8 rows are invalid and will not be sent",
    ):
        assert line in planned.output and line in page.text
    assert (page.counts["sent-now"], page.counts["segments-total"]) == (2, 2)


def test_local_time_comes_from_the_number_and_quiet_hours_are_counted(
    write_results_file: WriteResults,
) -> None:
    at_nine_berlin = "2029-03-06T09:00:00+01:00"
    rows = [
        result_row(
            0,
            status="scheduled",
            date_scheduled=at_nine_berlin,
            remote_phone=NEW_YORK,
            outcome="planned",
        ),
        result_row(
            1,
            status="scheduled",
            date_scheduled=at_nine_berlin,
            remote_phone=BERLIN,
            outcome="planned",
        ),
        result_row(
            2,
            status="scheduled",
            date_scheduled=at_nine_berlin,
            remote_phone=TOLL_FREE,
            outcome="planned",
        ),
        result_row(
            3,
            status="scheduled",
            date_scheduled="2029-03-06 09:00",
            remote_phone=BERLIN,
            outcome="planned",
        ),
    ]
    path = write_results_file(rows)
    builder = ReportBuilder(NOW, CheckOptions(quiet_hours=QUIET))
    for row in read_table(path).rows():
        builder.add(row)
    deliveries = builder.tally.landings().deliveries
    assert deliveries.local == {
        hour_number(datetime(2029, 3, 6, 3)): [0, 1],  # New York, 03:00: inside quiet hours
        hour_number(datetime(2029, 3, 6, 9)): [0, 1],  # Berlin, 09:00
    }
    assert (deliveries.unknown_zone, deliveries.unknown_time) == ([0, 1], [0, 1])
    assert deliveries.utc == {hour_number(datetime(2029, 3, 6, 8)): [0, 3]}
    summary = builder.summary(path)
    assert (summary.in_quiet_hours, summary.unknown_zone, summary.scheduled) == (1, 1, 4)
    page = read_page(builder.render())
    assert page.counts["unknown-zone"] == 1 and page.counts["in-quiet-hours"] == 1
    assert "1 scheduled SMS are in no chart" in page.text


def test_the_runs_timezone_places_times_and_recipients_the_number_does_not(
    write_results_file: WriteResults,
) -> None:
    rows = [
        result_row(0, status="scheduled", date_scheduled="2029-03-06 09:00", outcome="planned"),
        result_row(1, status="outbox", remote_phone="(646) 555-2001", outcome="planned"),
    ]
    path = write_results_file(rows)
    settings = CheckOptions("US", ZoneInfo("America/Chicago"), quiet_hours=QUIET)
    builder = ReportBuilder(datetime(2029, 3, 1, 17, 0, tzinfo=UTC), settings)
    for row in read_table(path).rows():
        builder.add(row)
    deliveries = builder.tally.landings().deliveries
    assert deliveries.utc == {
        hour_number(datetime(2029, 3, 6, 15)): [0, 1],
        hour_number(datetime(2029, 3, 1, 17)): [1, 0],
    }
    assert deliveries.local == {
        hour_number(datetime(2029, 3, 6, 9)): [0, 1],  # --timezone: no remote_phone
        hour_number(datetime(2029, 3, 1, 12)): [1, 0],  # a national New York number
    }
    assert builder.tally.landings().zone_from_option == 1


def test_a_campaign_over_many_days_adds_the_hour_of_day(
    write_results_file: WriteResults,
) -> None:
    rows = [
        result_row(
            day,
            status="scheduled",
            date_scheduled=f"2029-{3 + day // 28:02d}-{1 + day % 28:02d}T22:15:00+01:00",
            remote_phone=BERLIN,
            outcome="planned",
        )
        for day in range(120)
    ]
    path = write_results_file(rows)
    write_report(path, path.with_suffix(".html"), settings=CheckOptions(quiet_hours=QUIET))
    page = read_page(path.with_suffix(".html").read_text(encoding="utf-8"))
    assert "In UTC, one bar per week" in page.text
    assert "Hour of the day in the recipients' local time, all days together" in page.text
    # Berlin is at +01:00 until the end of March, then +02:00: 22:15 or 23:15 on their clocks.
    assert page.counts["in-quiet-hours"] == 120
    assert "the earliest lands at 22:15 and the latest at 23:15" in page.text


def test_a_real_run_places_sms_when_close_says_it_sent_or_schedules_them(
    write_results_file: WriteResults,
) -> None:
    rows = [
        result_row(
            0,
            status="outbox",
            outcome="updated",
            close_status="sent",
            close_date_sent="2026-11-29T12:40:00+00:00",
        ),
        result_row(1, status="outbox", outcome="updated", close_status="outbox"),
        result_row(
            2,
            status="scheduled",
            date_scheduled="2029-03-06T09:00:00-05:00",
            outcome="updated",
            close_status="scheduled",
            close_date_scheduled="2029-03-06T14:00:00+00:00",
        ),
        result_row(3, text="Hello", outcome="updated", close_status="draft", segments="1"),
        result_row(
            4,
            status="outbox",
            outcome="updated",
            close_status="error",
            close_date_sent="2026-11-29T12:41:00+00:00",
            close_error_message="Carrier refused the message",
        ),
    ]
    path = write_results_file(rows)
    builder = ReportBuilder(datetime(2026, 11, 29, 13, 5, tzinfo=UTC))
    for row in read_table(path).rows():
        builder.add(row)
    assert builder.tally.landings().deliveries.utc == {
        hour_number(datetime(2026, 11, 29, 12)): [2, 0],
        hour_number(datetime(2026, 11, 29, 13)): [1, 0],  # still in the outbox: the run's start
        hour_number(datetime(2029, 3, 6, 14)): [0, 1],
    }
    summary = builder.summary(path)
    assert (summary.sent_now, summary.scheduled, summary.edited, summary.dry_run) == (
        3,
        1,
        1,
        False,
    )
    page = read_page(builder.render())
    assert "Updated, but Close shows the SMS in error: 1 row" in page.text
    assert "Carrier refused the message" in page.text


def test_segments_add_up_and_single_characters_that_cost_ucs2_are_named(
    write_results_file: WriteResults,
) -> None:
    rows = [
        result_row(0, text="Plain text", status="outbox", outcome="planned", segments="1"),
        result_row(1, text="It’s ready", status="outbox", outcome="planned", segments="1"),
        result_row(2, text="x" * 200, outcome="planned", segments="2"),
        result_row(3, text="Привет, как дела?", status="outbox", outcome="planned", segments="1"),
        result_row(4, text="Backtick ` here", status="outbox", outcome="planned", segments="1"),
        result_row(5, text="ignored", status="outbox", outcome="invalid", error_message="bad"),
    ]
    builder = ReportBuilder(NOW)
    for row in read_table(write_results_file(rows)).rows():
        builder.add(row)
    segments = builder.tally.landings().segments
    assert (segments.sends, segments.edits) == (4, 2)
    assert segments.histogram == {1: [4, 0], 2: [0, 1]}
    assert (segments.ucs2_rows, segments.single_character_rows) == (3, 2)
    assert [number for number, _ in segments.first_single_character] == [3, 6]
    page = read_page(builder.render())
    assert page.counts["ucs2-rows"] == 3 and page.counts["single-character-rows"] == 2
    assert "row 3 ’ (RIGHT SINGLE QUOTATION MARK) makes this UCS-2" in page.text


def test_cells_that_hold_markup_are_shown_as_text(
    write_results_file: WriteResults,
) -> None:
    script = "<script>alert('x')</script>"
    rows = [
        result_row(
            0,
            text=script,
            status="outbox",
            remote_phone=BERLIN,
            outcome="failed",
            error_message=f"Close said: {script}",
        ),
        result_row(1, text="It’s <img src=x onerror=alert(1)>", outcome="planned", segments="1"),
    ]
    html, _ = report_of(write_results_file(rows, name="<b>&x.results.csv"))
    assert "<script" not in html.lower() and "<img" not in html.lower() and "<b>&" not in html
    assert "&lt;script&gt;" in html and "&lt;b&gt;&amp;x.results.csv" in html
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    page = read_page(html)
    assert page.tags["script"] == page.tags["img"] == 0
    assert "Close said: <script>alert('…')</script>" in page.text


def test_the_page_does_not_grow_with_the_rows(
    write_results_file: WriteResults,
) -> None:
    def rows(count: int) -> list[dict[str, str]]:
        return [
            result_row(
                n,
                text=f"Hi {n}",
                status="outbox",
                remote_phone=f"+1646555{n % 10_000:04d}",
                outcome="updated",
                close_status="sent",
                close_date_sent="2026-11-29T12:40:00+00:00",
                segments="1",
            )
            if n % 10
            else result_row(
                n,
                status="bogus",
                outcome="invalid",
                error_message=f"status: 'bogus{n}' is not a status",
            )
            for n in range(count)
        ]

    small, _ = report_of(write_results_file(rows(20), name="small.results.csv"))
    large, outcomes = report_of(write_results_file(rows(4_000), name="large.results.csv"))
    assert outcomes == {"updated": 3_600, "invalid": 400}
    assert len(large) < len(small) + 2_000
    assert activity_id(3_999) not in large and "Hi 3999" not in large


def test_feeding_results_as_a_run_makes_them_gives_the_same_report(
    tmp_path: Path, write_csv: WriteCsv
) -> None:
    source = write_csv(
        [
            {"id": activity_id(0), "status": "outbox", "remote_phone": BERLIN, "text": "Hi"},
            {"id": activity_id(1), "status": "bogus"},
            {"id": activity_id(2), "text": "Hi"},
        ]
    )
    table = read_table(source)
    results = [
        RowResult(
            0,
            Outcome.UPDATED,
            close_status="sent",
            close_date_sent="2026-11-29T12:40:00+00:00",
            segments=1,
        ),
        RowResult(1, Outcome.INVALID, error_message="Status: 'bogus' is not a status"),
        RowResult(
            2, Outcome.FAILED, error_message="Close rejected the update (400): no", segments=1
        ),
    ]
    out = tmp_path / "input.results.csv"
    write_results(table, results, out)
    live = ReportBuilder(NOW)
    for row, result in zip(table.rows(), results, strict=True):
        live.add_result(row, result)
    summary = write_report(out, tmp_path / "after.html")
    assert live.write(tmp_path / "live.html") == replace(summary, path=tmp_path / "live.html")
    assert read_page((tmp_path / "live.html").read_text(encoding="utf-8")).outcomes == {
        "updated": 1,
        "invalid": 1,
        "failed": 1,
    }
    assert summary.outcomes == {"updated": 1, "invalid": 1, "failed": 1}


def test_a_workbook_of_results_reports_like_a_csv(tmp_path: Path) -> None:
    workbook = tmp_path / "campaign.results.xlsx"
    assert invoke("run", SAMPLE, "--sandbox", "--out", workbook, "--quiet").exit_code == 1
    html, outcomes = report_of(workbook)
    assert outcomes == {"updated": 40, "invalid": 8, "failed": 2, "skipped": 1}
    assert read_page(html).outcomes == outcomes


def test_the_runs_facts_are_shown(tmp_path: Path, write_results_file: WriteResults) -> None:
    path = write_results_file([result_row(0, status="outbox", outcome="planned")])
    facts = RunFacts(
        command="run",
        input_path=Path("campaign.csv"),
        input_sha256="ab" * 32,
        started_at=datetime(2026, 11, 29, 12, 0, tzinfo=UTC),
        finished_at=datetime(2026, 11, 29, 12, 1, 30, tzinfo=UTC),
        options=(("--quiet-hours", "21:00-08:00"), ("--map", "<Send at>=date_scheduled")),
        version="9.9.9",
        requests=1234,
        rate_per_second=38.5,
        dry_run=True,
    )
    summary = write_report(path, tmp_path / "r.html", facts)
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    text = read_page(html).text
    assert "batch-sms run --dry-run" in text and "ab" * 32 in text
    assert "2026-11-29 12:01 UTC (90.0 s)" in text and "1,234" in text
    assert "38.5 requests per second" in text and "batch-sms 9.9.9" in text
    assert "--map <Send at>=date_scheduled" in text and "&lt;Send at&gt;" in html
    assert "placed at the run's start: 2026-11-29 12:00 UTC" in text
    assert summary.sent_now == 1


# --- The command ----------------------------------------------------------------------------


def test_the_command_refuses_what_is_not_a_results_file(tmp_path: Path) -> None:
    result = invoke("report", SAMPLE, "--out", tmp_path / "r.html")
    assert result.exit_code == 2
    assert "has no 'outcome' column, so it is not a results file" in result.output
    assert not (tmp_path / "r.html").exists()
    missing = invoke("report", tmp_path / "nope.csv")
    assert missing.exit_code == 2 and "nope.csv: no such file." in missing.output


def test_the_command_does_not_overwrite_a_report_unless_told(
    tmp_path: Path,
    write_results_file: WriteResults,
) -> None:
    path = write_results_file([result_row(0, status="outbox", outcome="planned")])
    out = tmp_path / "r.html"
    out.write_text("mine", encoding="utf-8")
    refused = invoke("report", path, "--out", out)
    assert refused.exit_code == 2 and "exists already" in refused.output
    assert out.read_text(encoding="utf-8") == "mine"
    assert invoke("report", path, "--out", out, "--overwrite").exit_code == 0
    assert read_page(out.read_text(encoding="utf-8")).outcomes == {"planned": 1}
    no_folder = invoke("report", path, "--out", tmp_path / "no" / "r.html")
    assert no_folder.exit_code == 2 and "does not exist" in no_folder.output


def test_a_bad_option_value_is_a_usage_error(
    write_results_file: WriteResults,
) -> None:
    path = write_results_file([result_row(0, status="outbox", outcome="planned")])
    result = invoke("report", path, "--quiet-hours", "9-5")
    assert result.exit_code == 2 and "is not a window of two 24-hour times" in result.output


def test_write_report_refuses_a_plain_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a results file"):
        write_report(SAMPLE, tmp_path / "r.html")


def page_of(path: Path) -> PageFacts:
    return read_page(path.read_text(encoding="utf-8"))


def test_run_and_dry_run_write_a_report_with_the_runs_facts(tmp_path: Path) -> None:
    from tests.test_cli import SAMPLE, invoke

    campaign = tmp_path / "campaign.csv"
    results = tmp_path / "campaign.results.csv"
    campaign.write_bytes(SAMPLE.read_bytes())
    planned = invoke("run", campaign, "--dry-run", "--report", tmp_path / "plan.html")
    assert f"Report: {tmp_path / 'plan.html'}" in planned.output
    assert page_of(tmp_path / "plan.html").outcomes == outcome_counts(results)

    sent = invoke(
        "run", campaign, "--sandbox", "--overwrite", "--report", tmp_path / "run.html",
        "--quiet-hours", "21:00-08:00", "--timezone", "Europe/Berlin",
    )  # fmt: skip
    page = page_of(tmp_path / "run.html")
    assert page.outcomes == outcome_counts(results), sent.output
    assert "--quiet-hours" in page.text and "Europe/Berlin" in page.text
    assert "batch-sms run" in page.text

    # Made afterwards, the report reads the run's ledger for its facts and options.
    later = invoke("report", results, "--out", tmp_path / "later.html")
    assert "Using the run's options: --quiet-hours 21:00-08:00" in later.output
    later_page = page_of(tmp_path / "later.html")
    assert later_page.outcomes == page.outcomes
    assert "Requests to Close" in later_page.text
