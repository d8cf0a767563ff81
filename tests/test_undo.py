"""`batch-sms undo`: put back what a run changed, where Close still allows it. End to end
against the sandbox, checking from its own records that the undo never sends an SMS and that
no SMS was sent twice."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from batch_sms.api import arun_undo
from batch_sms.cli import ExitCode
from batch_sms.close.readback import State, judge
from batch_sms.job.campaign import RunOptions
from batch_sms.job.ledger import ledger_path
from batch_sms.job.putback import Action, decide
from batch_sms.job.sender import SendOptions
from batch_sms.job.undo import undo_input_path
from batch_sms.models import RowResult, SourceRow, Update
from batch_sms.sandbox import Fault, Sandbox
from tests.conftest import WriteCsv, activity_id, future, read_csv
from tests.test_cli import against, invoke, outcomes

DRAFT_TEXT = "Hi, this is a draft SMS in the Close sandbox."  # every sandbox draft's text


def undo(server: Sandbox, results: Path, *args: object) -> Result:
    return invoke(
        "undo",
        results,
        "--base-url",
        server.base_url,
        "--api-key",
        server.config.api_key,
        "--retry-wait",
        "0.01",
        "--yes",
        *args,
    )


def scheduled(number: int, text: str) -> dict[str, str]:
    row = {"id": activity_id(number), "text": text}
    return row | {"status": "scheduled", "date_scheduled": future()}


def state(server: Sandbox, number: int) -> dict[str, Any]:
    activity = server.activity(activity_id(number))
    assert activity is not None
    return activity


def undo_puts(server: Sandbox, since: int) -> list[dict[str, Any]]:
    return [entry.body or {} for entry in server.log[since:] if entry.method == "PUT"]


def assert_undo_sent_nothing(server: Sandbox, since: int) -> None:
    bodies = undo_puts(server, since)
    assert bodies, "the undo changed something"
    assert all(body.get("status", "draft") == "draft" for body in bodies), "an undo never sends"


def test_undo_of_a_campaign_mixing_sent_scheduled_and_edited_rows(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    rows = [
        {"id": activity_id(0), "text": "New 0"},
        {"id": activity_id(1), "text": "New 1"},  # its draft had no text
        {"id": activity_id(2), "text": "Sent 2", "status": "outbox"},
        {
            "id": activity_id(3),
            "text": "Later 3",
            "status": "scheduled",
            "date_scheduled": future(),
        },
        {"id": activity_id(4), "text": "Soon 4", "status": "outbox", "send_in": "30"},
        {"id": activity_id(5), "status": "scheduled", "date_scheduled": future()},
        {"id": activity_id(6), "text": "New 6"},
        {"id": activity_id(7), "status": "scheduled", "date_scheduled": future()},
        {"id": activity_id(8), "status": "bogus"},
        {"id": activity_id(9), "remote_phone": "+14155550199"},
    ]
    sandbox.seed_drafts(row["id"] for row in rows)
    sandbox.add_activity(activity_id(1), text="")
    draft_phone = state(sandbox, 9)["remote_phone"]
    path = write_csv(rows)
    run = against(sandbox, path)
    assert run.exit_code == ExitCode.ROWS_FAILED, run.output
    results = path.with_name("input.results.csv")
    # After the run, in Close: someone reschedules the SMS of row 7 and edits row 8's text,
    # and row 9's is sent.
    sandbox.add_activity(
        activity_id(5), status="scheduled", date_scheduled=future(9), text=DRAFT_TEXT
    )
    sandbox.add_activity(activity_id(6), text="Edited by hand")
    sandbox.add_activity(activity_id(7), status="sent", date_sent="2026-11-30T09:00:00+00:00")
    since = len(sandbox.log)

    result = undo(sandbox, results)
    assert result.exit_code == ExitCode.OK, result.output
    assert "Undo of" in result.stderr
    assert "4 SMS scheduled or in the outbox will be put back to draft" in result.stderr
    assert "1 SMS were sent already: they cannot be undone" in result.stderr
    undone = read_csv(path.with_name("input.undo.results.csv"))
    assert [row["outcome"] for row in undone] == [
        "updated",
        "updated",
        "skipped",
        "updated",
        "updated",
        "skipped",
        "skipped",
        "skipped",
        "skipped",
        "updated",
    ]
    messages = [row["error_message"] for row in undone]
    assert messages[2].startswith("already sent at ") and messages[2].endswith(": cannot be undone")
    assert messages[5].startswith("changed in Close after the run: left alone (Close shows it ")
    assert messages[6] == (
        "changed in Close after the run: left alone (Close shows it status draft)"
    )
    assert messages[7] == "already sent at 2026-11-30T09:00:00+00:00: cannot be undone"
    assert messages[8] == "nothing to undo: the run did not change it (invalid)"
    assert [row["undo"] for row in undone][:2] == ["put back its text", "put back its empty text"]

    assert (state(sandbox, 0)["text"], state(sandbox, 1)["text"]) == (DRAFT_TEXT, "")
    for number in (3, 4):
        assert state(sandbox, number)["status"] == "draft"
        assert state(sandbox, number)["date_scheduled"] is None
        assert state(sandbox, number)["text"] == DRAFT_TEXT
    assert state(sandbox, 5)["status"] == "scheduled", "changed after the run: left alone"
    assert state(sandbox, 6)["text"] == "Edited by hand"
    assert state(sandbox, 9)["remote_phone"] == draft_phone
    assert_undo_sent_nothing(sandbox, since)
    assert [sandbox.sends(row["id"]) for row in rows] == [0, 0, 1, 1, 1, 1, 0, 1, 0, 0]

    # An undo that finds its work done changes nothing more.
    since = len(sandbox.log)
    again = undo(sandbox, results, "--overwrite")
    assert again.exit_code == ExitCode.OK, again.output
    assert undo_puts(sandbox, since) == []
    messages = [row["error_message"] for row in read_csv(path.with_name("input.undo.results.csv"))]
    assert messages[3].startswith("already put back: Close shows it status draft")


def test_undo_of_a_reruns_results_goes_back_to_before_the_first_run(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    rows = [
        {"id": activity_id(0), "text": "New 0"},
        {"id": activity_id(1), "text": "Later 1", "status": "scheduled"},  # no date: invalid
        {
            "id": activity_id(2),
            "text": "Later 2",
            "status": "scheduled",
            "date_scheduled": future(),
        },
    ]
    sandbox.seed_drafts(row["id"] for row in rows)
    path = write_csv(rows)
    assert against(sandbox, path).exit_code == ExitCode.ROWS_FAILED
    first = path.with_name("input.results.csv")
    fixed = read_csv(first)
    fixed[1]["date_scheduled"] = future()
    write_csv(fixed, name="input.results.csv")
    rerun = against(sandbox, first)
    assert rerun.exit_code == ExitCode.OK, rerun.output
    second = path.with_name("input.results-2.csv")
    since = len(sandbox.log)

    result = undo(sandbox, second)
    assert result.exit_code == ExitCode.OK, result.output
    assert undo_input_path(second) == path.with_name("input.undo-2.csv")
    assert outcomes(path.with_name("input.undo-2.results.csv")) == ["updated"] * 3
    for number in range(3):
        assert state(sandbox, number)["status"] == "draft"
        assert state(sandbox, number)["text"] == DRAFT_TEXT
    assert_undo_sent_nothing(sandbox, since)
    assert [sandbox.sends(row["id"]) for row in rows] == [0, 1, 1]


def test_an_undo_stopped_half_way_resumes_without_repeating_what_it_put_back(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    rows = [
        {"id": activity_id(n), "status": "scheduled", "date_scheduled": future()} for n in range(10)
    ]
    sandbox.seed_drafts(row["id"] for row in rows)
    path = write_csv(rows)
    assert against(sandbox, path).exit_code == ExitCode.OK
    results = path.with_name("input.results.csv")
    since = len(sandbox.log)
    sandbox.revoke_credentials_after(5)  # the preflight's read, then four cancels

    stopped = undo(sandbox, results, "--concurrency", "1")
    assert stopped.exit_code == ExitCode.ABORTED, stopped.output
    undone = path.with_name("input.undo.results.csv")
    assert outcomes(undone) == ["updated"] * 4 + ["failed"] + ["not_attempted"] * 5
    assert f"To retry the rows not updated: batch-sms rerun {undone}" in stopped.stdout

    sandbox.revoke_credentials_after(1_000)
    resumed = undo(sandbox, results, "--resume")
    assert resumed.exit_code == ExitCode.OK, resumed.output
    assert outcomes(undone) == ["updated"] * 10
    assert all(state(sandbox, n)["status"] == "draft" for n in range(10))
    cancels = [
        entry.activity_id
        for entry in sandbox.log[since:]
        if entry.method == "PUT" and entry.status_code == 200
    ]
    assert sorted(cancels) == sorted(row["id"] for row in rows), "each put back once"
    assert_undo_sent_nothing(sandbox, since)
    assert [sandbox.sends(row["id"]) for row in rows] == [1] * 10


def test_an_undo_stopped_at_once_resumes_from_its_ledger(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    rows = [{"id": activity_id(n), "text": f"New {n}"} for n in range(6)]
    sandbox.seed_drafts(row["id"] for row in rows)
    path = write_csv(rows)
    assert against(sandbox, path).exit_code == ExitCode.OK
    results = path.with_name("input.results.csv")

    async def undo_until_two_are_back() -> None:
        task = asyncio.current_task()
        finished: list[RowResult] = []

        def heard(result: RowResult) -> None:
            finished.append(result)
            if len(finished) == 2 and task is not None:
                task.cancel()  # as a second Ctrl-C does

        options = RunOptions(send=SendOptions(concurrency=1, retry_wait=0.01))
        await arun_undo(
            results,
            api_key=sandbox.config.api_key,
            base_url=sandbox.base_url,
            options=options,
            on_result=heard,
        )

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(undo_until_two_are_back())
    assert not path.with_name("input.undo.results.csv").exists()
    resumed = undo(sandbox, results, "--resume")
    assert resumed.exit_code == ExitCode.OK, resumed.output
    assert outcomes(path.with_name("input.undo.results.csv")) == ["updated"] * 6
    assert all(state(sandbox, n)["text"] == DRAFT_TEXT for n in range(6))
    assert sum(1 for entry in sandbox.log if entry.method == "PUT") == 6 + 6, "nothing twice"


def test_an_undo_dry_run_reads_and_changes_nothing(sandbox: Sandbox, write_csv: WriteCsv) -> None:
    rows = [{"id": activity_id(0), "text": "New"}, {"id": activity_id(1), "status": "outbox"}]
    sandbox.seed_drafts(row["id"] for row in rows)
    path = write_csv(rows)
    assert against(sandbox, path).exit_code == ExitCode.OK
    since = len(sandbox.log)
    result = invoke("undo", path.with_name("input.results.csv"), "--dry-run")
    assert result.exit_code == ExitCode.OK, result.output
    assert len(sandbox.log) == since
    assert outcomes(path.with_name("input.undo.results.csv")) == ["planned", "skipped"]
    assert result.stdout.splitlines()[:3] == [
        "Dry run: nothing was sent. If run for real:",
        "  1 edited drafts will get their earlier text and phones back",
        "  1 SMS were sent already: they cannot be undone",
    ]
    undo_file = read_csv(path.with_name("input.undo.csv"))
    assert [row["action"] for row in undo_file] == ["restore", "sent"]
    assert undo_file[0]["put_back"] == f'{{"text": "{DRAFT_TEXT}"}}'


def test_without_a_preflight_an_undo_can_only_cancel_the_sends(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    rows = [
        {"id": activity_id(0), "text": "New 0"},
        {
            "id": activity_id(1),
            "text": "Later 1",
            "status": "scheduled",
            "date_scheduled": future(),
        },
    ]
    sandbox.seed_drafts(row["id"] for row in rows)
    path = write_csv(rows)
    assert against(sandbox, path, "--no-preflight").exit_code == ExitCode.OK
    result = undo(sandbox, path.with_name("input.results.csv"))
    assert result.exit_code == ExitCode.OK, result.output
    undone = read_csv(path.with_name("input.undo.results.csv"))
    assert [row["outcome"] for row in undone] == ["skipped", "updated"]
    assert undone[0]["error_message"] == (
        "cannot be undone: no record of the SMS before the run (it ran with --no-preflight)"
    )
    assert state(sandbox, 0)["text"] == "New 0"
    # A sending row is read from Close even with --no-preflight, to know its recipient (one
    # person, one message): its state before the run is known, and put back whole.
    assert (state(sandbox, 1)["status"], state(sandbox, 1)["text"]) == ("draft", DRAFT_TEXT)


def test_the_undos_results_rerun_the_rows_it_could_not_put_back(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    rows = [{"id": activity_id(n), "text": f"New {n}"} for n in range(3)]
    sandbox.seed_drafts(row["id"] for row in rows)
    path = write_csv(rows)
    assert against(sandbox, path).exit_code == ExitCode.OK
    sandbox.inject(activity_id(1), Fault.UNAVAILABLE, Fault.UNAVAILABLE)
    first = undo(sandbox, path.with_name("input.results.csv"), "--max-retries", "1")
    assert first.exit_code == ExitCode.ROWS_FAILED, first.output
    undone = path.with_name("input.undo.results.csv")
    assert outcomes(undone) == ["updated", "failed", "updated"]
    assert f"To retry the rows not updated: batch-sms rerun {undone}" in first.stdout
    since = len(sandbox.log)
    rerun = against(sandbox, undone)
    assert rerun.exit_code == ExitCode.OK, rerun.output
    assert outcomes(path.with_name("input.undo.results-2.csv")) == ["updated"] * 3
    assert undo_puts(sandbox, since) == [{"text": DRAFT_TEXT}], "only the row not put back"
    assert all(state(sandbox, n)["text"] == DRAFT_TEXT for n in range(3))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        ("no_ledger", "input.results.csv.ledger is missing"),
        ("undo_file", "is an undo's own file; undo does not undo an undo"),
        ("running", "is under way or died unfinished"),
        ("not_results", "has no 'outcome' column: it is not a results file"),
    ],
)
def test_undo_refuses_what_it_cannot_undo(
    sandbox: Sandbox, write_csv: WriteCsv, make: str, message: str
) -> None:
    rows = [{"id": activity_id(0), "text": "New"}]
    sandbox.seed_drafts(row["id"] for row in rows)
    path = write_csv(rows)
    assert against(sandbox, path).exit_code == ExitCode.OK
    target = path.with_name("input.results.csv")
    if make == "no_ledger":
        ledger_path(target).unlink()
    elif make == "undo_file":
        assert undo(sandbox, target, "--dry-run").exit_code == ExitCode.OK
        target = path.with_name("input.undo.csv")
    elif make == "running":
        with sqlite3.connect(ledger_path(target)) as db:
            db.execute("UPDATE run SET value = 'running' WHERE key = 'state'")
    else:
        target = path
    since = len(sandbox.log)
    result = undo(sandbox, target)
    assert result.exit_code == ExitCode.USAGE
    assert message in result.stderr
    assert len(sandbox.log) == since


def test_undo_without_a_terminal_needs_yes(sandbox: Sandbox, write_csv: WriteCsv) -> None:
    sandbox.seed_drafts([activity_id(0)])
    path = write_csv([{"id": activity_id(0), "text": "New"}])
    assert against(sandbox, path).exit_code == ExitCode.OK
    since = len(sandbox.log)
    result = invoke(
        "undo",
        path.with_name("input.results.csv"),
        "--base-url",
        sandbox.base_url,
        "--api-key",
        "k",
    )
    assert result.exit_code == ExitCode.USAGE
    assert "This undo would change 1 SMS and there is no terminal to confirm it." in result.stderr
    assert len(sandbox.log) == since


# --- the pieces --------------------------------------------------------------------------------

BEFORE = {"status": "draft", "text": "old", "local_phone": "+1", "remote_phone": "+2"}


def results_row(outcome: str = "updated", evidence: str = "answer", **cells: str) -> SourceRow:
    return SourceRow(
        0, 2, activity_id(0), {"evidence": evidence, **cells}, previous_outcome=outcome
    )


@pytest.mark.parametrize(
    ("row", "before", "after", "action", "put_back"),
    [
        (results_row(), BEFORE, {**BEFORE, "text": "new"}, Action.RESTORE, {"text": "old"}),
        (
            results_row(),
            {**BEFORE, "text": None},
            {**BEFORE, "text": "new"},
            Action.RESTORE,
            {"text": None},
        ),
        (
            results_row(),
            BEFORE,
            {**BEFORE, "status": "scheduled", "date_scheduled": "2030-01-01T00:00:00+00:00"},
            Action.CANCEL,
            {"status": "draft"},
        ),
        (
            results_row(),
            BEFORE,
            {**BEFORE, "status": "outbox", "text": "new", "remote_phone": "+3"},
            Action.CANCEL,
            {"status": "draft", "text": "old", "remote_phone": "+2"},
        ),
        (results_row(), BEFORE, {**BEFORE, "status": "sent"}, Action.SENT, None),
        (results_row(), BEFORE, {**BEFORE, "status": "error"}, Action.SENT, None),
        (
            results_row(),
            {**BEFORE, "status": "scheduled"},
            BEFORE,
            Action.KEPT,
            None,
        ),
        (results_row(), None, BEFORE, Action.NO_RECORD, None),
        (
            results_row(close_status="scheduled"),
            None,
            None,
            Action.CANCEL,
            {"status": "draft"},
        ),
        (results_row(evidence="before_run"), BEFORE, BEFORE, Action.UNCHANGED, None),
        (results_row("failed", "unknown"), BEFORE, None, Action.UNKNOWN, None),
        (results_row("failed", ""), BEFORE, None, Action.UNCHANGED, None),
        (results_row(), BEFORE, BEFORE, Action.UNCHANGED, None),
    ],
)
def test_what_an_undo_puts_back(
    row: SourceRow,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    action: Action,
    put_back: dict[str, Any] | None,
) -> None:
    step = decide(row, before, after)
    assert (step.action, step.put_back) == (action, put_back)


LEFT = {"status": "scheduled", "date_scheduled": "2030-01-01T09:00:00+00:00", "text": "new"}


@pytest.mark.parametrize(
    ("shown", "state", "note"),
    [
        ({**LEFT, "date_scheduled": "2030-01-01T10:00:00+01:00"}, State.OPEN, ""),
        ({**LEFT, "status": "draft", "date_scheduled": None}, State.OPEN, ""),
        (
            {"status": "draft", "text": "old"},
            State.APPLIED,
            "already put back: Close shows it status draft, as it was before the run",
        ),
        (
            {**LEFT, "status": "sent", "date_sent": "2030-01-01T09:00:00+00:00"},
            State.CLOSED,
            "already sent at 2030-01-01T09:00:00+00:00: cannot be undone",
        ),
        (
            {**LEFT, "date_scheduled": "2030-01-02T09:00:00+00:00"},
            State.CLOSED,
            "changed in Close after the run: left alone (Close shows it scheduled for "
            "2030-01-02T09:00:00+00:00)",
        ),
        (
            {**LEFT, "status": "draft", "text": "by hand"},
            State.CLOSED,
            "changed in Close after the run: left alone (Close shows it status draft)",
        ),
    ],
)
def test_an_undo_row_is_judged_against_what_the_run_left(
    shown: dict[str, Any], state: State, note: str
) -> None:
    update = Update(
        0, 2, activity_id(0), {"status": "draft", "text": "old"}, expected=LEFT, cancel_first=True
    )
    verdict = judge(update, shown)
    assert (verdict.state, verdict.note) == (state, note)


def test_undo_input_names() -> None:
    assert undo_input_path(Path("c.results.csv")) == Path("c.undo.csv")
    assert undo_input_path(Path("c.results-3.xlsx")) == Path("c.undo-3.csv")
    assert undo_input_path(Path("out.csv")) == Path("out.undo.csv")
