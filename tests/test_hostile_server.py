"""End-to-end: `batch-sms run` against a server on loopback that answers as Close never would
(tests/hostile.py). Each test is a row of issue 10's table: the results file never says
`updated` unless Close said so, and no answer crashes a run, stalls it or leads to a second send.
"""

from __future__ import annotations

import gzip
import json
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from batch_sms.cli import ExitCode, cli
from batch_sms.sandbox.server import Fault, Sandbox, SandboxOptions
from tests.conftest import WriteCsv, activity_id, read_csv
from tests.hostile import (
    Answer,
    CloseLike,
    HostileServer,
    Request,
    answer,
    endless,
    head,
    html_page,
    json_answer,
    raw,
    trickle,
)

SEND, EDIT = activity_id(1), activity_id(2)
ROWS = [
    {"id": SEND, "status": "outbox", "text": "", "note": "=1+1"},
    {"id": EDIT, "status": "", "text": "fixed", "note": "@SUM(A1)"},
]
BASE_URL_HINT = "not Close's API: is --base-url https://api.close.com/api/v1/?"
MAY_HAVE_BEEN_SENT = "the SMS may have been sent: check it in Close before you run this row again"


def invoke(*args: object, env: dict[str, str] | None = None, **options: Any) -> Result:
    environment = {"CLOSE_API_KEY": None, "CLOSE_OAUTH_TOKEN": None, "CLOSE_BASE_URL": None}
    runner = CliRunner(env={**environment, **(env or {})})
    # color=True: what a terminal would get, escape sequences included (click strips some
    # of them for anything else, which would hide them from the test).
    return runner.invoke(cli, [str(arg) for arg in args], color=True, **options)


def run_against(server: HostileServer, path: Path, *args: object) -> Result:
    return invoke(
        "run", path, "--yes", "--base-url", server.base_url, "--api-key", "k",
        "--retry-wait", "0.01", "--max-retries", "1", "--timeout", "2", *args,
    )  # fmt: skip


def results_of(path: Path) -> list[dict[str, str]]:
    return read_csv(path.with_name(path.stem + ".results.csv"))


def on_put(misbehave: Any, close: CloseLike | None = None) -> Any:
    """Close everywhere but for PUTs, which `misbehave(request, close)` answers."""
    close = close or CloseLike()

    def behave(request: Request) -> Answer:
        return misbehave(request, close) if request.method == "PUT" else close(request)

    return behave


@pytest.mark.parametrize("preflight", [[], ["--no-preflight"]])
def test_a_web_page_at_the_base_url_stops_the_run_before_any_update(
    write_csv: WriteCsv, preflight: list[str]
) -> None:
    path = write_csv(ROWS)
    with HostileServer(lambda request: html_page()) as server:
        result = run_against(server, path, *preflight)
    assert result.exit_code == ExitCode.ABORTED
    assert server.puts() == []
    assert f"answered with an HTML page, {BASE_URL_HINT} (a 200 answer, text/html" in (
        result.stderr
    )
    assert [row["outcome"] for row in results_of(path)] == ["not_attempted"] * 2


def test_the_sandbox_answering_as_a_web_page_stops_the_run(write_csv: WriteCsv) -> None:
    path = write_csv(ROWS)
    with Sandbox(SandboxOptions(any_id=True, fault=Fault.HTML_PAGE)) as sandbox:
        result = invoke(
            "run", path, "--yes", "--base-url", sandbox.base_url, "--api-key", "sandbox_api_key"
        )
        assert [entry.method for entry in sandbox.log] == ["GET"]
    assert result.exit_code == ExitCode.ABORTED
    assert f"answered with an HTML page, {BASE_URL_HINT}" in result.stderr


def other_id(request: Request, close: CloseLike) -> Answer:
    state = close.apply(str(request.activity_id), request.json)
    return json_answer(200, {**state, "id": activity_id(99)})


