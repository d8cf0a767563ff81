"""`batch-sms export`: every SMS the filters select, exactly once, however long the list; and
the round trip: export, fill in a few rows as a person would, `run` the file, and only those
rows' filled-in cells are sent."""

from __future__ import annotations

import csv
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from click.testing import CliRunner, Result

from batch_sms.checks.validation import Unchanged, Validator
from batch_sms.cli import ExitCode, cli
from batch_sms.close.client import Credentials
from batch_sms.export import ExportAborted, ExportFilters, ExportOptions, export_sms, sheet
from batch_sms.export.filters import LEADS_PER_REQUEST, parse_when
from batch_sms.files import columns
from batch_sms.files.rows import read_table
from batch_sms.job.stream import Connection
from batch_sms.models import Invalid
from batch_sms.sandbox import (
    DEMO_SMS,
    Fault,
    Sandbox,
    SandboxModel,
    SandboxOptions,
    mock_transport,
    seed_demo,
)
from batch_sms.sandbox.messages import Reply, Request
from tests.conftest import NOW, read_csv

KEY = "sandbox_api_key"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
FAST = ExportOptions(retry_wait=0.001, max_wait=0.01)
EDITED_TEXT = "Hi, the new price list is out: https://example.com/p"
SCHEDULE_AT = "2030-01-07T09:00:00-05:00"


def invoke(*args: object) -> Result:
    environment = {"CLOSE_API_KEY": None, "CLOSE_OAUTH_TOKEN": None, "CLOSE_BASE_URL": None}
    runner = CliRunner(env=environment)
    return runner.invoke(cli, [str(arg) for arg in args], catch_exceptions=False)


def export_from(server: Sandbox, *args: object) -> Result:
    return invoke("export", *args, "--base-url", server.base_url, "--api-key", KEY)


def run_against(server: Sandbox, path: Path, *args: object) -> Result:
    return invoke(
        "run", path, "--base-url", server.base_url, "--api-key", KEY, "--yes",
        "--retry-wait", "0.01", *args,
    )  # fmt: skip


