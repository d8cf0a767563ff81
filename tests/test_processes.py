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


def test_ctrl_c_stops_the_run_writes_every_row_and_exits_130(
    make_sandbox, write_csv: WriteCsv
) -> None:
    server = make_sandbox(latency_ms=200)
    rows = [{"id": activity_id(n), "text": f"v{n}"} for n in range(40)]
    server.seed_drafts(row["id"] for row in rows)
    path = write_csv(rows)
    run = batch_sms(
        "run", path, "--base-url", server.base_url, "--api-key", "sandbox_api_key",
        "--concurrency", "2", "--yes",
    )  # fmt: skip
    wait_for_requests(server, 3)
    run.send_signal(signal.SIGINT)
    stdout, stderr = run.communicate(timeout=20)
    assert run.returncode == ExitCode.INTERRUPTED, stderr
    assert "Interrupted" in stderr
    assert "Traceback" not in stderr
    results = read_csv(path.with_name("input.results.csv"))
    assert [row["id"] for row in results] == [row["id"] for row in rows]
    outcomes = {row["outcome"] for row in results}
    assert outcomes <= {"updated", "failed", "not_attempted"}
    assert "not_attempted" in outcomes
    assert "To retry the rows not updated" in stdout


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