def test_a_put_answered_with_another_activitys_id_is_never_updated(write_csv: WriteCsv) -> None:
    path = write_csv(ROWS)
    with HostileServer(on_put(other_id)) as server:
        result = run_against(server, path)
    assert result.exit_code == ExitCode.ROWS_FAILED
    sent, edited = results_of(path)
    # The send is read back (GET answers as Close): done, and not sent again.
    assert sent["outcome"] == "updated"
    assert sent["error_message"].startswith(
        f"no valid answer to the send (an answer about another SMS ({activity_id(99)}) than {SEND}"
    )
    assert sent["error_message"].endswith("; read back: Close shows it status sent")
    assert edited["outcome"] == "failed"
    assert edited["error_message"].startswith(
        f"not a valid answer from Close: an answer about another SMS ({activity_id(99)})"
    )
    assert [request.activity_id for request in server.puts()].count(SEND) == 1


def test_a_send_whose_answers_all_name_another_activity_may_have_been_sent(
    write_csv: WriteCsv,
) -> None:
    close = CloseLike()

    def behave(request: Request) -> Answer:
        if request.activity_id is None:
            return close(request)
        if request.method == "PUT":
            close.apply(request.activity_id, request.json)
        return json_answer(200, {**close.state(request.activity_id), "id": activity_id(99)})

    path = write_csv(ROWS[:1])
    with HostileServer(behave) as server:
        result = run_against(server, path)
    assert result.exit_code == ExitCode.ROWS_FAILED
    (row,) = results_of(path)
    assert row["outcome"] == "failed"
    assert row["error_message"].endswith(MAY_HAVE_BEEN_SENT)
    assert len(server.puts()) == 1


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
@pytest.mark.parametrize(
    "url", ["http://close.example.com/api/v1/", "http://192.168.1.20:8765/api/v1/"]
)
def test_plain_http_to_another_machine_is_refused_before_any_request(
    write_csv: WriteCsv, url: str, dry_run: list[str]
) -> None:
    path = write_csv(ROWS)
    result = invoke("run", path, "--yes", "--api-key", "k", "--base-url", url, *dry_run)
    assert result.exit_code == ExitCode.USAGE
    assert f"'{url}' is plain http: the API key would travel unencrypted." in result.stderr
    assert not path.with_name("input.results.csv").exists()


@pytest.mark.parametrize(
    "url", ["http://localhost:1/api/v1/", "http://[::1]:1/api/v1/", "http://127.3.2.1:1/api/v1/"]
)
def test_plain_http_to_this_machine_is_accepted(write_csv: WriteCsv, url: str) -> None:
    result = invoke("run", write_csv(ROWS), "--dry-run", "--base-url", url)
    assert result.exit_code == ExitCode.OK, result.output


@pytest.mark.parametrize("how", ["option", "environment"])
@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
def test_credentials_inside_the_base_url_are_refused_and_never_shown(
    write_csv: WriteCsv, how: str, dry_run: list[str]
) -> None:
    path = write_csv(ROWS)
    url = "http://user:s3cretpw@127.0.0.1:1/api/v1/"
    if how == "option":
        result = invoke("run", path, "--yes", "--api-key", "k", "--base-url", url, *dry_run)
    else:
        env = {"CLOSE_BASE_URL": url, "CLOSE_API_KEY": "k"}
        result = invoke("run", path, "--yes", *dry_run, env=env)
    assert result.exit_code == ExitCode.USAGE
    assert "'http://127.0.0.1:1/api/v1/' holds a user name or password before the host" in (
        result.stderr
    )
    assert "s3cretpw" not in result.output
    assert not path.with_name("input.results.csv").exists()


def with_header(ok: Answer, name: str, value: str) -> Answer:
    data = ok.parts[0][1].replace(b"\r\n\r\n", f"\r\n{name}: {value}\r\n\r\n".encode(), 1)
    return Answer(((0.0, data),))


def test_a_rate_limit_header_of_400_digits_is_ignored(write_csv: WriteCsv) -> None:
    close = CloseLike()
    header = f"limit={'9' * 400}, remaining=5, reset=1"
    path = write_csv(ROWS)
    with HostileServer(lambda request: with_header(close(request), "RateLimit", header)) as server:
        result = run_against(server, path)
    assert result.exit_code == ExitCode.OK, result.output
    assert [row["outcome"] for row in results_of(path)] == ["updated"] * 2


