"""One run at a time, and a full disk: orderly stops that lose nothing and send nothing twice."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import pytest

from batch_sms.cli import ExitCode
from batch_sms.files import tables
from batch_sms.job.ledger import Ledger, RunState
from batch_sms.sandbox import Sandbox
from tests.conftest import WriteCsv, read_csv
from tests.test_cli import against, sends
from tests.test_processes import start_run, wait_for_requests


def test_a_second_run_of_the_same_input_is_refused_while_the_first_runs(
    make_sandbox: Any, write_csv: WriteCsv, tmp_path: Path
) -> None:
    server = make_sandbox(latency_ms=250)
    rows = sends(40)
    server.seed_drafts(row["id"] for row in rows)
    path = write_csv(rows)
    first = start_run(server, path, "--concurrency", "2")
    wait_for_requests(server, 3)

    # Both at once, while the first still has seconds to go (40 rows at 2 x 4 per second).
    other_out = start_run(server, path, "--out", tmp_path / "other.csv")
    resumed = start_run(server, path, "--resume")
    _, other_err = other_out.communicate(timeout=30)
    _, resumed_err = resumed.communicate(timeout=30)
    _, first_err = first.communicate(timeout=60)

    assert first.returncode == ExitCode.OK, first_err
    assert other_out.returncode == ExitCode.USAGE
    assert f"batch-sms run (process {first.pid}" in other_err
    assert "is using an input file with this content right now" in other_err
    assert resumed.returncode == ExitCode.USAGE
    assert "is using the results file" in resumed_err
    assert [server.sends(row["id"]) for row in rows] == [1] * 40, "each SMS sent once"
    assert not (tmp_path / "other.csv").exists()


def fail_on_call(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, call: int) -> None:
    """`owner.name` raises ENOSPC from its `call`th call on, as a full disk would."""
    original = getattr(owner, name)
    calls = 0

    def failing(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls >= call:
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, failing)


@pytest.mark.parametrize(
    ("owner", "name", "lost"),
    [(Ledger, "finished", "ledger"), (tables._CsvWriter, "write_row", "results")],
)
def test_a_full_disk_is_an_orderly_stop_and_resume_completes(
    sandbox: Sandbox,
    write_csv: WriteCsv,
    monkeypatch: pytest.MonkeyPatch,
    owner: Any,
    name: str,
    lost: str,
) -> None:
    rows = sends(30)
    sandbox.seed_drafts(row["id"] for row in rows)
    path = write_csv(rows)
    out = path.with_name("input.results.csv")
    with monkeypatch.context() as patch:
        fail_on_call(patch, owner, name, 8)
        first = against(sandbox, path, "--concurrency", "2")
    assert first.exit_code == ExitCode.ABORTED, first.output
    assert "No space left on device). Free some space, then carry on with --resume" in (
        first.output
    )
    assert "Traceback" not in first.output
    ledger = Ledger.read(out.with_name("input.results.csv.ledger"))
    assert ledger.info.state is RunState.STOPPED
    ledger.close()
    assert out.exists() == (lost == "ledger"), "a results file that cannot be written is not left"
    assert not list(out.parent.glob(".input.results.csv.*.tmp")), "no half-written file"

    resumed = against(sandbox, path, "--resume")
    assert resumed.exit_code == ExitCode.OK, resumed.output
    assert {row["outcome"] for row in read_csv(out)} == {"updated"}
    assert [sandbox.sends(row["id"]) for row in rows] == [1] * 30, "each SMS sent once"
