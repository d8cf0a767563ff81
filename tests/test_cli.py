"""End-to-end: the real command against the real sandbox on loopback."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner, Result

from batch_sms.cli import ExitCode, cli
from batch_sms.files import columns
from batch_sms.sandbox import Fault, Sandbox
from tests.conftest import WriteCsv, activity_id, future, read_csv

SAMPLE = Path(__file__).parent.parent / "samples" / "campaign.csv"
MAY_HAVE_BEEN_SENT = "the SMS may have been sent: check it in Close before you run this row again"


def invoke(*args: object, env: dict[str, str | None] | None = None) -> Result:
    environment: dict[str, str | None] = {
        "CLOSE_API_KEY": None,
        "CLOSE_OAUTH_TOKEN": None,
        "CLOSE_BASE_URL": None,
        **(env or {}),
    }
    runner = CliRunner(env=environment)
    return runner.invoke(cli, [str(arg) for arg in args], catch_exceptions=False)


def against(server: Sandbox, *args: object) -> Result:
    """Run `batch-sms run` against a sandbox, fast retries, no confirmation prompt."""
    return invoke(
        "run",
        *args,
        "--base-url",
        server.base_url,
        "--api-key",
        server.config.api_key,
        "--retry-wait",
        "0.01",
        "--yes",
    )


def edits(count: int, start: int = 0) -> list[dict[str, str]]:
    return [{"id": activity_id(n), "text": f"Hello {n}"} for n in range(start, start + count)]


def sends(count: int, start: int = 0) -> list[dict[str, str]]:
    return [{"id": activity_id(n), "status": "outbox"} for n in range(start, start + count)]


def outcomes(path: Path) -> list[str]:
    return [row["outcome"] for row in read_csv(path)]


def puts(server: Sandbox, number: int) -> int:
    return sum(1 for e in server.log if e.method == "PUT" and e.activity_id == activity_id(number))


def test_the_sample_campaign_against_the_built_in_sandbox(tmp_path: Path) -> None:
    out = tmp_path / "campaign.results.csv"
    result = invoke("run", SAMPLE, "--sandbox", "--out", out)
    assert result.exit_code == ExitCode.ROWS_FAILED, result.output
    rows = read_csv(out)
    assert len(rows) == 51
    assert [row["id"] for row in rows] == [row["id"] for row in read_csv(SAMPLE)]
    by_note: dict[str, dict[str, str]] = {}
    for row in rows:
        by_note.setdefault(row["Notes"], row)  # the first row of each kind
    assert by_note["30 s undo window"]["close_status"] == "outbox"
    assert by_note["renewal wave 1"]["close_status"] == "sent"
    assert by_note["spring campaign, Berlin"]["close_status"] == "scheduled"
    assert by_note["spring campaign, Berlin"]["close_date_scheduled"] == (
        "2029-03-06T08:00:00+00:00"
    )
    assert by_note["typo fix in draft"]["outcome"] == "updated"
    for note in ("bad phone", "Excel ate the phone", "past date", "no UTC offset"):
        assert by_note[note]["outcome"] == "invalid", note
        assert by_note[note]["attempts"] == "0"
    assert by_note["duplicate id"]["error_message"].endswith(
        "already appears in row 2; each SMS may appear only once"
    )
    assert by_note["deleted in Close (404)"]["http_status"] == "404"
    assert by_note["not our Close number (Close answers 400)"]["error_message"] == (
        "Close rejected the update (400): local_phone: +12125550123 is not one of your "
        "organization's SMS-enabled numbers."
    )
    assert rows[-1]["outcome"] == "skipped"  # the empty row a spreadsheet export leaves
    assert result.stdout.splitlines()[1:6] == [
        "  updated             40",
        "  invalid              8",
        "  failed               2",
        "  skipped              1",
        f"Results: {out}",
    ]
    assert "Note: columns not sent (kept in the results): Contact, Notes" in result.stderr
    assert "row 44: Date Scheduled: 2024-03-05T09:00:00-05:00 is in the past" in result.stderr


def test_all_rows_updated_exits_0_and_reports_close_state(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    rows = edits(3) + sends(2, start=3)
    rows.append({"id": activity_id(5), "status": "scheduled", "date_scheduled": future()})
    sandbox.seed_drafts(row["id"] for row in rows)
    path = write_csv(rows)
    result = against(sandbox, path)
    assert result.exit_code == ExitCode.OK, result.output
    results = read_csv(path.with_name("input.results.csv"))
    assert outcomes(path.with_name("input.results.csv")) == ["updated"] * 6
    assert [r["close_status"] for r in results] == ["draft"] * 3 + ["sent"] * 2 + ["scheduled"]
    assert results[3]["close_date_sent"]
    assert sandbox.activity(activity_id(0))["text"] == "Hello 0"  # type: ignore[index]
    assert "To retry" not in result.stdout


def test_429_bursts_are_ridden_out_and_nothing_is_sent_twice(
    make_sandbox, write_csv: WriteCsv
) -> None:
    server = make_sandbox(rate_limit=5, rate_window=0.1)
    rows = edits(15) + sends(15, start=15)
    server.seed_drafts(row["id"] for row in rows)
    result = against(server, write_csv(rows), "--concurrency", "8", "--max-retries", "20")
    assert result.exit_code == ExitCode.OK, result.output
    assert any(entry.status_code == 429 for entry in server.log), "the limit was reached"
    assert all(server.sends(activity_id(n)) == 1 for n in range(15, 30))


def test_503s_are_retried_and_a_send_is_read_back_before_it_is_repeated(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    rows = edits(1) + sends(1, start=1)
    sandbox.seed_drafts(row["id"] for row in rows)
    sandbox.inject(activity_id(0), Fault.UNAVAILABLE, Fault.UNAVAILABLE)
    sandbox.inject(activity_id(1), Fault.UNAVAILABLE)
    path = write_csv(rows)
    result = against(sandbox, path)
    assert result.exit_code == ExitCode.OK, result.output
    edit, send = read_csv(path.with_name("input.results.csv"))
    assert (edit["outcome"], edit["attempts"]) == ("updated", "3")
    assert (send["outcome"], send["attempts"], send["http_status"]) == ("updated", "2", "200")
    assert (puts(sandbox, 1), sandbox.sends(activity_id(1))) == (2, 1)


def test_a_send_whose_connection_dropped_after_it_was_applied_is_read_back_not_repeated(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    rows = edits(1) + sends(1, start=1)
    sandbox.seed_drafts(row["id"] for row in rows)
    sandbox.inject(activity_id(0), Fault.DROP_AFTER_APPLY)
    sandbox.inject(activity_id(1), Fault.DROP_AFTER_APPLY)
    path = write_csv(rows)
    result = against(sandbox, path)
    assert result.exit_code == ExitCode.OK, result.output
    edit, send = read_csv(path.with_name("input.results.csv"))
    assert (edit["outcome"], edit["attempts"]) == ("updated", "2")
    assert (send["outcome"], send["attempts"]) == ("updated", "1")
    assert send["error_message"].startswith("no answer to the send (RemoteProtocolError")
    assert "; read back: Close shows it " in send["error_message"]
    assert send["close_status"] in ("outbox", "sent")
    assert (puts(sandbox, 1), sandbox.sends(activity_id(1))) == (1, 1)


def test_an_answer_slower_than_the_timeout_is_read_back_not_repeated_for_a_send(
    make_sandbox, write_csv: WriteCsv
) -> None:
    server = make_sandbox(slow_ms=800)
    server.seed_drafts([activity_id(0)])
    server.inject(activity_id(0), Fault.SLOW)
    path = write_csv(sends(1))
    result = against(server, path, "--timeout", "0.2")
    assert result.exit_code == ExitCode.OK, result.output
    (row,) = read_csv(path.with_name("input.results.csv"))
    assert row["error_message"].startswith(
        "no answer to the send (AnswerTooSlow: no whole answer within 0.2 s); read back:"
    )
    assert (puts(server, 0), server.sends(activity_id(0))) == (1, 1)


def test_a_key_revoked_half_way_stops_the_run(sandbox: Sandbox, write_csv: WriteCsv) -> None:
    rows = edits(10)
    sandbox.seed_drafts(row["id"] for row in rows)
    sandbox.revoke_credentials_after(5)  # one GET to check access, then four PUTs
    path = write_csv(rows)
    result = against(sandbox, path, "--concurrency", "1")
    assert result.exit_code == ExitCode.ABORTED
    assert outcomes(path.with_name("input.results.csv")) == (
        ["updated"] * 4 + ["failed"] + ["not_attempted"] * 5
    )
    assert "The run stopped early: Close answered 401 to the credentials" in result.stderr


def test_a_key_revoked_half_way_of_a_send_stops_orderly_and_resumes_without_resending(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    rows = sends(10)
    sandbox.seed_drafts(row["id"] for row in rows)
    sandbox.revoke_credentials_after(5)  # the preflight's GET, then four PUTs
    path = write_csv(rows)
    result = against(sandbox, path, "--concurrency", "1")
    assert result.exit_code == ExitCode.ABORTED
    out = path.with_name("input.results.csv")
    assert outcomes(out) == ["updated"] * 4 + ["failed"] + ["not_attempted"] * 5
    assert f"batch-sms rerun {out}" in result.stdout

    sandbox.revoke_credentials_after(1_000)  # a working key again
    resumed = against(sandbox, path, "--resume")
    assert resumed.exit_code == ExitCode.OK, resumed.output
    assert [row["id"] for row in read_csv(out)] == [row["id"] for row in rows]
    assert set(outcomes(out)) == {"updated"}
    assert [sandbox.sends(row["id"]) for row in rows] == [1] * 10
    # Row 4's first PUT was refused (401, nothing applied); the ledger's rows were not PUT.
    assert [puts(sandbox, n) for n in range(10)] == [1] * 4 + [2] + [1] * 5


def test_wrong_key_fails_fast_and_is_never_shown(sandbox: Sandbox, write_csv: WriteCsv) -> None:
    sandbox.seed_drafts([activity_id(n) for n in range(5)])
    path = write_csv(edits(5))
    secret = "sk_live_THIS_IS_SECRET"
    result = invoke(
        "run",
        path,
        "--base-url",
        sandbox.base_url,
        "--concurrency",
        "1",
        env={"CLOSE_API_KEY": secret},
    )
    assert result.exit_code == ExitCode.ABORTED
    results_file = path.with_name("input.results.csv")
    assert outcomes(results_file) == ["not_attempted"] * 5
    assert read_csv(results_file)[0]["error_message"] == (
        "not attempted: Close answered 401 to the credentials: Unauthorized: invalid or missing "
        "API key or OAuth token."
    )
    assert [(entry.method, entry.path, entry.status_code) for entry in sandbox.log] == [
        ("GET", "/api/v1/activity/sms/", 401)
    ]
    assert secret not in result.output
    assert secret not in results_file.read_text()


def test_rerunning_a_results_file_sends_only_the_rows_not_updated(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    rows = edits(2) + sends(2, start=2) + [{"id": activity_id(4), "status": "bogus"}]
    sandbox.seed_drafts(row["id"] for row in rows)
    sandbox.inject(activity_id(1), *[Fault.UNAVAILABLE] * 3)
    path = write_csv(rows)
    first = against(sandbox, path, "--max-retries", "1")
    assert first.exit_code == ExitCode.ROWS_FAILED
    results = path.with_name("input.results.csv")
    assert outcomes(results) == ["updated", "failed", "updated", "updated", "invalid"]
    assert f"To retry the rows not updated: batch-sms rerun {results}" in first.stdout

    # Fix the invalid row by hand in the results file, then rerun that file.
    fixed = read_csv(results)
    fixed[4]["status"] = "outbox"
    write_csv(fixed, name="input.results.csv")
    second = against(sandbox, results)
    assert second.exit_code == ExitCode.OK, second.output
    rerun = path.with_name("input.results-2.csv")
    rerun_rows = read_csv(rerun)
    assert [row["outcome"] for row in rerun_rows] == ["updated"] * 5
    assert list(rerun_rows[0]) == ["id", "text", "status", *columns.RESULTS]
    assert rerun_rows[0] == fixed[0], "rows updated before are carried over unchanged"
    assert [puts(sandbox, n) for n in range(5)] == [1, 4, 1, 1, 1]
    assert all(sandbox.sends(activity_id(n)) == 1 for n in (2, 3, 4))


def test_dry_run_sends_nothing_and_plans_every_valid_row(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    rows = edits(2) + sends(3, start=2)
    rows += [
        {"id": activity_id(5), "status": "scheduled", "date_scheduled": "2031-01-07T09:00:00Z"},
        {
            "id": activity_id(6),
            "status": "scheduled",
            "date_scheduled": "2031-01-07T09:30:00-05:00",
        },
        {"id": activity_id(7), "status": "scheduled"},
    ]
    path = write_csv(rows)
    result = invoke("run", path, "--dry-run", "--base-url", sandbox.base_url)
    assert result.exit_code == ExitCode.ROWS_FAILED
    assert outcomes(path.with_name("input.results.csv")) == ["planned"] * 7 + ["invalid"]
    assert sandbox.log == []
    assert result.stdout.splitlines() == [
        "Dry run: nothing was sent. If run for real:",
        "  3 SMS will be sent now",
        "  2 SMS will be scheduled between 2031-01-07 09:00 UTC and 2031-01-07 14:30 UTC",
        "  2 SMS will only be edited (nothing sent)",
        "  1 rows are invalid and will not be sent",
        "  5 SMS go to numbers only Close knows (no remote_phone): repeats among them are held "
        "back when the run reads Close",
        "  2 SMS segments in all",
        f"Results: {path.with_name('input.results.csv')}",
    ]


def test_a_run_that_sends_needs_confirmation(sandbox: Sandbox, write_csv: WriteCsv) -> None:
    sandbox.seed_drafts([activity_id(0)])
    path = write_csv(sends(1))
    result = invoke("run", path, "--base-url", sandbox.base_url, "--api-key", "k")
    assert result.exit_code == ExitCode.USAGE
    assert (
        "This run would send 1 SMS and there is no terminal to confirm it. "
        "Pass --yes to send, or --dry-run to see the plan." in result.stderr
    )
    assert sandbox.log == []
    assert not path.with_name("input.results.csv").exists()


def test_an_edit_only_run_needs_no_confirmation(sandbox: Sandbox, write_csv: WriteCsv) -> None:
    sandbox.seed_drafts([activity_id(0)])
    result = invoke(
        "run", write_csv(edits(1)), "--base-url", sandbox.base_url, "--api-key", "sandbox_api_key"
    )
    assert result.exit_code == ExitCode.OK, result.output


def test_bearer_token_from_the_environment(sandbox: Sandbox, write_csv: WriteCsv) -> None:
    sandbox.seed_drafts([activity_id(0)])
    env = {"CLOSE_OAUTH_TOKEN": sandbox.config.oauth_token, "CLOSE_BASE_URL": sandbox.base_url}
    result = invoke("run", write_csv(edits(1)), env=env)
    assert result.exit_code == ExitCode.OK, result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [],
            "No credentials: set CLOSE_API_KEY (or pass --api-key-file, --api-key, or "
            "--oauth-token). "
            "To try the tool without a Close account, add --sandbox.",
        ),
        (["--api-key", "a", "--oauth-token", "b"], "Give --api-key or --oauth-token, not both."),
        (["--concurrency", "0"], "Invalid value for '--concurrency': 0 is not in the range"),
    ],
)
def test_usage_errors(write_csv: WriteCsv, args: list[str], message: str) -> None:
    result = invoke("run", write_csv(edits(1)), *args)
    assert result.exit_code == ExitCode.USAGE
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_bad_input_files_are_usage_errors(tmp_path: Path) -> None:
    missing = invoke("run", tmp_path / "nope.csv", "--sandbox")
    assert missing.exit_code == ExitCode.USAGE
    assert f"Invalid value for INPUT: {tmp_path / 'nope.csv'}: no such file." in missing.stderr
    no_id = tmp_path / "x.csv"
    no_id.write_text("Activity,Message\nacti_1,hi\n")
    result = invoke("run", no_id, "--sandbox")
    assert result.exit_code == ExitCode.USAGE
    assert "has no 'id' column" in result.stderr
    assert "Columns found: 'Activity', 'Message'." in result.stderr


def test_an_existing_results_file_is_not_overwritten(sandbox: Sandbox, write_csv: WriteCsv) -> None:
    path = write_csv(edits(1))
    sandbox.seed_drafts([activity_id(0)])
    results = path.with_name("input.results.csv")
    results.write_text("precious")
    refused = against(sandbox, path)
    assert refused.exit_code == ExitCode.USAGE
    assert f"{results} exists already. Choose another file with --out, or pass --overwrite." in (
        refused.stderr
    )
    assert results.read_text() == "precious"
    assert sandbox.log == []
    assert against(sandbox, path, "--overwrite").exit_code == ExitCode.OK
    assert outcomes(results) == ["updated"]


def test_results_may_not_replace_the_input(write_csv: WriteCsv) -> None:
    path = write_csv(edits(1))
    result = invoke("run", path, "--sandbox", "--out", path)
    assert result.exit_code == ExitCode.USAGE
    assert "the results would overwrite the input file." in result.stderr


def test_version() -> None:
    from batch_sms.version import __version__

    result = invoke("--version")
    assert result.stdout == f"batch-sms, version {__version__}\n"


def test_empty_rows_are_skipped_and_kept(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.seed_drafts([activity_id(0)])
    path = tmp_path / "input.csv"
    path.write_text(f"id,text\n{activity_id(0)},hi\n,\n\n", encoding="utf-8")
    result = against(sandbox, path)
    assert result.exit_code == ExitCode.OK, result.output
    rows = read_csv(path.with_name("input.results.csv"))
    assert [(row["outcome"], row["error_message"]) for row in rows] == [
        ("updated", ""),
        ("skipped", "empty row"),
        ("skipped", "empty row"),
    ]


def test_a_folder_that_cannot_hold_the_results_is_refused_before_sending(
    sandbox: Sandbox, write_csv: WriteCsv, tmp_path: Path
) -> None:
    result = against(sandbox, write_csv(edits(1)), "--out", tmp_path / "no" / "out.csv")
    assert result.exit_code == ExitCode.USAGE
    assert f"folder {tmp_path / 'no'} does not exist." in result.stderr
    assert sandbox.log == []


def test_an_unreachable_close_stops_the_run_before_any_row(
    write_csv: WriteCsv, unused_port: int
) -> None:
    path = write_csv(sends(3))
    base_url = f"http://127.0.0.1:{unused_port}/api/v1/"
    result = invoke(
        "run", path, "--base-url", base_url, "--api-key", "k", "--yes", "--retry-wait", "0.01"
    )
    assert result.exit_code == ExitCode.ABORTED
    (first, *_) = read_csv(path.with_name("input.results.csv"))
    assert first["outcome"] == "not_attempted"
    assert first["error_message"].startswith(
        f"not attempted: could not reach Close at {base_url} (ConnectError"
    )


def test_base_url_must_be_http(write_csv: WriteCsv) -> None:
    result = invoke("run", write_csv(edits(1)), "--api-key", "k", "--base-url", "api.close.com")
    assert result.exit_code == ExitCode.USAGE
    assert "'api.close.com' is not an http(s) URL, like https://api.close.com/api/v1/" in (
        result.stderr
    )


@pytest.mark.parametrize("preflight", [[], ["--no-preflight"]])
def test_a_rerun_reads_back_a_row_that_may_have_been_sent_before_sending_it(
    sandbox: Sandbox, write_csv: WriteCsv, preflight: list[str]
) -> None:
    sandbox.add_activity(activity_id(0), status="sent", date_sent="2026-11-29T11:00:00+00:00")
    sandbox.add_activity(activity_id(1))
    unknown = f"the run was stopped while this row's request was in flight; {MAY_HAVE_BEEN_SENT}"
    results = write_csv(
        [dict(row, outcome="failed", error_message=unknown) for row in sends(2)],
        name="input.results.csv",
    )
    rerun = against(sandbox, results, *preflight)
    assert rerun.exit_code == ExitCode.OK, rerun.output
    rows = read_csv(path_of(results, "input.results-2.csv"))
    assert [row["outcome"] for row in rows] == ["updated", "updated"]
    assert rows[0]["error_message"] == (
        "already applied before this run: Close shows it sent at 2026-11-29T11:00:00+00:00"
    )
    assert [puts(sandbox, 0), puts(sandbox, 1)] == [0, 1]
    assert [sandbox.sends(activity_id(0)), sandbox.sends(activity_id(1))] == [0, 1]


def path_of(sibling: Path, name: str) -> Path:
    return sibling.with_name(name)


# --- Input files: spreadsheets, CSV dialects, --map ----------------------------------------------


def xlsx_rows(path: Path) -> list[list[str]]:
    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        return [[cell or "" for cell in row] for row in workbook.active.iter_rows(values_only=True)]
    finally:
        workbook.close()


def test_an_xlsx_campaign_runs_against_the_sandbox_and_writes_xlsx(tmp_path: Path) -> None:
    source = tmp_path / "campaign.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Campaign"
    sheet.append(["Activity ID", "Message", "Branch"])
    sheet.append([activity_id(1), "Grüße aus Köln", 7])
    sheet.append([])
    sheet.append([activity_id(2), "See you soon", "007"])
    workbook.create_sheet("Notes").append(["nothing to send here"])
    workbook.save(source)
    out = tmp_path / "results.xlsx"
    result = invoke(
        "run", source, "--sandbox", "--sheet", "Campaign", "--map", "Activity ID=id",
        "--map", "Message=text", "--out", out,
    )  # fmt: skip
    assert result.exit_code == ExitCode.OK, result.output
    rows = xlsx_rows(out)
    assert rows[0] == ["id", "text", "Branch", *columns.RESULTS]
    assert [row[:3] for row in rows[1:]] == [
        [activity_id(1), "Grüße aus Köln", "7"],
        ["", "", ""],
        [activity_id(2), "See you soon", "007"],
    ]
    assert [row[3] for row in rows[1:]] == ["updated", "skipped", "updated"]
    assert "Note: columns not sent (kept in the results): Branch" in result.stderr

    # The results workbook is itself an input, without --map: nothing is sent again.
    rerun = invoke("run", out, "--sandbox", "--out", tmp_path / "rerun.csv")
    assert rerun.exit_code == ExitCode.OK, rerun.output
    assert outcomes(tmp_path / "rerun.csv") == ["updated", "skipped", "updated"]
    assert "rows sent per second" in rerun.stdout


def test_a_semicolon_csv_from_excel_runs_against_the_sandbox(tmp_path: Path) -> None:
    path = tmp_path / "input.csv"
    content = f'id;Text;Notes\n{activity_id(1)};"Hi; bye, see you";a\n{activity_id(2)};Yo;b\n'
    path.write_bytes(b"\xef\xbb\xbf" + content.encode())
    result = invoke("run", path, "--sandbox")
    assert result.exit_code == ExitCode.OK, result.output
    assert "Note: input.csv: cells are separated by semicolons." in result.stderr
    results = path.with_name("input.results.csv")
    assert results.read_bytes().startswith(b"\xef\xbb\xbfid,Text,Notes,outcome,")
    assert [(row["Text"], row["outcome"]) for row in read_csv(results)] == [
        ("Hi; bye, see you", "updated"),
        ("Yo", "updated"),
    ]
    quiet = invoke("run", path, "--sandbox", "--quiet", "--out", tmp_path / "quiet.csv")
    assert quiet.exit_code == ExitCode.OK
    assert "Note:" not in quiet.stderr


def test_a_cp1252_csv_is_refused_then_read_with_encoding(tmp_path: Path) -> None:
    path = tmp_path / "input.csv"
    path.write_bytes(f"id,text\n{activity_id(1)},Grüße\n".encode("cp1252"))
    refused = invoke("run", path, "--sandbox")
    assert refused.exit_code == ExitCode.USAGE
    assert "is not UTF-8 text (byte 0xfc on line 2)" in refused.stderr
    assert "--encoding cp1252" in refused.stderr
    accepted = invoke("run", path, "--sandbox", "--encoding", "cp1252")
    assert accepted.exit_code == ExitCode.OK, accepted.output
    assert read_csv(path.with_name("input.results.csv"))[0]["text"] == "Grüße"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--map", "Activity ID"],
            "Invalid value for '--map': 'Activity ID' is not HEADER=COLUMN, like "
            '"Activity ID=id".',
        ),
        (
            ["--map", "Owner=id"],
            "--map 'Owner=id': there is no such column. Columns found: 'Activity ID', 'Message'.",
        ),
        (["--map", "Activity ID=acti"], "'acti' is not a column batch-sms knows."),
        ([], "Did you mean 'Activity ID'? Pass --map \"Activity ID=id\"."),
        (["--sheet", "Campaign"], "Invalid value for INPUT"),
    ],
)
def test_unusable_input_options_are_usage_errors(
    tmp_path: Path, args: list[str], message: str
) -> None:
    path = tmp_path / "input.csv"
    path.write_text(f"Activity ID,Message\n{activity_id(1)},hi\n", encoding="utf-8")
    result = invoke("run", path, "--sandbox", *args)
    assert result.exit_code == ExitCode.USAGE
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.output


def test_a_ragged_line_mid_file_is_a_usage_error_before_anything_is_sent(tmp_path: Path) -> None:
    path = tmp_path / "input.csv"
    lines = [f"{activity_id(n)},hi" for n in range(5)] + [f"{activity_id(5)},Hi, there"]
    path.write_text("id,text\n" + "\n".join(lines) + "\n", encoding="utf-8")
    result = invoke("run", path, "--sandbox")
    assert result.exit_code == ExitCode.USAGE
    assert "line 7 has 3 cells but the header has 2." in " ".join(result.stderr.split())
    assert not path.with_name("input.results.csv").exists()


def test_the_sandbox_command_reads_its_seed_files_with_the_input_options(tmp_path: Path) -> None:
    path = tmp_path / "seed.csv"
    path.write_text(f"Activity ID,Message\n{activity_id(1)},hi\n", encoding="utf-8")
    result = invoke("sandbox", path, "--port", "0", "--map", "Activity=id")
    assert result.exit_code == ExitCode.USAGE
    assert "--map 'Activity=id': there is no such column." in " ".join(result.stderr.split())


# --- Reruns, resume and guards ---------------------------------------------------------------


def test_rerun_command_retries_the_rows_not_updated(sandbox: Sandbox, write_csv: WriteCsv) -> None:
    rows = edits(1) + [{"id": activity_id(1), "status": "bogus"}]
    sandbox.seed_drafts(row["id"] for row in rows)
    path = write_csv(rows)
    against(sandbox, path)
    results = path.with_name("input.results.csv")
    fixed = read_csv(results)
    fixed[1]["status"] = "outbox"
    write_csv(fixed, name="input.results.csv")
    rerun = invoke(
        "rerun", results, "--base-url", sandbox.base_url, "--api-key", "sandbox_api_key", "--yes"
    )
    assert rerun.exit_code == ExitCode.OK, rerun.output
    assert outcomes(path.with_name("input.results-2.csv")) == ["updated", "updated"]
    assert [puts(sandbox, 0), puts(sandbox, 1)] == [1, 1]


def test_rerun_command_wants_a_results_file(write_csv: WriteCsv) -> None:
    path = write_csv(edits(1))
    result = invoke("rerun", path, "--dry-run")
    assert result.exit_code == ExitCode.USAGE
    assert "has no 'outcome' column, so it is not a results file" in result.stderr
    assert f"To send it, use: batch-sms run {path}" in " ".join(result.stderr.split())


def test_running_the_same_file_again_sends_nothing_twice(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    rows = sends(3)
    sandbox.seed_drafts(row["id"] for row in rows)
    path = write_csv(rows)
    assert against(sandbox, path).exit_code == ExitCode.OK
    again = against(sandbox, path, "--out", path.with_name("again.csv"))
    assert again.exit_code == ExitCode.OK, again.output
    rows = read_csv(path.with_name("again.csv"))
    assert {row["outcome"] for row in rows} == {"updated"}
    assert all(row["error_message"].startswith("already applied before this run") for row in rows)
    assert [puts(sandbox, n) for n in range(3)] == [1, 1, 1]


def test_max_sends_refuses_a_bigger_run_before_anything_is_sent(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    path = write_csv(sends(3) + edits(2, start=3))
    result = against(sandbox, path, "--max-sends", "2")
    assert result.exit_code == ExitCode.USAGE
    assert "This run would send 3 SMS, more than --max-sends 2. Nothing was sent." in result.stderr
    assert sandbox.log == []


@pytest.mark.parametrize("value", ["fast", "0/1", "10/0"])
def test_a_bad_rate_limit_is_a_usage_error(write_csv: WriteCsv, value: str) -> None:
    result = invoke("run", write_csv(edits(1)), "--sandbox", "--rate-limit", value)
    assert result.exit_code == ExitCode.USAGE
    assert f"'{value}' is not N/SECONDS, like 40/1" in result.stderr


def test_the_rate_limit_caps_a_run(make_sandbox, write_csv: WriteCsv) -> None:  # type: ignore[no-untyped-def]
    server = make_sandbox()
    rows = edits(12)
    server.seed_drafts(row["id"] for row in rows)
    result = against(server, write_csv(rows), "--rate-limit", "4/0.1", "--no-preflight")
    assert result.exit_code == ExitCode.OK, result.output
    # The cap holds on the client's start times, which tests/test_pacing.py checks exactly.
    # Arrivals at this in-process server can bunch up on a busy machine, but the run can never
    # be faster than the cap: 12 PUTs at 4 per 0.1 s span at least 0.2 s (less a few ms of
    # connection set-up on the first ones).
    times = sorted(entry.at for entry in server.log if entry.method == "PUT")
    assert times[-1] - times[0] >= 0.18


def test_resume_needs_an_unfinished_run(write_csv: WriteCsv) -> None:
    result = invoke("run", write_csv(edits(1)), "--sandbox", "--resume")
    assert result.exit_code == ExitCode.USAGE
    assert "there is no run to resume" in result.stderr


def test_the_sample_workbook_as_the_readme_runs_it(tmp_path: Path) -> None:
    out = tmp_path / "campaign.results.csv"
    result = invoke(
        "run", SAMPLE.with_name("campaign.xlsx"), "--sandbox", "--out", out,
        "--map", "Activity ID=id", "--map", "Message=text", "--map", "Send at=date_scheduled",
        "--map", "Recipient=remote_phone", "--timezone", "America/New_York",
        "--default-region", "US",
    )  # fmt: skip
    assert result.exit_code == ExitCode.ROWS_FAILED, result.output
    rows = read_csv(out)
    assert [row["outcome"] for row in rows].count("updated") == 18
    invalid, failed = (row for row in rows if row["outcome"] != "updated")
    assert invalid["error_message"] == (
        "Recipient: '415 555 0117 ext' is not a valid phone number: it is too long"
    )
    assert failed["http_status"] == "404"