def export_in_process(
    model: SandboxModel,
    out: Path,
    filters: ExportFilters = ExportFilters(statuses=("draft", "sent")),  # noqa: B008
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[dict[str, str]]:
    connection = Connection(Credentials(api_key=KEY), "https://close.test/api/v1/", 5.0,
                            transport or mock_transport(model))  # fmt: skip
    export_sms(connection, filters, out, FAST)
    return read_csv(out) if out.suffix == ".csv" else []


def list_requests(server: Sandbox | SandboxModel) -> list[dict[str, str]]:
    return [dict(e.query or {}) for e in server.log if e.method == "GET" and e.query is not None]


def model(**config: Any) -> SandboxModel:
    return SandboxModel(SandboxOptions(**config), clock=lambda: NOW)


def add_timeline(sandbox: SandboxModel, groups: list[int], **fields: Any) -> list[str]:
    """SMS created in groups that share an instant (a minute apart); ids oldest first."""
    made = []
    for group, size in enumerate(groups):
        for _ in range(size):
            activity_id = f"acti_{len(made):010d}"
            created = T0 + timedelta(minutes=group)
            sandbox.add_activity(activity_id, date_created=created, **fields)
            made.append(activity_id)
    return made


# --- Deep lists: every SMS exactly once, without a growing _skip --------------------------------


@pytest.mark.parametrize(
    "groups",
    [
        [1] * 1200,  # a long list, no ties
        [1] * 150 + [300] + [1] * 750,  # hundreds created together, across page boundaries
        [7] * 170 + [3],  # ties at every page boundary
        [100, 100, 1, 99, 101],  # a tie group that is exactly a page, then one more
    ],
)
def test_a_list_deeper_than_the_skip_cap_is_exported_whole(
    tmp_path: Path, groups: list[int]
) -> None:
    sandbox = model(max_skip=250)
    made = add_timeline(sandbox, groups)
    rows = export_in_process(sandbox, tmp_path / "out.csv", ExportFilters())
    exported = [row["id"] for row in rows]
    assert Counter(exported) == Counter(made)  # each once
    assert len(made) > 250 + 100  # deeper than the cap allows to skip through
    created = [row["current_date_created"] for row in rows]
    assert created == sorted(created, reverse=True)
    requests = list_requests(sandbox)
    assert all(int(query.get("_skip", 0)) <= 250 for query in requests)
    assert all(query["_limit"] == "100" for query in requests)
    # Little more than one request per page: the boundary is fetched again, nothing else.
    assert len(requests) <= len(made) / 100 * 1.3 + 4


def test_the_command_over_http_past_the_skip_cap_with_ties(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    server = make_sandbox(max_skip=250)
    made = add_timeline(server.model, [1] * 140 + [300] + [2] * 300, status="draft")
    out = tmp_path / "out.csv"
    result = export_from(server, "--out", out)
    assert result.exit_code == ExitCode.OK, result.output
    assert Counter(row["id"] for row in read_csv(out)) == Counter(made)
    assert f"{len(made):,} SMS (draft) of {len(made):,} listed" in result.output
    assert {entry.status_code for entry in server.log} == {200}


def test_more_sms_in_one_instant_than_the_skip_cap_stop_the_export(tmp_path: Path) -> None:
    sandbox = model(max_skip=150)
    add_timeline(sandbox, [5, 400, 5])
    out = tmp_path / "out.csv"
    with pytest.raises(ExportAborted, match="more than 200 SMS were created in the same instant"):
        export_in_process(sandbox, out, ExportFilters())
    assert list(tmp_path.iterdir()) == []  # no file, no temporary file


def fake_close(pages: Callable[[httpx.Request], dict[str, Any]]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=pages(request))

    return httpx.MockTransport(answer)


def sms(number: int, minutes: int, **fields: Any) -> dict[str, Any]:
    created = (T0 + timedelta(minutes=minutes)).isoformat()
    return {"id": f"acti_{number:010d}", "date_created": created, "status": "draft", **fields}


@pytest.mark.parametrize(
    ("page", "message"),
    [
        ([sms(1, 0), sms(2, 5)], "Close did not list the SMS newest first"),
        ([sms(1, 0, lead_id="lead_other1")], "did not apply the filter"),
        ([{"id": "acti_1"}], "without an id or a date_created"),
        ([sms(1, 0) | {"date_created": "soon"}], "not a date"),
        ([], "an empty page that says more follow"),
    ],
)
def test_a_list_the_export_cannot_trust_stops_it(
    tmp_path: Path, page: list[dict[str, Any]], message: str
) -> None:
    transport = fake_close(lambda request: {"data": page, "has_more": True})
    filters = ExportFilters(lead_ids=("lead_asked1",))
    with pytest.raises(ExportAborted, match=message):
        export_in_process(model(), tmp_path / "out.csv", filters, transport)
    assert list(tmp_path.iterdir()) == []


def test_a_later_page_starting_after_the_boundary_stops_the_export(tmp_path: Path) -> None:
    answers = iter([[sms(1, 9), sms(2, 8)], [sms(3, 9)]])
    transport = fake_close(lambda request: {"data": next(answers), "has_more": True})
    with pytest.raises(ExportAborted, match="or before, Close listed acti_0000000003"):
        export_in_process(model(), tmp_path / "out.csv", ExportFilters(), transport)


def test_a_server_that_is_not_close_stops_the_export(tmp_path: Path) -> None:
    def page(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, html="<html>Welcome to our site</html>")

    transport = httpx.MockTransport(page)
    with pytest.raises(ExportAborted, match=r"answered with an HTML page, not Close.s list of SMS"):
        export_in_process(model(), tmp_path / "out.csv", ExportFilters(), transport)
    assert list(tmp_path.iterdir()) == []


def test_when_close_refuses_several_leads_at_once_it_is_asked_one_lead_at_a_time(
    tmp_path: Path,
) -> None:
    sandbox = model()
    leads = [f"lead_{n:06d}" for n in range(3)]
    for number, lead in enumerate(leads * 3):
        sandbox.add_activity(f"acti_{number:010d}", lead_id=lead, date_created=T0)
    sandbox.add_activity("acti_other_lead", lead_id="lead_notasked")

    def one_lead_only(request: httpx.Request) -> httpx.Response:
        if "," in request.url.params.get("lead_id", ""):
            return httpx.Response(400, json={"error": "lead_id: one id, please"})
        return answer_from(sandbox, request)

    rows = export_in_process(
        sandbox, tmp_path / "out.csv", ExportFilters(lead_ids=tuple(leads)),
        httpx.MockTransport(one_lead_only),
    )  # fmt: skip
    assert sorted(row["id"] for row in rows) == [f"acti_{n:010d}" for n in range(9)]
    assert {row["current_lead_id"] for row in rows} == set(leads)


def answer_from(sandbox: SandboxModel, request: httpx.Request) -> httpx.Response:
    reply: Reply = sandbox.handle(
        Request(
            request.method,
            request.url.path,
            dict(request.url.params),
            {"authorization": request.headers["authorization"]},
            None,
        )
    )
    assert reply.status is not None
    return httpx.Response(reply.status, content=reply.body, headers=list(reply.headers))


def test_503s_and_429s_are_waited_out_and_retried(tmp_path: Path) -> None:
    sandbox = model(fail_rate=0.5, seed=3, rate_limit=4, rate_window=0.05)
    made = add_timeline(sandbox, [3] * 300)
    sandbox.inject_list(None, Fault.RATE_LIMITED, None, Fault.BAD_GATEWAY, Fault.RATE_LIMITED)
    rows = export_in_process(sandbox, tmp_path / "out.csv", ExportFilters())
    assert Counter(row["id"] for row in rows) == Counter(made)
    codes = Counter(entry.status_code for entry in sandbox.log)
    assert codes[503] >= 2 and codes[429] == 2 and codes[502] == 1


def test_leads_go_in_batches(tmp_path: Path) -> None:
    sandbox = model()
    leads = [f"lead_{n:06d}" for n in range(LEADS_PER_REQUEST + 5)]
    for number, lead in enumerate(leads):
        sandbox.add_activity(f"acti_{number:010d}", lead_id=lead)
    rows = export_in_process(sandbox, tmp_path / "out.csv", ExportFilters(lead_ids=tuple(leads)))
    assert len(rows) == len(leads)
    batches = [query["lead_id"].split(",") for query in list_requests(sandbox)]
    assert [len(batch) for batch in batches] == [LEADS_PER_REQUEST, 5]


# --- The command: filters ------------------------------------------------------------------------


class Demo:
    """A sandbox on loopback with made-up SMS, and those SMS as it stores them."""

    def __init__(self, server: Sandbox, count: int) -> None:
        self.server = server
        self.sms = [
            server.activity(activity_id) or {} for activity_id in seed_demo(server.model, count)
        ]

    def ids(self, keep: Callable[[dict[str, Any]], bool]) -> list[str]:
        return sorted(sms["id"] for sms in self.sms if keep(sms))

    def most(self, field: str) -> str:
        return Counter(sms[field] for sms in self.sms).most_common(1)[0][0]


@pytest.fixture
def demo() -> Iterator[Demo]:
    with Sandbox() as server:
        yield Demo(server, 600)


def exported_ids(path: Path) -> list[str]:
    return sorted(row["id"] for row in read_csv(path))


def created(sms: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(sms["date_created"])


def test_drafts_by_default_with_what_a_person_needs_to_see(demo: Demo, tmp_path: Path) -> None:
    out = tmp_path / "drafts.csv"
    result = export_from(demo.server, "--out", out)
    assert result.exit_code == ExitCode.OK, result.output
    drafts = demo.ids(lambda sms: sms["status"] == "draft")
    assert exported_ids(out) == drafts
    assert f"{len(drafts):,} SMS (draft) of 600 listed" in result.output
    assert f"batch-sms run {out}" in result.output
    row = read_csv(out)[0]
    assert list(row) == list(sheet.HEADER)
    original = demo.server.activity(row["id"]) or {}
    assert row["lead_url"] == f"https://app.close.com/lead/{original['lead_id']}/"
    for name in ("remote_phone", "status", "text", "user_name", "lead_id", "date_created"):
        assert row[f"current_{name}"] == str(original[name])
    assert row["status"] == row["date_scheduled"] == row["text"] == ""


def test_filters_map_onto_closes_list_and_status_is_kept_here(demo: Demo, tmp_path: Path) -> None:
    user, lead = demo.most("user_id"), demo.most("lead_id")
    contact = demo.most("contact_id")
    middle = sorted(created(sms) for sms in demo.sms)[300]
    out = tmp_path / "out.csv"
    args = [
        "--status", "draft", "--status", "sent", "--user-id", user,
        "--created-before", middle.isoformat(),
    ]  # fmt: skip
    result = export_from(demo.server, "--out", out, *args)
    assert result.exit_code == ExitCode.OK, result.output
    assert exported_ids(out) == demo.ids(
        lambda sms: (
            sms["status"] in ("draft", "sent") and sms["user_id"] == user and created(sms) < middle
        )
    )
    first = list_requests(demo.server)[0]
    assert first["user_id"] == user
    assert first["date_created__lt"] == middle.isoformat()
    assert "status" not in first and set(first["_fields"].split(",")) == set(sheet.FIELDS)

    out2 = tmp_path / "lead.csv"
    result = export_from(
        demo.server, "--out", out2, "--lead-id", lead, "--contact-id", contact,
        "--status", "draft", "--status", "scheduled", "--status", "sent", "--status", "error",
        "--status", "inbox", "--status", "outbox",
    )  # fmt: skip
    assert result.exit_code == ExitCode.OK, result.output
    assert exported_ids(out2) == demo.ids(
        lambda sms: sms["lead_id"] == lead and sms["contact_id"] == contact
    )


def test_created_after_in_a_time_zone(demo: Demo, tmp_path: Path) -> None:
    day = sorted(created(sms) for sms in demo.sms)[400].astimezone(UTC).date()
    out = tmp_path / "out.csv"
    result = export_from(
        demo.server, "--out", out, "--created-after", day.isoformat(), "--timezone", "Asia/Tokyo"
    )
    assert result.exit_code == ExitCode.OK, result.output
    start = parse_when(day.isoformat(), __import__("zoneinfo").ZoneInfo("Asia/Tokyo"))
    assert start.utcoffset() == timedelta(hours=9)
    assert exported_ids(out) == demo.ids(
        lambda sms: sms["status"] == "draft" and created(sms) > start
    )


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_leads_from_a_file(demo: Demo, tmp_path: Path, kind: str) -> None:
    leads = sorted({sms["lead_id"] for sms in demo.sms})[:70]
    if kind == "csv":
        leads_file = tmp_path / "leads.csv"
        with leads_file.open("w", newline="", encoding="utf-8") as stream:
            writer = csv.writer(stream)
            writer.writerow(["Company", "Lead"])
            writer.writerows([[f"Company {n}", lead] for n, lead in enumerate(leads)])
            writer.writerow(["(no lead yet)", ""])
        args: list[object] = ["--leads", leads_file, "--map", "Lead=lead_id"]
    else:  # a lead list exported from Close: an id column of lead ids
        leads_file = tmp_path / "leads.xlsx"
        workbook = openpyxl.Workbook()
        workbook.active.append(["id", "display_name"])
        for lead in leads:
            workbook.active.append([lead, "Acme"])
        workbook.save(leads_file)
        args = ["--leads", leads_file]
    out = tmp_path / "out.csv"
    result = export_from(demo.server, "--out", out, *args)
    assert result.exit_code == ExitCode.OK, result.output
    assert exported_ids(out) == demo.ids(
        lambda sms: sms["lead_id"] in leads and sms["status"] == "draft"
    )
    batches = {query["lead_id"] for query in list_requests(demo.server)}
    assert sorted(len(batch.split(",")) for batch in batches) == [20, 50]


def test_429s_mid_export_are_waited_out(tmp_path: Path) -> None:
    with Sandbox(SandboxOptions(rate_limit=3, rate_window=0.1)) as server:
        made = seed_demo(server.model, 1500)
        server.inject_list(*[None] * 5, Fault.RATE_LIMITED, None, Fault.RATE_LIMITED)
        out = tmp_path / "out.csv"
        result = export_from(server, "--out", out, *statuses_all())
        codes = Counter(entry.status_code for entry in server.log)
    assert result.exit_code == ExitCode.OK, result.output
    assert Counter(row["id"] for row in read_csv(out)) == Counter(made)
    assert codes[429] == 2 and codes[200] >= 15


def statuses_all() -> list[str]:
    return [
        arg
        for status in ("draft", "scheduled", "sent", "error", "inbox")
        for arg in ("--status", status)
    ]


# --- The command: mistakes and failures ----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--created-after", "yesterday"], "--created-after: 'yesterday' is not an ISO 8601"),
        (["--created-after", "2026-01-01"], "in which time zone? Pass --timezone"),
        (["--created-before", "2026-01-01T10:00"], "like 2026-01-01T10:00Z"),
        (
            ["--created-after", "2026-02-01T00:00Z", "--created-before", "2026-01-01T00:00Z"],
            "the creation window is empty",
        ),
        (["--lead-id", "cont_abcdefgh"], "'cont_abcdefgh' is not a Close lead id (lead_...)"),
        (["--user-id", "Ana Lopez"], "is not a Close user id (user_...)"),
        (["--status", "bogus"], "'bogus' is not one of"),
        (["--timezone", "Mars/Olympus"], "is not an IANA time zone name"),
        (["--leads", "nowhere.csv"], "nowhere.csv: no such file"),
        (["--sheet", "Leads"], "only applies to a --leads file"),
        (["--rate-limit", "fast"], "'fast' is not N/SECONDS"),
    ],
)
def test_bad_filters_are_usage_errors_before_any_request(
    args: list[str], message: str, tmp_path: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    server = make_sandbox()
    result = export_from(server, "--out", tmp_path / "out.csv", *args)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert message in result.output
    assert server.log == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name,phone\nAcme,+14155550100\n", "has no lead_id column"),
        ("id,name\nacti_0123456789,x\n", "has no lead_id column"),
        (
            "lead_id\nlead_abcdef\nAcme Inc\n",
            "row 3, column 'lead_id': 'Acme Inc' is not a Close lead id",
        ),
        ("lead_id\n\n", "holds no lead id"),
    ],
)
def test_an_unusable_leads_file_is_a_usage_error(
    content: str, message: str, tmp_path: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    server = make_sandbox()
    leads = tmp_path / "leads.csv"
    leads.write_text(content, encoding="utf-8")
    result = export_from(server, "--out", tmp_path / "out.csv", "--leads", leads)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert message in result.output
    assert server.log == []


def test_an_existing_file_is_refused_unless_overwrite(demo: Demo, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    out.write_text("mine", encoding="utf-8")
    result = export_from(demo.server, "--out", out)
    assert result.exit_code == ExitCode.USAGE
    assert "exists already" in result.output and out.read_text(encoding="utf-8") == "mine"
    assert export_from(demo.server, "--out", out, "--overwrite").exit_code == ExitCode.OK
    assert read_csv(out)


class _NotClose(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html><body>It works!</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def web_page() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotClose)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/api/v1/"
    server.shutdown()
    server.server_close()


def test_a_refused_key_unreachable_or_non_close_server_is_exit_3_without_a_file(
    demo: Demo, tmp_path: Path, unused_port: int, web_page: str
) -> None:
    out = tmp_path / "out.csv"
    cases = [
        (demo.server.base_url, "wrong_key", "Close refused the credentials (401)"),
        (f"http://127.0.0.1:{unused_port}/api/v1/", KEY, "could not reach Close at"),
        (web_page, KEY, "not Close's list of SMS"),
    ]
    for base_url, key, message in cases:
        result = invoke(
            "export", "--out", out, "--base-url", base_url, "--api-key", key,
            "--retry-wait", "0.01",
        )  # fmt: skip
        assert result.exit_code == ExitCode.ABORTED, result.output
        assert message in result.output and "Nothing was written." in result.output
        assert list(tmp_path.iterdir()) == []


def test_no_credentials_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke("export", "--out", tmp_path / "out.csv")
    assert result.exit_code == ExitCode.USAGE
    assert "No credentials" in result.output


# --- The round trip ------------------------------------------------------------------------------


def fill_in_csv(path: Path, edits: dict[int, dict[str, str]]) -> list[str]:
    """Change cells of some rows as a person would in a spreadsheet; the edited rows' ids."""
    with path.open(newline="", encoding="utf-8-sig") as stream:
        rows = list(csv.reader(stream))
    header = rows[0]
    for number, cells in edits.items():
        for name, value in cells.items():
            rows[number][header.index(name)] = value
    with path.open("w", newline="", encoding="utf-8-sig") as stream:
        csv.writer(stream).writerows(rows)
    return [rows[number][0] for number in edits]


EDITS = {
    1: {"text": EDITED_TEXT},
    4: {"status": "scheduled", "date_scheduled": SCHEDULE_AT},
    9: {"status": "outbox"},
    12: {"status": "scheduled", "date_scheduled": SCHEDULE_AT, "text": "Bonjour!"},
}
BODIES = [
    {"text": EDITED_TEXT},
    {"status": "scheduled", "date_scheduled": SCHEDULE_AT},
    {"status": "outbox"},
    {"text": "Bonjour!", "status": "scheduled", "date_scheduled": SCHEDULE_AT},
]


def puts(server: Sandbox) -> dict[str, list[dict[str, Any] | None]]:
    sent: dict[str, list[dict[str, Any] | None]] = {}
    for entry in server.log:
        if entry.method == "PUT":
            sent.setdefault(entry.activity_id or "", []).append(entry.body)
    return sent


def check_results(results: Path, edited: list[str]) -> None:
    rows = read_csv(results)
    outcomes = Counter(
        (row["outcome"], row["error_message"]) for row in rows if row["id"] not in edited
    )
    assert outcomes == {("skipped", "unchanged: nothing filled in"): len(rows) - len(edited)}
    done = {row["id"]: row for row in rows if row["id"] in edited}
    assert [done[i]["outcome"] for i in edited] == ["updated"] * len(edited)
    assert [done[i]["close_status"] for i in edited] == ["draft", "scheduled", "sent", "scheduled"]


def test_round_trip_csv(demo: Demo, tmp_path: Path) -> None:
    exported = tmp_path / "drafts.csv"
    assert export_from(demo.server, "--out", exported).exit_code == ExitCode.OK
    edited = fill_in_csv(exported, EDITS)
    result = run_against(demo.server, exported)
    assert result.exit_code == ExitCode.OK, result.output
    assert puts(demo.server) == {i: [body] for i, body in zip(edited, BODIES, strict=True)}
    check_results(tmp_path / "drafts.results.csv", edited)
    # The results file runs again as it stands: done rows kept, untouched ones still skipped.
    again = invoke(
        "rerun", tmp_path / "drafts.results.csv", "--base-url", demo.server.base_url,
        "--api-key", KEY, "--yes",
    )  # fmt: skip
    assert again.exit_code == ExitCode.OK, again.output
    assert sum(len(bodies) for bodies in puts(demo.server).values()) == len(edited)


def test_round_trip_xlsx_with_times_typed_in_excel(demo: Demo, tmp_path: Path) -> None:
    exported = tmp_path / "drafts.xlsx"
    assert export_from(demo.server, "--out", exported).exit_code == ExitCode.OK
    workbook = openpyxl.load_workbook(exported)
    sheet_ = workbook.active
    header = [cell.value for cell in sheet_[1]]
    link = sheet_.cell(2, header.index("lead_url") + 1)
    assert link.hyperlink is not None and link.hyperlink.target == link.value
    assert str(link.value).startswith("https://app.close.com/lead/lead_")

    def cell(row: int, name: str) -> Any:
        return sheet_.cell(row + 1, header.index(name) + 1)

    edited = [cell(number, "id").value for number in (1, 4, 9, 12)]
    cell(1, "text").value = EDITED_TEXT
    for number in (4, 12):  # typed into Excel, a date and time is a date cell, without offset
        cell(number, "status").value = "scheduled"
        cell(number, "date_scheduled").value = datetime(2030, 1, 7, 9, 0)
    cell(12, "text").value = "Bonjour!"
    cell(9, "status").value = "outbox"
    workbook.save(exported)
    result = run_against(demo.server, exported, "--timezone", "America/New_York")
    assert result.exit_code == ExitCode.OK, result.output
    assert puts(demo.server) == {i: [body] for i, body in zip(edited, BODIES, strict=True)}
    check_results(tmp_path / "drafts.results.csv", edited)


def test_round_trip_with_the_built_in_sandbox(tmp_path: Path) -> None:
    first, second = tmp_path / "one.csv", tmp_path / "two.csv"
    assert invoke("export", "--sandbox", "--out", first).exit_code == ExitCode.OK
    assert invoke("export", "--sandbox", "--out", second, "-q").exit_code == ExitCode.OK
    assert read_csv(first) == read_csv(second)  # the same made-up SMS each time
    edited = fill_in_csv(first, EDITS)
    result = invoke("run", first, "--sandbox")
    assert result.exit_code == ExitCode.OK, result.output
    check_results(tmp_path / "one.results.csv", edited)
    assert (
        f"of {DEMO_SMS} listed"
        in invoke("export", "--sandbox", "--out", second, "--overwrite").output
    )


def test_a_file_left_as_exported_is_an_error(demo: Demo, tmp_path: Path) -> None:
    exported = tmp_path / "drafts.csv"
    assert export_from(demo.server, "--out", exported).exit_code == ExitCode.OK
    result = run_against(demo.server, exported)
    assert result.exit_code == ExitCode.USAGE
    assert "no row fills in anything to change; every row is as exported" in result.output
    assert puts(demo.server) == {}


def test_a_misspelled_column_does_not_pass_silently(demo: Demo, tmp_path: Path) -> None:
    exported = tmp_path / "drafts.csv"
    assert export_from(demo.server, "--out", exported).exit_code == ExitCode.OK
    fill_in_csv(exported, {3: {"text": "Fixed the typo"}})
    fill_in_csv(exported, {0: {"text": "Txet"}})  # the header
    result = run_against(demo.server, exported)
    assert result.exit_code == ExitCode.USAGE
    assert "Columns batch-sms does not know, and never sends: 'Txet'. Misspelled?" in result.output
    assert puts(demo.server) == {}


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_a_text_that_looks_like_a_formula_stays_text(tmp_path: Path, suffix: str) -> None:
    sandbox = model()
    formula = '=HYPERLINK("http://evil.example/","Click")'
    sandbox.add_activity(
        "acti_0000000001", status="inbox", text=formula, remote_phone="+14155550100"
    )
    out = tmp_path / f"out{suffix}"
    export_in_process(sandbox, out, ExportFilters(statuses=("inbox",)))
    if suffix == ".csv":
        (row,) = read_csv(out)
        assert row["current_text"] == "'" + formula
        assert row["current_remote_phone"] == "+14155550100"
    else:
        cell = openpyxl.load_workbook(out).active.cell(2, sheet.HEADER.index("current_text") + 1)
        assert (cell.value, cell.data_type) == (formula, "s")


# --- How an exported file is read ----------------------------------------------------------------


def test_the_context_columns_are_the_ones_run_knows() -> None:
    context = [name for name in sheet.HEADER if name not in (columns.ID, *sheet.EDITABLE)]
    assert sorted(context) == sorted(columns.CONTEXT)
    assert set(sheet.EDITABLE) <= set(columns.FIELDS)
    assert not set(columns.CONTEXT) & set(columns.FIELDS)


def test_an_exported_row_left_alone_is_unchanged_a_hand_made_one_invalid(tmp_path: Path) -> None:
    exported = tmp_path / "exported.csv"
    exported.write_text(
        "id,current_status,status,text,Notes\n"
        "acti_0123456789,draft,,,call back\n"
        "acti_0123456780,draft,outbox,,\n"
        "not-an-id,draft,,,\n",
        encoding="utf-8",
    )
    table = read_table(exported)
    assert table.is_export_file and table.ignored == ("Notes",)
    validator = Validator(NOW)
    untouched, filled, bad_id = (validator.validate(row) for row in table.rows())
    assert isinstance(untouched, Unchanged)
    assert not isinstance(filled, (Unchanged, Invalid))
    assert isinstance(bad_id, Invalid)
    hand_made = tmp_path / "hand.csv"
    hand_made.write_text("id,text,Notes\nacti_0123456789,,call back\n", encoding="utf-8")
    (row,) = read_table(hand_made).rows()
    checked = Validator(NOW).validate(row)
    assert isinstance(checked, Invalid) and "the row changes nothing" in checked.describe()


def test_the_export_benchmark_harness(tmp_path: Path) -> None:
    """The benchmark's measured export process, so that it does not rot (the sandbox here is
    in-process; the benchmark starts its own)."""
    from benchmarks.harness import run_export

    with Sandbox(SandboxOptions(rate_limit=40)) as server:
        made = seed_demo(server.model, 300)
        usage, exported = run_export(tmp_path / "export.csv", server.base_url)
    assert exported == len(made)
    assert usage.exit_code == 0 and usage.peak_rss_mb > 0