DEEP = b"[" * 200_000 + b"]" * 200_000


def test_json_200000_deep_as_the_first_answer_stops_the_run(write_csv: WriteCsv) -> None:
    path = write_csv(ROWS)
    with HostileServer(lambda request: answer(200, DEEP)) as server:
        result = run_against(server, path)
    assert result.exit_code == ExitCode.ABORTED
    assert f"answered with JSON nested too deep to be Close's, {BASE_URL_HINT}" in result.stderr
    assert "Traceback" not in result.output
    assert server.puts() == []


def test_json_200000_deep_answering_updates_is_a_bad_answer(write_csv: WriteCsv) -> None:
    def deep(request: Request, close: CloseLike) -> Answer:
        close.apply(str(request.activity_id), request.json)
        return answer(200, DEEP)

    path = write_csv(ROWS)
    with HostileServer(on_put(deep)) as server:
        result = run_against(server, path)
    assert result.exit_code == ExitCode.ROWS_FAILED
    sent, edited = results_of(path)
    assert sent["outcome"] == "updated"
    assert sent["error_message"].startswith(
        "no valid answer to the send (JSON nested too deep to be Close's"
    )
    assert edited["outcome"] == "failed"
    assert len(server.puts()) == 2


def test_an_endless_body_is_cut_at_1_mb(write_csv: WriteCsv) -> None:
    path = write_csv(ROWS)
    tracemalloc.start()
    started = time.monotonic()
    try:
        with HostileServer(lambda request: endless()) as server:
            result = run_against(server, path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 5
    assert peak < 30_000_000
    assert result.exit_code == ExitCode.ABORTED
    assert "answered with an answer bigger than 1,000,000 bytes, not Close's API" in result.stderr


def test_a_body_trickled_byte_by_byte_is_cut_off_at_the_timeout(write_csv: WriteCsv) -> None:
    def slowly(request: Request, close: CloseLike) -> Answer:
        state = close.apply(str(request.activity_id), request.json)
        return trickle(json.dumps(state).encode(), every=0.05)  # 100 bytes: 5 s

    path = write_csv(ROWS)
    started = time.monotonic()
    with HostileServer(on_put(slowly)) as server:
        result = run_against(server, path, "--timeout", "0.3")
    assert time.monotonic() - started < 3
    assert result.exit_code == ExitCode.ROWS_FAILED
    sent, edited = results_of(path)
    assert (sent["outcome"], sent["error_message"]) == (
        "updated",
        "no answer to the send (AnswerTooSlow: no whole answer within 0.3 s); read back: "
        "Close shows it status sent",
    )
    assert (edited["outcome"], edited["error_message"]) == (
        "failed",
        "no answer from Close (AnswerTooSlow: no whole answer within 0.3 s) in 2 attempts",
    )


def test_a_wait_of_a_year_stops_the_run_in_order(write_csv: WriteCsv) -> None:
    def a_year(request: Request, close: CloseLike) -> Answer:
        return json_answer(429, {"error": "slow down"}, {"Retry-After": "31536000"})

    path = write_csv(ROWS)
    started = time.monotonic()
    with HostileServer(on_put(a_year)) as server:
        result = run_against(server, path, "--concurrency", "1")
    assert time.monotonic() - started < 3
    assert result.exit_code == ExitCode.ABORTED
    assert (
        "The run stopped early: Close answered 429 and asked to wait 31,536,000 s before the "
        "next request, longer than the 300 s this tool waits"
    ) in result.stderr
    assert [row["outcome"] for row in results_of(path)] == ["failed", "not_attempted"]
    assert len(server.puts()) == 1


def test_a_rate_limit_window_that_never_resets_is_ignored(write_csv: WriteCsv) -> None:
    close = CloseLike()
    header = "limit=100, remaining=0, reset=1000000000000"
    rows = [{"id": activity_id(n), "text": "fixed"} for n in range(4)]
    path = write_csv(rows)
    started = time.monotonic()
    with HostileServer(lambda request: with_header(close(request), "RateLimit", header)) as server:
        result = run_against(server, path, "--concurrency", "1")
    assert time.monotonic() - started < 3
    assert result.exit_code == ExitCode.OK, result.output
    assert len(server.puts()) == 4


def test_escape_sequences_from_the_server_are_escaped_on_the_terminal(
    write_csv: WriteCsv,
) -> None:
    message = "\x1b]0;owned\x07\x1b[2J\x1b[31mInvalid API key\x1b[0m"
    path = write_csv(ROWS)
    with HostileServer(lambda request: json_answer(401, {"error": message})) as server:
        result = run_against(server, path)
    assert result.exit_code == ExitCode.ABORTED
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert (
        "The run stopped early: Close answered 401 to the credentials: "
        "\\x1b]0;owned\\x07\\x1b[2J\\x1b[31mInvalid API key\\x1b[0m"
    ) in result.stderr
    for row in results_of(path):
        assert "\x1b" not in row["error_message"]


def test_escape_sequences_in_cells_are_escaped_on_the_terminal(write_csv: WriteCsv) -> None:
    path = write_csv([{"id": SEND, "status": "\x1b[31mnow\x1b]0;owned\x07"}])
    result = invoke("run", path, "--dry-run")
    assert result.exit_code == ExitCode.ROWS_FAILED
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "  row 2: status: " in result.stderr


def test_formulas_from_close_are_kept_as_text_and_the_users_cells_as_they_were(
    write_csv: WriteCsv,
) -> None:
    formula = '=HYPERLINK("http://evil.example","click")'

    def with_formula(request: Request, close: CloseLike) -> Answer:
        state = close.apply(str(request.activity_id), request.json)
        return json_answer(200, {**state, "error_message": formula})

    path = write_csv(ROWS)
    with HostileServer(on_put(with_formula)) as server:
        result = run_against(server, path)
        assert result.exit_code == ExitCode.OK, result.output
        first = results_of(path)
        assert [row["close_error_message"] for row in first] == ["'" + formula] * 2
        assert [row["note"] for row in first] == ["=1+1", "@SUM(A1)"]
        # A rerun carries the rows over: nothing is sent, nothing doubles its apostrophe.
        rerun = invoke(
            "rerun", path.with_name("input.results.csv"), "--base-url", server.base_url,
            "--api-key", "k", "--yes",
        )  # fmt: skip
        assert len(server.puts()) == 2
    assert rerun.exit_code == ExitCode.OK, rerun.output
    second = read_csv(path.with_name("input.results-2.csv"))
    assert [row["close_error_message"] for row in second] == ["'" + formula] * 2
    assert [row["note"] for row in second] == ["=1+1", "@SUM(A1)"]


def test_a_4000_character_header_is_not_quoted_whole(write_csv: WriteCsv) -> None:
    bad = raw(head(200, {"X-Bad" + "\x01" * 4000: "y", "Content-Length": "2"}) + b"{}")
    path = write_csv(ROWS)
    with HostileServer(lambda request: bad) as server:
        result = run_against(server, path)
    assert result.exit_code == ExitCode.ABORTED
    assert "RemoteProtocolError: illegal header line" in result.stderr
    assert max(len(line) for line in result.stderr.splitlines()) < 500
    for row in results_of(path):
        assert len(row["error_message"]) < 500


def test_a_4000_character_error_message_is_cut(write_csv: WriteCsv) -> None:
    def quoting(request: Request, close: CloseLike) -> Answer:
        return json_answer(400, {"error": "Bad header X-Thing: " + "a" * 4000})

    path = write_csv(ROWS)
    with HostileServer(on_put(quoting)) as server:
        result = run_against(server, path)
    assert result.exit_code == ExitCode.ROWS_FAILED
    for row in results_of(path):
        assert row["error_message"].startswith("Close rejected the update (400): Bad header X")
        assert row["error_message"].endswith("more characters)")
        assert len(row["error_message"]) < 350


def test_a_redirect_is_not_followed_with_the_key(write_csv: WriteCsv) -> None:
    with HostileServer(CloseLike()) as elsewhere:
        target = elsewhere.base_url + "activity/sms/"
        path = write_csv(ROWS)
        redirect = answer(302, headers={"Location": target})
        with HostileServer(lambda request: redirect) as server:
            result = run_against(server, path)
        assert elsewhere.requests == []
    assert result.exit_code == ExitCode.ABORTED
    assert f"answered with a redirect to {target} (not followed), {BASE_URL_HINT}" in (
        result.stderr
    )


def test_sandbox_command_fault_html_page_answers_as_a_web_page() -> None:
    command = [sys.executable, "-m", "batch_sms", "sandbox", "--port", "0", "--any-id"]
    server = subprocess.Popen([*command, "--fault", "html_page"], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    try:
        base_url = server.stdout.readline().strip().rsplit(" ", 1)[-1]
        page = httpx.get(f"{base_url}activity/sms/acti_anything/", auth=("sandbox_api_key", ""))
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=10)
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.text.startswith("<!DOCTYPE html>")


# --- The key ---------------------------------------------------------------------------------


def against_sandbox(sandbox: Sandbox, path: Path, *args: object, **options: Any) -> Result:
    sandbox.seed_drafts([SEND, EDIT])
    return invoke("run", path, "--yes", "--base-url", sandbox.base_url, *args, **options)


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "close.key"
    path.write_text("sandbox_api_key\n")
    return path


def test_the_key_is_read_from_a_file(sandbox: Sandbox, write_csv: WriteCsv, key_file: Path) -> None:
    path = write_csv(ROWS[1:])
    result = against_sandbox(sandbox, path, "--api-key-file", key_file)
    assert result.exit_code == ExitCode.OK, result.output
    assert [row["outcome"] for row in results_of(path)] == ["updated"]


def test_the_key_file_is_read_from_standard_input(sandbox: Sandbox, write_csv: WriteCsv) -> None:
    path = write_csv(ROWS[1:])
    result = against_sandbox(sandbox, path, "--api-key-file", "-", input="sandbox_api_key\n")
    assert result.exit_code == ExitCode.OK, result.output


def test_the_key_file_wins_over_the_environment(
    sandbox: Sandbox, write_csv: WriteCsv, key_file: Path
) -> None:
    path = write_csv(ROWS[1:])
    env = {"CLOSE_API_KEY": "another_key"}
    result = against_sandbox(sandbox, path, "--api-key-file", key_file, env=env)
    assert result.exit_code == ExitCode.OK, result.output


def test_a_key_on_the_command_line_and_in_a_file_is_a_mistake(
    write_csv: WriteCsv, key_file: Path
) -> None:
    args = ("--api-key", "k", "--api-key-file", key_file, "--dry-run")
    result = invoke("run", write_csv(ROWS), *args)
    assert result.exit_code == ExitCode.USAGE
    assert "Give --api-key or --api-key-file, not both." in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "does not hold one API key (one line, no spaces)."),
        ("key one\n", "does not hold one API key"),
        ("first\nsecond\n", "does not hold one API key"),
        ("k" * 5000, "does not hold one API key"),
        (None, "cannot read"),
    ],
)
def test_a_key_file_that_holds_no_key_is_refused(
    write_csv: WriteCsv, tmp_path: Path, content: str | None, message: str
) -> None:
    key_file = tmp_path / "close.key"
    if content is not None:
        key_file.write_text(content)
    result = invoke("run", write_csv(ROWS), "--api-key-file", key_file, "--yes")
    assert result.exit_code == ExitCode.USAGE
    assert f"Invalid value for '--api-key-file': {key_file} {message}" in result.stderr or (
        f"Invalid value for '--api-key-file': {message} {key_file}" in result.stderr
    )


