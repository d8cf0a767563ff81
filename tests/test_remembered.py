"""A run remembers how it was run, the commands it prints work as printed, and a team sets
its defaults once (command line > environment > config file > built-in default)."""

from __future__ import annotations

import shlex
import signal
from pathlib import Path
from typing import Any

import pytest

from batch_sms.cli import ExitCode
from batch_sms.sandbox import Sandbox
from tests.conftest import WriteCsv, activity_id, future, read_csv
from tests.test_cli import SAMPLE, invoke
from tests.test_processes import batch_sms, wait_for_requests

README_WORKBOOK = (
    "--map", "Activity ID=id", "--map", "Message=text", "--map", "Send at=date_scheduled",
    "--map", "Recipient=remote_phone", "--timezone", "America/New_York", "--default-region", "US",
)  # fmt: skip


def test_a_plain_rerun_of_the_readme_workbook_uses_the_earlier_options(tmp_path: Path) -> None:
    out = tmp_path / "campaign.results.csv"
    first = invoke("run", SAMPLE.with_name("campaign.xlsx"), "--sandbox", "--out", out,
                   *README_WORKBOOK)  # fmt: skip
    assert first.exit_code == ExitCode.ROWS_FAILED, first.output
    assert f"To retry the rows not updated: batch-sms rerun {out}" in first.output

    again = invoke("rerun", out)
    assert again.exit_code == ExitCode.ROWS_FAILED, again.output
    assert (
        "Using the earlier run's options: --default-region US --sandbox "
        "--timezone America/New_York" in again.output
    )
    rows = read_csv(tmp_path / "campaign.results-2.csv")
    outcomes = [row["outcome"] for row in rows]
    assert outcomes.count("updated") == 18
    assert outcomes.count("invalid") == 1, "the same invalid row, not two"
    failed = next(row for row in rows if row["outcome"] == "failed")
    assert failed["http_status"] == "404", "the failed row was tried again, not made invalid"


def test_an_option_given_again_applies_to_the_rows_not_yet_done(tmp_path: Path) -> None:
    out = tmp_path / "campaign.results.csv"
    invoke("run", SAMPLE.with_name("campaign.xlsx"), "--sandbox", "--out", out, *README_WORKBOOK)
    again = invoke("rerun", out, "--timezone", "Europe/Berlin", "--dry-run")
    assert "Using the earlier run's options: --default-region US --sandbox" in again.output
    assert "Note: --timezone Europe/Berlin differs from the earlier run: it applies to the rows " \
        "not yet done" in again.output  # fmt: skip


def test_the_printed_resume_command_copied_as_it_is_finishes_the_run(
    make_sandbox: Any, tmp_path: Path
) -> None:
    server: Sandbox = make_sandbox(latency_ms=150)
    path = tmp_path / "my campaign.csv"
    ids = [activity_id(n) for n in range(24)]
    server.seed_drafts(ids)
    when = future(days=2)[:16]  # a local time, read in --timezone
    lines = ["Activity,Send at,Status"] + [f"{i},{when},scheduled" for i in ids]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = batch_sms(
        "run", path, "--map", "Activity=id", "--map", "Send at=date_scheduled",
        "--timezone", "Europe/Berlin", "--base-url", server.base_url, "--yes",
        "--concurrency", "2", "--api-key", server.config.api_key,
    )  # fmt: skip
    wait_for_requests(server, 4)
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=30)
    assert run.returncode == ExitCode.INTERRUPTED, stderr
    printed = stderr.split("Carry on with:\n  ", 1)[1].splitlines()[0]
    words = shlex.split(printed)
    assert words[:2] == ["batch-sms", "run"] and "--resume" in words

    resumed = batch_sms(*words[1:], "--api-key", server.config.api_key)
    _, stderr = resumed.communicate(timeout=60)
    assert resumed.returncode == ExitCode.OK, stderr
    assert "Using the earlier run's options: --base-url" in stderr
    rows = read_csv(tmp_path / "my campaign.results.csv")
    assert {row["outcome"] for row in rows} == {"updated"}
    assert [server.sends(i) for i in ids] == [1] * 24, "each SMS scheduled once"


@pytest.fixture
def campaign(write_csv: WriteCsv) -> Path:
    when = future(days=2)[:10] + " 12:00"  # a local time, outside any quiet hours
    return write_csv([{"id": activity_id(0), "status": "scheduled", "date_scheduled": when}])


