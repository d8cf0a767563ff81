"""Decisions read fields, never words: with every message of the runner reworded, resume and
rerun still read back exactly the rows that may have been sent, and send nothing twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from batch_sms.cli import ExitCode
from batch_sms.job import messages
from batch_sms.job.campaign import Campaign, RunOptions
from batch_sms.job.sender import SendOptions
from batch_sms.job.stream import Stream
from batch_sms.models import RowResult
from batch_sms.sandbox import Fault, Sandbox
from tests.conftest import WriteCsv, activity_id, read_csv
from tests.test_cli import against, sends

# Row 1's send is applied but its answer is lost, and reading it back fails: it may have been
# sent. Row 2's answer is lost too, and reading it back shows it sent.
UNCERTAIN, READ_BACK = activity_id(1), activity_id(2)


@pytest.fixture(autouse=True)
def reworded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(messages, "MAY_HAVE_BEEN_SENT", "reworded: who knows")
    monkeypatch.setattr(messages, "EARLIER_RUN_MAY_HAVE_SENT", "reworded: an earlier run")
    original = Stream._record

    def record(self: Stream, book: Any, result: RowResult) -> None:
        words = f"message {result.index} in other words"
        original(self, book, RowResult(**{**vars(result), "error_message": words}))

    monkeypatch.setattr(Stream, "_record", record)


def lose_answers(server: Sandbox) -> None:
    server.inject(UNCERTAIN, Fault.DROP_AFTER_APPLY, Fault.UNAVAILABLE, Fault.UNAVAILABLE)
    server.inject(READ_BACK, Fault.DROP_AFTER_APPLY)


def list_reads(server: Sandbox) -> int:
    return sum(1 for e in server.log if e.method == "GET" and e.activity_id is None)


def uncertain_rows(path: Path, **options: Any) -> int:
    with Campaign(path, RunOptions(**options)) as campaign:
        return campaign.plan().uncertain


def test_a_rerun_reads_back_exactly_the_rows_that_may_have_been_sent(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    rows = sends(4)
    sandbox.seed_drafts(row["id"] for row in rows)
    lose_answers(sandbox)
    first = against(sandbox, write_csv(rows), "--max-retries", "1", "--concurrency", "1")
    assert first.exit_code == ExitCode.ROWS_FAILED, first.output
    out = Path(first.output.split("Results: ")[1].split("\n")[0])
    assert [row["evidence"] for row in read_csv(out)] == [
        "answer",
        "unknown",
        "read_back",
        "answer",
    ]
    assert uncertain_rows(out, command="rerun") == 1

    reads_before = list_reads(sandbox)
    rerun = against(sandbox, out, "--no-preflight", "--max-retries", "1")
    assert rerun.exit_code == ExitCode.OK, rerun.output
    assert list_reads(sandbox) - reads_before == 2, "the access check and the uncertain row"
    rows_after = read_csv(out.with_name("input.results-2.csv"))
    assert [row["evidence"] for row in rows_after] == [
        "answer",
        "before_run",
        "read_back",
        "answer",
    ]
    assert [sandbox.sends(row["id"]) for row in rows] == [1, 1, 1, 1], "each SMS sent once"


def test_a_resume_reads_back_exactly_the_rows_that_may_have_been_sent(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    rows = sends(6)
    sandbox.seed_drafts(row["id"] for row in rows)
    lose_answers(sandbox)
    path = write_csv(rows)
    # The access check; row 0's PUT; row 1's PUT and two reads; row 2's PUT and read; rows 3
    # and 4; then the key is revoked for row 5.
    sandbox.revoke_credentials_after(9)
    first = against(sandbox, path, "--max-retries", "1", "--concurrency", "1", "--no-preflight")
    assert first.exit_code == ExitCode.ABORTED, first.output
    options: dict[str, Any] = {"resume": True, "send": SendOptions(preflight=False)}
    assert uncertain_rows(path, **options) == 1

    sandbox.revoke_credentials_after(1_000)
    reads_before = list_reads(sandbox)
    resumed = against(sandbox, path, "--resume", "--no-preflight", "--max-retries", "1")
    assert resumed.exit_code == ExitCode.OK, resumed.output
    assert list_reads(sandbox) - reads_before == 2, "the access check and the uncertain row"
    assert [sandbox.sends(row["id"]) for row in rows] == [1] * 6, "each SMS sent once"