def test_without_a_key_a_terminal_is_asked_for_it(
    sandbox: Sandbox, write_csv: WriteCsv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("batch_sms.cli.options.at_terminal", lambda: True)
    path = write_csv(ROWS[1:])
    result = against_sandbox(sandbox, path, input="sandbox_api_key\n")
    assert result.exit_code == ExitCode.OK, result.output
    assert "Close API key (not shown): " in result.stderr
    assert "sandbox_api_key" not in result.output


# --- A crash ---------------------------------------------------------------------------------


def crash(*args: Any, **options: Any) -> Any:
    raise RuntimeError("a bug \x1b[2J")


def test_a_crash_exits_4_with_where_the_ledger_is_and_no_traceback(
    sandbox: Sandbox, write_csv: WriteCsv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("batch_sms.job.stream.Sender.execute", crash)
    path = write_csv(ROWS)
    result = against_sandbox(sandbox, path, "--api-key", "sandbox_api_key")
    assert result.exit_code == ExitCode.INTERNAL == 4
    ledger = path.with_name("input.results.csv.ledger")
    assert ledger.exists()
    assert result.stderr.splitlines()[-3:] == [
        "batch-sms stopped on an unexpected error, a bug: RuntimeError: a bug \\x1b[2J",
        f"Every row finished so far is in the ledger {ledger}: run the same command with "
        "--resume to carry on; rows that were in flight are read back from Close.",
        "To see the traceback, run it again with BATCH_SMS_DEBUG=1.",
    ]
    assert "Traceback" not in result.output


def test_a_crash_before_sending_says_nothing_was_sent(
    write_csv: WriteCsv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.modules["batch_sms.job.campaign"], "make_plan", crash)
    result = invoke("run", write_csv(ROWS), "--dry-run")
    assert result.exit_code == ExitCode.INTERNAL
    assert "Nothing was sent." in result.stderr


def test_batch_sms_debug_shows_the_traceback(
    write_csv: WriteCsv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.modules["batch_sms.job.campaign"], "make_plan", crash)
    result = invoke("run", write_csv(ROWS), "--dry-run", env={"BATCH_SMS_DEBUG": "1"})
    assert isinstance(result.exception, RuntimeError)
    assert result.exit_code == 1


def test_a_body_that_cannot_be_decoded_is_a_bad_answer(write_csv: WriteCsv) -> None:
    garbage = answer(200, b"not gzip at all", headers={"Content-Encoding": "gzip"})
    path = write_csv(ROWS)
    with HostileServer(lambda request: garbage) as server:
        result = run_against(server, path)
    assert result.exit_code == ExitCode.ABORTED
    assert "answered with a body that cannot be decoded, not Close's API" in result.stderr
    assert "(a 200 answer, Content-Encoding gzip)" in result.stderr


def test_a_gzip_bomb_is_cut_at_1_mb(write_csv: WriteCsv) -> None:
    bomb = answer(200, gzip.compress(b"[" * 200_000_000), headers={"Content-Encoding": "gzip"})
    path = write_csv(ROWS)
    tracemalloc.start()
    try:
        with HostileServer(lambda request: bomb) as server:
            result = run_against(server, path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.exit_code == ExitCode.ABORTED
    assert "answered with an answer bigger than 1,000,000 bytes" in result.stderr
    assert peak < 20_000_000


def test_a_gzipped_answer_from_close_is_read(write_csv: WriteCsv) -> None:
    close = CloseLike()

    def gzipped(request: Request) -> Answer:
        payload: Any
        if request.activity_id is None:
            ids = request.query["id__in"].split(",")
            payload = {"data": [close.state(i) for i in ids], "has_more": False}
        elif request.method == "PUT":
            payload = close.apply(request.activity_id, request.json)
        else:
            payload = close.state(request.activity_id)
        body = gzip.compress(json.dumps(payload).encode())
        return answer(200, body, headers={"Content-Encoding": "gzip"})

    path = write_csv(ROWS)
    with HostileServer(gzipped) as server:
        result = run_against(server, path)
    assert result.exit_code == ExitCode.OK, result.output
    assert server.requests[0].headers["accept-encoding"] == "gzip, deflate"