def timezone_used(result: Any) -> str:
    assert result.exit_code == ExitCode.OK, result.output
    return "placed" if "1 SMS will be scheduled" in result.output else "refused"


def test_precedence_command_line_then_environment_then_config_file(
    campaign: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert "no UTC offset" in invoke("run", campaign, "--dry-run").output
    (tmp_path / "batch-sms.toml").write_text('timezone = "Mars/Olympus"\n', encoding="utf-8")
    from_file = invoke("run", campaign, "--dry-run")
    assert "'Mars/Olympus' is not an IANA time zone name" in from_file.output
    env = {"BATCH_SMS_TIMEZONE": "America/Chicago"}
    from_env = invoke("run", campaign, "--dry-run", "--overwrite", env=env)
    assert timezone_used(from_env) == "placed"
    bad_env = {"BATCH_SMS_TIMEZONE": "Venus/Nowhere"}
    from_line = invoke(
        "run", campaign, "--dry-run", "--overwrite", "--timezone", "Asia/Tokyo", env=bad_env
    )
    assert timezone_used(from_line) == "placed", "the command line wins over the environment"
    shown = invoke("config", env=env).output
    assert f"Config file: {tmp_path / 'batch-sms.toml'}" in shown
    assert "America/Chicago" in shown and "environment BATCH_SMS_TIMEZONE" in shown


def test_a_command_table_applies_to_that_command_only(
    campaign: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "batch-sms.toml").write_text(
        'quiet-hours = "21:00-08:00"\n[run]\ntimezone = "America/New_York"\nmax-sends = 5000\n',
        encoding="utf-8",
    )
    shown = invoke("config", "run").output
    assert "America/New_York" in shown and "config file" in shown
    assert "21:00-08:00" in shown
    assert timezone_used(invoke("run", campaign, "--dry-run")) == "placed"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('api-key = "api_123"\n', "sets api-key: keys and tokens never come from a config file"),
        ('[run]\noauth_token = "x"\n', "sets oauth-token: keys and tokens never come from"),
        ('timezon = "UTC"\n', "'timezon' is not an option."),
        ("[sand]\nport = 1\n", "[sand] is not a batch-sms command"),
        ("timezone = \n", "is not valid TOML"),
    ],
)
def test_a_config_file_with_a_key_or_a_typo_is_refused(
    campaign: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "batch-sms.toml").write_text(content, encoding="utf-8")
    result = invoke("run", campaign, "--dry-run")
    assert result.exit_code == ExitCode.USAGE
    assert message in result.output


def printed_command(output: str, lead: str) -> list[str]:
    """The command printed after `lead`, split as a shell would."""
    return shlex.split(output.split(lead, 1)[1].splitlines()[0])


def test_the_printed_rerun_and_undo_commands_do_what_they_say(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    from tests.test_cli import against

    rows = [{"id": activity_id(n), "status": "outbox", "text": f"Hi {n}"} for n in range(3)]
    rows.append({"id": "acti_missing0000000000", "text": "no such SMS"})
    sandbox.seed_drafts(row["id"] for row in rows[:3])
    first = against(sandbox, write_csv(rows, name="my campaign.csv"))
    assert first.exit_code == ExitCode.ROWS_FAILED, first.output

    rerun = printed_command(first.output, "To retry the rows not updated: ")
    assert rerun[:2] == ["batch-sms", "rerun"]
    again = invoke(*rerun[1:], "--yes", env={"CLOSE_API_KEY": sandbox.config.api_key})
    assert "Using the earlier run's options: --base-url" in again.output
    retried = read_csv(Path(rerun[2]).with_name("my campaign.results-2.csv"))
    assert [row["outcome"] for row in retried] == ["updated"] * 3 + ["failed"]
    assert [sandbox.sends(row["id"]) for row in rows[:3]] == [1, 1, 1], "the rerun sent nothing"

    undo = printed_command(first.output, "To put back what this run changed: ")
    assert undo[:2] == ["batch-sms", "undo"]
    undone = invoke(*undo[1:], "--yes", env={"CLOSE_API_KEY": sandbox.config.api_key})
    assert undone.exit_code == ExitCode.OK, undone.output
    assert (
        "cannot be undone" in undone.output
        or "already sent"
        in read_csv(Path(undo[2]).with_name("my campaign.undo.results.csv"))[0]["error_message"]
    )
