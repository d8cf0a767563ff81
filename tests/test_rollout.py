"""Rolling a campaign out: the canary, the halt on systematic failures, and the failures at a
glance in the summary. End to end against the sandbox, checking from its own records that no
SMS was sent twice."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from click.testing import CliRunner

from batch_sms.cli import ExitCode
from batch_sms.cli.console import canary_decision
from batch_sms.close.client import Credentials
from batch_sms.job.campaign import Campaign, RunOptions
from batch_sms.job.canary import CanaryOptions, CanaryReport, CanaryRow, CanaryState
from batch_sms.job.halt import HaltRule, parse_halt_rule
from batch_sms.job.ledger import Ledger, ledger_path
from batch_sms.job.sender import SendOptions
from batch_sms.job.stream import Connection, StopCause
from batch_sms.models import Outcome, RowResult, Update
from batch_sms.output.failures import FailureTally
from batch_sms.output.reasons import normalize_reason as reason_of
from batch_sms.sandbox import Fault, Sandbox, SandboxOptions
from tests.conftest import WriteCsv, activity_id, future, read_csv
from tests.test_cli import against, edits, invoke, outcomes, puts, sends

NOT_OURS = "+12125550123"  # not one of the sandbox organization's numbers


def sending_puts(server: Sandbox) -> list[str]:
    """The ids of the PUTs that asked Close to send, in the order they arrived."""
    return [
        str(entry.activity_id)
        for entry in server.log
        if entry.method == "PUT" and (entry.body or {}).get("status") in ("outbox", "scheduled")
    ]


def assert_sent_at_most_once(server: Sandbox, rows: list[dict[str, str]]) -> None:
    assert all(server.sends(row["id"]) <= 1 for row in rows), "an SMS was sent twice"


# --- the canary --------------------------------------------------------------------------------


def test_a_canary_that_confirms_carries_on_and_sends_every_row_once(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    rows = edits(2) + sends(4, start=2)
    rows.insert(3, {"id": activity_id(6), "status": "scheduled", "date_scheduled": future()})
    rows += sends(5, start=7)
    sandbox.seed_drafts(row["id"] for row in rows)
    path = write_csv(rows)
    result = against(sandbox, path, "--canary", "3", "--concurrency", "4")
    assert result.exit_code == ExitCode.OK, result.output
    assert set(outcomes(path.with_name("input.results.csv"))) == {"updated"}
    assert [sandbox.sends(row["id"]) for row in rows] == [0, 0] + [1] * 10
    assert "Canary: the first 3 SMS, as Close shows them" in result.stderr
    assert "All 3 confirmed." in result.stderr
    canary = [activity_id(2), activity_id(6), activity_id(3)]  # file order: rows 4, 5, 6
    assert "[confirmed]" in result.stderr and "scheduled for" in result.stderr
    # The rest waited for the canary's read-back: no other send arrived before it (the rest
    # go out together, in whatever order they reach the sandbox).
    puts = sending_puts(sandbox)
    first_rest = min(at for at, sent in enumerate(puts) if sent not in canary)
    assert set(puts[:first_rest]) == set(canary)
    read_back = next(
        at
        for at, entry in enumerate(sandbox.log)
        if entry.method == "GET" and at > 0 and entry.path == "/api/v1/activity/sms/"
    )
    puts_before = [e.activity_id for e in sandbox.log[:read_back] if e.method == "PUT"]
    assert set(canary) <= set(puts_before) and activity_id(4) not in puts_before


def test_a_canary_whose_sms_ends_in_error_stops_the_run_and_resume_carries_on(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    rows = sends(10)
    sandbox.seed_drafts(row["id"] for row in rows)
    sandbox.inject(activity_id(1), Fault.SEND_ERROR)
    path = write_csv(rows)
    out = path.with_name("input.results.csv")
    result = against(sandbox, path, "--canary", "3", "--concurrency", "2")
    assert result.exit_code == ExitCode.ABORTED, result.output
    assert outcomes(out) == ["updated"] * 3 + ["not_attempted"] * 7
    results = read_csv(out)
    assert results[1]["close_status"] == "error"
    assert results[3]["error_message"] == (
        "not attempted: stopped after the canary: 1 of 3 canary SMS not confirmed (row 3: error)"
    )
    assert "row 3 (" in result.stderr and "status error (The carrier rejected" in result.stderr
    assert "1 of 3 not confirmed." in result.stderr
    resume = f"batch-sms run {path} --out {out} --resume"
    assert f"Carry on with:\n  {resume}" in result.stderr
    assert [sandbox.sends(row["id"]) for row in rows] == [1] * 3 + [0] * 7

    resumed = against(sandbox, path, "--canary", "3", "--resume")
    assert resumed.exit_code == ExitCode.OK, resumed.output
    assert "Canary" not in resumed.stderr, "a resumed run does not repeat the canary"
    assert outcomes(out) == ["updated"] * 10
    assert [sandbox.sends(row["id"]) for row in rows] == [1] * 10
    assert [puts(sandbox, n) for n in range(10)] == [1] * 10


def test_a_canary_still_in_the_outbox_when_the_wait_ends_stops_the_run(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    rows = [{"id": activity_id(n), "status": "outbox", "send_in": "30"} for n in range(4)]
    sandbox.seed_drafts(row["id"] for row in rows)
    path = write_csv(rows)
    result = against(sandbox, path, "--canary", "2", "--canary-wait", "0.2")
    assert result.exit_code == ExitCode.ABORTED, result.output
    assert result.stderr.count("status outbox [pending]") == 2
    assert outcomes(path.with_name("input.results.csv")) == ["updated"] * 2 + ["not_attempted"] * 2
    assert_sent_at_most_once(sandbox, rows)


def test_a_canary_decided_before_a_crash_is_not_asked_again(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    rows = sends(8)
    sandbox.seed_drafts(row["id"] for row in rows)
    # A preflight read, the canary's two PUTs and its read-back, the next preflight read and
    # one more PUT; then every request is refused (401).
    sandbox.revoke_credentials_after(6)
    path = write_csv(rows)
    first = against(sandbox, path, "--canary", "2", "--concurrency", "1")
    assert first.exit_code == ExitCode.ABORTED, first.output
    assert "All 2 confirmed." in first.stderr
    ledger = Ledger.read(ledger_path(path.with_name("input.results.csv")))
    assert ledger.note("canary") == "passed"
    ledger.close()

    sandbox.revoke_credentials_after(1_000)
    resumed = against(sandbox, path, "--canary", "2", "--resume")
    assert resumed.exit_code == ExitCode.OK, resumed.output
    assert "Canary" not in resumed.stderr
    assert [sandbox.sends(row["id"]) for row in rows] == [1] * 8


def test_the_python_api_decides_the_canary_with_its_own_callback(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    rows = sends(6)
    sandbox.seed_drafts(row["id"] for row in rows)
    path = write_csv(rows)
    seen: list[CanaryReport] = []

    async def decline(report: CanaryReport) -> bool:
        seen.append(report)
        return False

    options = RunOptions(canary=CanaryOptions(rows=2), send=SendOptions(retry_wait=0.01))
    connection = Connection(Credentials(api_key=sandbox.config.api_key), sandbox.base_url)
    with Campaign(path, options) as campaign:
        summary = asyncio.run(campaign.send(connection, approve_canary=decline))
    assert [row.state for row in seen[0].rows] == [CanaryState.CONFIRMED] * 2
    assert summary.stop_cause is StopCause.CANARY
    assert summary.aborted == "stopped after the canary, as asked"
    assert summary.canary is seen[0]
    assert summary.counts[Outcome.NOT_ATTEMPTED] == 4
    assert [sandbox.sends(row["id"]) for row in rows] == [1, 1, 0, 0, 0, 0]


def test_on_a_terminal_the_canary_asks(write_csv: WriteCsv) -> None:
    update = Update(0, 2, activity_id(0), {"status": "outbox"})
    shown = {"id": activity_id(0), "status": "sent", "text": "Hi", "date_sent": "2026-01-01"}
    row = CanaryRow(update, RowResult(0, Outcome.UPDATED), shown, CanaryState.CONFIRMED)
    report = CanaryReport((row,), 0.5)
    runner = CliRunner()
    for answer, expected in (("y\n", True), ("n\n", False), ("\n", False)):
        with runner.isolation(input=answer) as (_, _, err):
            assert canary_decision(ask=True)(report) is expected
            assert b"Carry on with the rest? [y/N]" in err.getvalue()
    with runner.isolation() as (_, _, err):
        assert canary_decision(ask=False)(report) is True
        assert b'"Hi"' in err.getvalue()


def test_sandbox_fault_send_error_fails_a_send_now_at_once_and_a_later_one_when_due() -> None:
    now = [datetime(2026, 11, 29, 12, 0, tzinfo=UTC)]
    with Sandbox(SandboxOptions(any_id=True), clock=lambda: now[0]) as server:
        auth = (server.config.api_key, "")
        url = server.base_url + "activity/sms/"
        server.inject(activity_id(1), Fault.SEND_ERROR)
        server.inject(activity_id(2), Fault.SEND_ERROR)
        when = (now[0] + timedelta(hours=1)).isoformat()
        with httpx.Client(auth=auth) as client:
            sent = client.put(f"{url}{activity_id(1)}/", json={"status": "outbox"}).json()
            later = client.put(
                f"{url}{activity_id(2)}/", json={"status": "scheduled", "date_scheduled": when}
            ).json()
            assert (sent["status"], sent["date_sent"]) == ("error", None)
            assert "carrier rejected" in sent["error_message"]
            assert later["status"] == "scheduled"
            now[0] += timedelta(hours=2)
            due = client.get(f"{url}{activity_id(2)}/").json()
        assert due["status"] == "error"
        assert server.sends(activity_id(1)) == server.sends(activity_id(2)) == 1


# --- halting on failures -----------------------------------------------------------------------


def test_a_halt_when_every_send_is_refused_makes_few_requests(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    rows = [{"id": activity_id(n), "status": "outbox", "local_phone": NOT_OURS} for n in range(200)]
    sandbox.seed_drafts(row["id"] for row in rows)
    path = write_csv(rows)
    result = against(sandbox, path, "--halt-on-failures", "5", "--concurrency", "2")
    assert result.exit_code == ExitCode.ABORTED, result.output
    put_count = sum(1 for entry in sandbox.log if entry.method == "PUT")
    assert 5 <= put_count <= 5 + 2, "only the requests in flight when it halted go on"
    results = outcomes(path.with_name("input.results.csv"))
    assert results.count("failed") == put_count
    assert results.count("not_attempted") == 200 - put_count
    refusal = (
        "Close rejected the update (400): local_phone: +12125550123 is not one of your "
        "organization's SMS-enabled numbers."
    )
    assert (
        "The run stopped early: halted after 5 of 5 rows attempted failed "
        f"(--halt-on-failures 5); most of them (5): {refusal}"
    ) in result.stderr
    assert f"--out {path.with_name('input.results.csv')} --resume" in result.stderr
    assert f"  {put_count} failed: {refusal}: rows 2, 3, 4, 5, 6" in result.stdout
    assert_sent_at_most_once(sandbox, rows)


def test_by_default_a_run_halts_once_half_of_20_rows_failed(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    rows = edits(5) + [
        {"id": activity_id(n), "text": "x", "local_phone": NOT_OURS} for n in range(5, 300)
    ]
    sandbox.seed_drafts(row["id"] for row in rows)
    result = against(sandbox, write_csv(rows), "--concurrency", "1")
    assert result.exit_code == ExitCode.ABORTED, result.output
    assert "halted after 15 of 20 rows attempted failed (--halt-on-failures 50%)" in result.stderr
    assert sum(1 for entry in sandbox.log if entry.method == "PUT") == 20


def test_halt_on_failures_off_grinds_through_and_the_summary_groups_the_failures(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    rows = [{"id": activity_id(n), "text": "x", "local_phone": NOT_OURS} for n in range(40)]
    rows[7] = {"id": activity_id(7), "status": "bogus"}
    rows[9] = {"id": activity_id(9), "status": "later"}
    rows[11] = {"id": "acti_missing0000000000001", "text": "x"}
    sandbox.seed_drafts(row["id"] for row in rows)
    result = against(sandbox, write_csv(rows), "--halt-on-failures", "off")
    assert result.exit_code == ExitCode.ROWS_FAILED, result.output
    lines = result.stdout.splitlines()
    start = lines.index("Not updated, by reason:")
    assert lines[start + 1].startswith(
        "  37 failed: Close rejected the update (400): local_phone: +12125550123 is not one "
        "of your organization's SMS-enabled numbers.: rows 2, 3, 4, 5, 6, 7, 8, 10 and 29 more"
    )
    # Two invalid statuses with different values are one reason.
    assert lines[start + 2] == (
        "  2 invalid: status: 'bogus' is not a status; use draft, scheduled (send later) or "
        "outbox (send now): rows 9, 11"
    )
    assert lines[start + 3].startswith("  1 failed: Close has no SMS activity with this id")
    assert lines[start + 3].endswith(": row 13")


# --- the pieces --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("25", HaltRule(failures=25)),
        ("10%", HaltRule(percent=10)),
        (" 2.5% ", HaltRule(percent=2.5)),
        ("OFF", None),
    ],
)
def test_halt_rules_parse(text: str, rule: HaltRule | None) -> None:
    assert parse_halt_rule(text) == rule


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("many", "'many' is not a number of failed rows (25), a percentage (10%) or off"),
        ("0", "the number of failures must be at least 1"),
        ("150%", "the percentage must be above 0 and at most 100"),
        ("0%", "the percentage must be above 0 and at most 100"),
    ],
)
def test_bad_halt_rules_say_why(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_halt_rule(text)


def test_a_bad_halt_rule_is_a_usage_error(write_csv: WriteCsv) -> None:
    result = invoke("run", write_csv(edits(1)), "--halt-on-failures", "lots", "--dry-run")
    assert result.exit_code == ExitCode.USAGE
    assert "Invalid value for '--halt-on-failures': 'lots' is not a number" in result.stderr


def test_a_share_of_failures_counts_only_after_20_rows() -> None:
    rule = HaltRule(percent=50)
    assert not rule.tripped(failed=19, attempted=19)
    assert rule.tripped(failed=10, attempted=20)
    assert not rule.tripped(failed=9, attempted=20)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("status: 'bogus' is not a status", "status: 'sent!' is not a status"),
        (
            "date_scheduled: 2024-03-05T09:00:00-05:00 is in the past (now is 2026-11-29T12:00Z)",
            "date_scheduled: 2025-01-01T10:00:00Z is in the past (now is 2026-11-29T12:01Z)",
        ),
        ("id: acti_1 already appears in row 2", "id: acti_1 already appears in row 14"),
    ],
)
def test_messages_that_differ_only_by_a_value_share_a_reason(first: str, second: str) -> None:
    assert reason_of(first) == reason_of(second)


def test_failures_are_grouped_largest_first_with_their_first_rows() -> None:
    tally = FailureTally(rows_kept=3, groups_kept=2)
    messages = ["a"] * 2 + ["b"] * 5 + ["c", "d"]
    for number, message in enumerate(messages, start=2):
        tally.add(number, RowResult(number - 2, Outcome.FAILED, error_message=message))
    tally.add(20, RowResult(18, Outcome.UPDATED))
    tally.add(21, RowResult(19, Outcome.NOT_ATTEMPTED, error_message="not attempted: x"))
    assert [group.describe() for group in tally.groups()] == [
        "5 failed: b: rows 4, 5, 6 and 2 more",
        "2 failed: a: rows 2, 3",
        "2 failed: other reasons (more distinct reasons than are kept apart): rows 9, 10",
    ]
    assert tally.total == 9


def test_a_canary_as_big_as_the_campaign_is_noted_and_holds_nothing_back(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    rows = sends(3)
    sandbox.seed_drafts(row["id"] for row in rows)
    result = against(sandbox, write_csv(rows), "--canary", "5")
    assert result.exit_code == ExitCode.OK, result.output
    assert "Note: --canary 5: this run sends 3 SMS, so the canary holds nothing back." in (
        result.stderr
    )
    assert "Canary:" not in result.stderr
    assert [sandbox.sends(row["id"]) for row in rows] == [1] * 3
