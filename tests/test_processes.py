"""The command as a real process: signals, and the sandbox served in the foreground."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from batch_sms.cli import ExitCode
from batch_sms.job.ledger import Ledger, RunState
from tests.conftest import WriteCsv, activity_id, read_csv


def batch_sms(*args: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for name in ("CLOSE_API_KEY", "CLOSE_OAUTH_TOKEN", "CLOSE_BASE_URL"):
        env.pop(name, None)
    return subprocess.Popen(
        [sys.executable, "-m", "batch_sms", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )


def wait_for_requests(server, count: int, limit: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + limit
    while len(server.log) < count:
        assert time.monotonic() < deadline, "the run did not start sending"
        time.sleep(0.02)


def start_run(server, path: Path, *args: object) -> subprocess.Popen[str]:  # type: ignore[no-untyped-def]
    return batch_sms(
        "run", path, "--base-url", server.base_url, "--api-key", "sandbox_api_key", "--yes",
        "--retry-wait", "0.01", *args,
    )  # fmt: skip


def sending_puts(server, activity: str) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for e in server.log if e.method == "PUT" and e.activity_id == activity)


def outbox_campaign(server, write_csv: WriteCsv, count: int) -> tuple[list[dict[str, str]], Path]:  # type: ignore[no-untyped-def]
    """`count` drafts in the sandbox, and a file that sends each of them now."""
    rows = [{"id": activity_id(n), "status": "outbox"} for n in range(count)]
    server.seed_drafts(row["id"] for row in rows)
    return rows, write_csv(rows)


def assert_sent_once_and_every_row_updated(server, rows, results_path: Path) -> None:  # type: ignore[no-untyped-def]
    results = read_csv(results_path)
    assert [row["id"] for row in results] == [row["id"] for row in rows], "every row, once"
    assert {row["outcome"] for row in results} == {"updated"}
    assert [server.sends(row["id"]) for row in rows] == [1] * len(rows), "each SMS sent once"


def test_ctrl_c_lets_requests_in_flight_finish_writes_every_row_and_exits_130(
    make_sandbox, write_csv: WriteCsv
) -> None:
    server = make_sandbox(latency_ms=200)
    rows, path = outbox_campaign(server, write_csv, 40)
    run = start_run(server, path, "--concurrency", "2")
    wait_for_requests(server, 3)
    run.send_signal(signal.SIGINT)
    stdout, stderr = run.communicate(timeout=20)
    assert run.returncode == ExitCode.INTERRUPTED, stderr
    assert "Stopping: no new requests" in stderr
    assert "Traceback" not in stderr
    out = path.with_name("input.results.csv")
    results = read_csv(out)
    assert [row["id"] for row in results] == [row["id"] for row in rows]
    outcomes = [row["outcome"] for row in results]
    assert set(outcomes) == {"updated", "not_attempted"}, "requests in flight finished"
    assert [server.sends(row["id"]) for row in results if row["outcome"] == "updated"] == [
        1
    ] * outcomes.count("updated")
    assert f"batch-sms run {path} --out {out} --resume" in stderr

    resumed = start_run(server, path, "--resume")
    _, stderr = resumed.communicate(timeout=30)
    assert resumed.returncode == ExitCode.OK, stderr
    assert_sent_once_and_every_row_updated(server, rows, out)
    ledger = Ledger.read(out.with_name("input.results.csv.ledger"))
    assert ledger.info.state is RunState.FINISHED, "the ledger stays, as the run's record"
    ledger.close()


def test_a_run_killed_mid_way_resumes_without_sending_any_sms_twice(
    make_sandbox, write_csv: WriteCsv
) -> None:
    server = make_sandbox(latency_ms=100)
    rows, path = outbox_campaign(server, write_csv, 60)
    run = start_run(server, path, "--concurrency", "4")
    wait_for_requests(server, 12)
    run.kill()
    run.communicate(timeout=10)
    out = path.with_name("input.results.csv")
    assert not out.exists(), "no half-written results file"
    assert out.with_name("input.results.csv.ledger").exists()

    again = start_run(server, path)
    _, stderr = again.communicate(timeout=30)
    assert again.returncode == ExitCode.USAGE
    assert "holds an unfinished run of this results file. Resume it with --resume" in stderr

    resumed = start_run(server, path, "--resume", "--concurrency", "4")
    _, stderr = resumed.communicate(timeout=60)
    assert resumed.returncode == ExitCode.OK, stderr
    assert_sent_once_and_every_row_updated(server, rows, out)
    # Rows sent before the kill were not PUT again: the ledger, or a read-back, settled them.
    assert max(sending_puts(server, row["id"]) for row in rows) == 1


def test_ctrl_c_twice_stops_at_once_and_the_ledger_resumes(
    make_sandbox, write_csv: WriteCsv
) -> None:
    server = make_sandbox(latency_ms=300)
    rows, path = outbox_campaign(server, write_csv, 20)
    run = start_run(server, path, "--concurrency", "4")
    wait_for_requests(server, 2)
    run.send_signal(signal.SIGINT)
    time.sleep(0.05)
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=20)
    assert run.returncode == ExitCode.INTERRUPTED, stderr
    assert "Stopped at once" in stderr and "Traceback" not in stderr
    out = path.with_name("input.results.csv")
    assert not out.exists()

    resumed = start_run(server, path, "--resume")
    _, stderr = resumed.communicate(timeout=60)
    assert resumed.returncode == ExitCode.OK, stderr
    assert_sent_once_and_every_row_updated(server, rows, out)


def test_sandbox_command_serves_until_ctrl_c(write_csv: WriteCsv, tmp_path: Path) -> None:
    seed = write_csv([{"id": activity_id(1), "text": "x"}])
    server = batch_sms("sandbox", seed, "--port", "0", "--rate-limit", "40/1")
    assert server.stdout is not None
    first_line = server.stdout.readline().strip()
    assert first_line.startswith("Sandbox listening at http://127.0.0.1:"), first_line
    base_url = first_line.rsplit(" ", 1)[-1]
    try:
        answer = httpx.get(
            f"{base_url}activity/sms/{activity_id(1)}/", auth=("sandbox_api_key", "")
        )
        assert answer.status_code == 200
        assert answer.json()["status"] == "draft"
        assert answer.headers["RateLimit"].startswith("limit=40, remaining=39, reset=")
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=10)
    assert server.returncode == 0


def test_ctrl_c_while_the_file_is_checked_sends_nothing_and_shows_no_traceback(
    tmp_path: Path,
) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as stream:
        stream.write("id,text\n")
        stream.writelines(f"{activity_id(n)},Hello {n}\n" for n in range(300_000))
    run = batch_sms("run", path, "--dry-run")
    # Past the imports (well under a second), well before the checks end (several seconds).
    time.sleep(2.5)
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=30)
    assert run.returncode == ExitCode.INTERRUPTED, stderr
    assert "Interrupted before sending: nothing was sent." in stderr
    assert "Traceback" not in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv"], "no results, no ledger"
