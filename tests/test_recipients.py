"""One person, one message: a second SMS to the same number in a campaign is held back.

End-to-end tests run the real command against the sandbox seeded with shared numbers, and
count what was sent from the sandbox's own records."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from batch_sms.cli import ExitCode
from batch_sms.files.rows import read_table
from batch_sms.job.ledger import Ledger, Recovered, RunInfo, ledger_path
from batch_sms.job.plan import Planner, make_plan
from batch_sms.job.recipients import RecipientBook, close_recipient, display
from batch_sms.job.stream import write_dry_run
from batch_sms.models import Kind, Outcome, Update
from batch_sms.sandbox.server import Sandbox
from tests.conftest import NOW, WriteCsv, activity_id, future, read_csv
from tests.test_cli import against, invoke

N1, N2, N3 = "+14155550101", "+14155550103", "+442071838760"
SHEET = "+12125550199"


def results_of(path: Path, name: str = "input.results.csv") -> list[dict[str, str]]:
    return read_csv(path.with_name(name))


def sends_per_number(sandbox: Sandbox, count: int) -> Counter[str]:
    """SMS sent, by the number each went to: a PUT that sends also sets the number the row
    gives, so the activity's number now is the one it was sent to."""
    sent: Counter[str] = Counter()
    for n in range(count):
        activity = sandbox.activity(activity_id(n))
        assert activity is not None
        sent[activity["remote_phone"]] += sandbox.sends(activity_id(n))
    return sent


def seed(sandbox: Sandbox, count: int, shared: dict[int, str]) -> None:
    """`count` drafts, each to a number of its own but those given in `shared`."""
    for n in range(count):
        if n in shared:
            sandbox.add_activity(activity_id(n), remote_phone=shared[n])
        else:
            sandbox.add_activity(activity_id(n))


def thirty_sends(sandbox: Sandbox, write_csv: WriteCsv) -> Path:
    """The issue's campaign: 30 'send now' rows, three pairs sharing a number in Close's data
    and one pair because the sheet sets it (written two ways)."""
    seed(sandbox, 30, {1: N1, 7: N1, 3: N2, 20: N2, 10: N3, 11: N3})
    rows = [
        {"id": activity_id(n), "text": f"Hi {n}", "status": "outbox", "remote_phone": ""}
        for n in range(30)
    ]
    rows[25]["remote_phone"] = "+1 212 555 0199"
    rows[28]["remote_phone"] = SHEET
    return write_csv(rows)


def test_a_second_sms_to_the_same_number_is_held_back_in_input_order(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    path = thirty_sends(sandbox, write_csv)
    result = against(sandbox, path, "--concurrency", "8")
    assert result.exit_code == ExitCode.OK, result.output
    rows = results_of(path)
    held = {n: row["error_message"] for n, row in enumerate(rows) if row["outcome"] == "skipped"}
    # Row numbers as the spreadsheet shows them: activity n is on row n + 2.
    assert held == {
        7: "same recipient as row 3 (+1 415 555 0101): not sent",
        11: "same recipient as row 12 (+44 20 7183 8760): not sent",
        20: "same recipient as row 5 (+1 415 555 0103): not sent",
        28: "same recipient as row 27 (+1 212 555 0199): not sent",
    }
    assert [row["outcome"] for n, row in enumerate(rows) if n not in held] == ["updated"] * 26
    assert rows[25]["recipient_e164"] == rows[28]["recipient_e164"] == SHEET
    assert rows[1]["recipient_e164"] == N1 and rows[0]["recipient_e164"].startswith("+1")
    sent = sends_per_number(sandbox, 30)
    assert max(sent.values()) == 1, "every number got at most one SMS"
    assert sum(sent.values()) == 26
    assert [sandbox.sends(activity_id(n)) for n in held] == [0] * 4


def test_allow_duplicate_recipients_sends_them_all(sandbox: Sandbox, write_csv: WriteCsv) -> None:
    path = thirty_sends(sandbox, write_csv)
    result = against(sandbox, path, "--allow-duplicate-recipients")
    assert result.exit_code == ExitCode.OK, result.output
    assert {row["outcome"] for row in results_of(path)} == {"updated"}
    sent = sends_per_number(sandbox, 30)
    assert sorted(number for number, count in sent.items() if count == 2) == sorted(
        [N1, N2, N3, SHEET]
    )
    assert sum(sent.values()) == 30


def test_the_dry_run_holds_back_the_repeats_the_sheet_shows_and_leaves_close_to_the_run(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    path = thirty_sends(sandbox, write_csv)
    result = invoke("run", path, "--dry-run")
    assert result.exit_code == ExitCode.OK, result.output
    assert result.stdout.splitlines()[:7] == [
        "Dry run: nothing was sent. If run for real:",
        "  29 SMS will be sent now",
        "  0 SMS will be scheduled",
        "  0 SMS will only be edited (nothing sent)",
        "  1 SMS held back: same recipient as an earlier row (seen in the sheet)",
        "  28 SMS go to numbers only Close knows (no remote_phone): repeats among them are held "
        "back when the run reads Close",
        "  30 SMS segments in all",
    ]
    rows = results_of(path)
    assert rows[28]["outcome"] == "skipped"
    assert rows[28]["error_message"] == "same recipient as row 27 (+1 212 555 0199): not sent"
    assert [row["outcome"] for n, row in enumerate(rows) if n != 28] == ["planned"] * 29
    assert sandbox.log == []


def test_different_texts_to_one_number_are_one_too_many_and_edits_are_never_held_back(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    seed(sandbox, 4, {0: N1, 1: N1, 2: N1, 3: N1})
    later = future(days=2)
    rows = [
        {"id": activity_id(0), "text": "Your renewal is ready.", "status": "outbox"},
        {"id": activity_id(1), "text": "Thanks for your order!", "status": "scheduled"},
        {"id": activity_id(2), "text": "Typo fixed in a draft."},
        {"id": activity_id(3), "text": "Also to be fixed.", "status": "draft"},
    ]
    rows[1]["date_scheduled"] = later
    path = write_csv(rows)
    result = against(sandbox, path)
    assert result.exit_code == ExitCode.OK, result.output
    results = results_of(path)
    assert [row["outcome"] for row in results] == ["updated", "skipped", "updated", "updated"]
    assert results[1]["error_message"] == "same recipient as row 2 (+1 415 555 0101): not sent"
    assert [row["recipient_e164"] for row in results] == [N1, N1, "", ""], "edits have none"
    assert sends_per_number(sandbox, 4) == Counter({N1: 1})


def test_a_rerun_holds_back_again_and_knows_the_numbers_the_earlier_run_sent_to(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    seed(sandbox, 4, {0: N1, 1: N1})
    rows = [
        # Close refuses this sender number (400): the row claims N1, and nothing is sent.
        {"id": activity_id(0), "status": "outbox", "local_phone": "+14155559999"},
        {"id": activity_id(1), "status": "outbox", "local_phone": ""},
        {"id": activity_id(2), "status": "outbox", "remote_phone": SHEET, "local_phone": ""},
        {"id": activity_id(3), "status": "outbx", "remote_phone": SHEET, "local_phone": ""},
    ]
    path = write_csv(rows)
    first = against(sandbox, path)
    assert first.exit_code == ExitCode.ROWS_FAILED, first.output
    results = results_of(path)
    assert [row["outcome"] for row in results] == ["failed", "skipped", "updated", "invalid"]
    assert results[1]["error_message"] == "same recipient as row 2 (+1 415 555 0101): not sent"
    assert [row["recipient_e164"] for row in results] == [N1, N1, SHEET, ""]

    # The user fixes rows 2 and 5 in the results file and reruns it.
    results[0]["local_phone"] = ""
    results[3]["status"] = "outbox"
    rerun_input = write_csv(results, name="input.results.csv")
    dry = invoke("rerun", rerun_input, "--dry-run", "--out", path.with_name("dry.csv"))
    assert (
        "  1 SMS held back: same recipient as an earlier row (seen in the sheet, or an earlier "
        "run's results)" in dry.stdout.splitlines()
    )
    second = against(sandbox, rerun_input)
    assert second.exit_code == ExitCode.OK, second.output
    rerun = results_of(path, "input.results-2.csv")
    assert [row["outcome"] for row in rerun] == ["updated", "skipped", "updated", "skipped"]
    assert rerun[1]["error_message"] == "same recipient as row 2 (+1 415 555 0101): not sent"
    assert rerun[3]["error_message"] == "same recipient as row 4 (+1 212 555 0199): not sent"
    assert rerun[2]["recipient_e164"] == SHEET, "carried over with the row"
    assert sends_per_number(sandbox, 4) == Counter({N1: 1, SHEET: 1})


def test_a_rerun_holds_back_an_earlier_row_to_a_number_a_later_row_was_sent_to(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    seed(sandbox, 3, {0: N1, 2: N1})
    rows = [
        {"id": activity_id(0), "status": "outbox", "local_phone": "+14155559999"},
        {"id": activity_id(1), "status": "outbox", "local_phone": ""},
        {"id": activity_id(2), "status": "outbox", "local_phone": ""},
    ]
    path = write_csv(rows)
    first = against(sandbox, path, "--allow-duplicate-recipients")
    assert [row["outcome"] for row in results_of(path)] == ["failed", "updated", "updated"]
    assert first.exit_code == ExitCode.ROWS_FAILED

    results = results_of(path)
    results[0]["local_phone"] = ""
    rerun_input = write_csv(results, name="input.results.csv")
    second = against(sandbox, rerun_input)
    assert second.exit_code == ExitCode.OK, second.output
    rerun = results_of(path, "input.results-2.csv")
    assert [row["outcome"] for row in rerun] == ["skipped", "updated", "updated"]
    assert rerun[0]["error_message"] == "same recipient as row 4 (+1 415 555 0101): not sent"
    assert sandbox.sends(activity_id(0)) == 0


def test_a_row_that_may_have_been_sent_claims_its_number_before_it_is_read_back(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    sandbox.add_activity(activity_id(0), remote_phone=N1)
    sandbox.add_activity(
        activity_id(1), remote_phone=N1, status="sent", date_sent="2026-11-29T11:00:00+00:00"
    )
    rows = [
        {"id": activity_id(0), "status": "outbox", "outcome": "failed", "evidence": ""},
        {
            "id": activity_id(1),
            "status": "outbox",
            "outcome": "failed",
            "evidence": "unknown",
            "recipient_e164": N1,
        },
    ]
    results = write_csv(rows, name="input.results.csv")
    rerun = against(sandbox, results)
    assert rerun.exit_code == ExitCode.OK, rerun.output
    out = results_of(results, "input.results-2.csv")
    assert [row["outcome"] for row in out] == ["skipped", "updated"]
    assert out[0]["error_message"] == "same recipient as row 3 (+1 415 555 0101): not sent"
    assert out[1]["evidence"] == "before_run"
    assert [sandbox.sends(activity_id(n)) for n in (0, 1)] == [0, 0]


def test_a_resumed_run_remembers_the_numbers_sent_before_it_stopped(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    # 150 rows: the second batch of 100 is decided only as the first is sent, so rows 140
    # and 145 are still undecided when the key stops working.
    count = 150
    seed(sandbox, count, {5: N1, 145: N1})
    rows = [{"id": activity_id(n), "status": "outbox", "remote_phone": ""} for n in range(count)]
    rows[0]["remote_phone"] = rows[140]["remote_phone"] = SHEET
    path = write_csv(rows)
    sandbox.revoke_credentials_after(12)
    stopped = against(sandbox, path, "--concurrency", "1")
    assert stopped.exit_code == ExitCode.ABORTED, stopped.output
    first = results_of(path)
    assert first[0]["outcome"] == first[5]["outcome"] == "updated"
    assert first[140]["outcome"] == first[145]["outcome"] == "not_attempted"

    sandbox.revoke_credentials_after(10_000)
    resumed = against(sandbox, path, "--resume")
    assert resumed.exit_code == ExitCode.OK, resumed.output
    rows_now = results_of(path)
    assert rows_now[140]["error_message"] == "same recipient as row 2 (+1 212 555 0199): not sent"
    assert rows_now[145]["error_message"] == "same recipient as row 7 (+1 415 555 0101): not sent"
    assert Counter(row["outcome"] for row in rows_now) == {"updated": 148, "skipped": 2}
    sent = sends_per_number(sandbox, count)
    assert max(sent.values()) == 1 and sum(sent.values()) == 148


@pytest.mark.parametrize(
    ("options", "outcomes"),
    [
        # The rows without remote_phone are read to know their number, and Close shows row
        # 4's SMS sent already: nothing to do.
        ([], ["updated", "skipped", "updated", "updated", "skipped"]),
        # Nothing is read: row 4's PUT is refused (only drafts can change); row 3 goes out.
        (["--allow-duplicate-recipients"], ["updated", "updated", "failed", "updated", "updated"]),
    ],
)
def test_without_preflight_rows_whose_number_only_close_knows_are_still_read(
    sandbox: Sandbox, write_csv: WriteCsv, options: list[str], outcomes: list[str]
) -> None:
    seed(sandbox, 5, {0: N1, 1: N1})
    sandbox.add_activity(activity_id(2), status="sent", date_sent="2026-11-29T11:00:00+00:00")
    rows = [{"id": activity_id(n), "status": "outbox", "remote_phone": ""} for n in range(5)]
    rows[3]["remote_phone"] = rows[4]["remote_phone"] = SHEET
    path = write_csv(rows)
    result = against(sandbox, path, "--no-preflight", *options)
    assert [row["outcome"] for row in results_of(path)] == outcomes, result.output
    put = {e.activity_id for e in sandbox.log if e.method == "PUT"}
    assert (activity_id(2) in put) == bool(options), "row 4 is PUT only when it is not read"
    reads = [e for e in sandbox.log if e.method == "GET"]
    # One read checks the key before the first PUT; one more reads the rows Close numbers.
    assert len(reads) == (1 if options else 2)


def test_max_sends_counts_the_sms_left_once_repeats_are_held_back(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    seed(sandbox, 3, {})
    rows = [{"id": activity_id(n), "status": "outbox", "remote_phone": SHEET} for n in range(2)]
    rows.append({"id": activity_id(2), "status": "outbox"})
    path = write_csv(rows)
    result = against(sandbox, path, "--max-sends", "2")
    assert result.exit_code == ExitCode.OK, result.output
    refused = against(sandbox, path, "--max-sends", "2", "--allow-duplicate-recipients", "--out",
                      path.with_name("all.csv"))  # fmt: skip
    assert refused.exit_code == ExitCode.USAGE
    assert "This run would send 3 SMS, more than --max-sends 2" in refused.output


# --- the parts ----------------------------------------------------------------------------------


def test_sandbox_drafts_each_have_a_number_of_their_own(make_sandbox) -> None:  # type: ignore[no-untyped-def]
    """Else every campaign tried in the sandbox would text one person, and be held back."""
    sandbox = make_sandbox(any_id=True)
    numbers = [sandbox.activity(activity_id(n))["remote_phone"] for n in range(200)]
    assert len(set(numbers)) == 200
    assert sandbox.activity(activity_id(3))["remote_phone"] == numbers[3], "the same each time"
    assert all(close_recipient({"remote_phone": number}) == number for number in numbers)


def test_the_first_claim_of_a_number_stays_and_a_row_meets_its_own_claim() -> None:
    book = RecipientBook({N1: 7})
    assert book.claim(N1, 7) is None, "a resumed row meets its own claim"
    assert book.claim(N1, 3) == 7, "the earlier claim stays, even for a row above it"
    assert book.claim(N2, 3) is None
    assert book.claim(N2, 9) == 3
    assert book.claims() == {N1: 7, N2: 3}


@pytest.mark.parametrize(
    ("shown", "number"),
    [
        ("+14155550100", "+14155550100"),
        (" +1 415-555-0100 ", "+14155550100"),
        ("+1 (415) 555 0100", "+14155550100"),
        ("unknown number", "unknown number"),  # compared as Close wrote it
        ("", None),
        (None, None),
    ],
)
def test_close_numbers_are_compared_in_e164(shown: str | None, number: str | None) -> None:
    assert close_recipient({"remote_phone": shown}) == number


def test_numbers_are_shown_as_people_read_them() -> None:
    assert display("+14155550100") == "+1 415 555 0100"
    assert display("+442071838750") == "+44 20 7183 8750"
    assert display("not a number") == "not a number"


def test_the_plan_counts_repeats_by_kind_and_those_a_later_row_of_an_earlier_run_took(
    write_csv: WriteCsv,
) -> None:
    later = future(days=3)
    rows = [
        # Not updated by the earlier run: held back, as a later row took the number then.
        {"id": activity_id(0), "status": "outbox", "remote_phone": N2, "outcome": "failed"},
        {"id": activity_id(1), "status": "outbox", "remote_phone": N1, "outcome": ""},
        {
            "id": activity_id(2),
            "status": "scheduled",
            "date_scheduled": later,
            "remote_phone": N1,
            "outcome": "",
        },  # fmt: skip
        {"id": activity_id(3), "status": "outbox", "outcome": ""},
        {"id": activity_id(4), "text": "an edit", "remote_phone": N1, "outcome": ""},
        {"id": activity_id(5), "status": "outbox", "outcome": "updated", "recipient_e164": N2},
    ]
    plan = make_plan(Planner(read_table(write_csv(rows, name="input.results.csv")), NOW))
    assert plan.repeated == Counter({Kind.SEND_NOW: 1, Kind.SCHEDULE: 1})
    assert (plan.count(Kind.SEND_NOW), plan.count(Kind.SCHEDULE), plan.sends) == (2, 0, 2)
    assert plan.from_close == 1
    assert plan.earlier_claims.claims() == {N2: 7}
    assert plan.updates == 5, "the progress bar counts every row handed to the sender"

    allowed = make_plan(Planner(read_table(write_csv(rows, name="again.csv")), NOW), False)
    assert (allowed.count(Kind.SEND_NOW), allowed.sends, allowed.held_back) == (3, 4, 0)


@pytest.mark.parametrize("seed_value", range(40))
def test_the_plan_counts_exactly_the_rows_a_dry_run_holds_back(
    write_csv: WriteCsv, tmp_path: Path, seed_value: int
) -> None:
    """Whatever the mix of repeats, earlier runs' claims and kinds, the count before sending
    and the decisions row by row agree."""
    draw = random.Random(seed_value)
    numbers, later = [N1, N2, N3, SHEET], future(days=3)
    rows = []
    for n in range(12):
        number = draw.choice([*numbers, ""])
        row = {"id": activity_id(n), "remote_phone": number, "status": "outbox",
               "date_scheduled": "", "text": "", "outcome": "", "evidence": "",
               "recipient_e164": ""}  # fmt: skip
        kind = draw.choice(["outbox", "scheduled", "edit"])
        if kind == "scheduled":
            row |= {"status": "scheduled", "date_scheduled": later}
        elif kind == "edit":
            row |= {"status": "", "text": "an edit"}
        earlier = draw.choice(["", "updated", "unknown", "failed"])
        claimed = draw.choice(numbers)
        if earlier == "updated":
            row |= {"outcome": "updated", "recipient_e164": claimed if kind != "edit" else ""}
        elif earlier == "unknown":
            row |= {"outcome": "failed", "evidence": "unknown", "recipient_e164": claimed}
        elif earlier == "failed":
            row |= {"outcome": "failed"}
        rows.append(row)
    table = read_table(write_csv(rows, name="input.results.csv"))
    plan = make_plan(Planner(table, NOW))
    out = tmp_path / "dry.csv"
    book = RecipientBook(plan.earlier_claims.claims())
    counts, _ = write_dry_run(Planner(table, NOW), out, book)
    assert plan.repeated.total() == counts[Outcome.SKIPPED]
    skipped = Counter(
        Kind.SCHEDULE if row["status"] == "scheduled" else Kind.SEND_NOW
        for row in read_csv(out)
        if row["outcome"] == "skipped"
    )
    assert plan.repeated == skipped


def test_a_resumed_plan_starts_from_the_claims_in_the_ledger(write_csv: WriteCsv) -> None:
    rows = [{"id": activity_id(n), "status": "outbox", "remote_phone": N1} for n in range(2)]
    recovered = Recovered(claims={1: N1}, started={1})  # the second row was in flight
    planner = Planner(read_table(write_csv(rows)), NOW, recovered=recovered)
    plan = make_plan(planner)
    assert plan.earlier_claims.claims() == {N1: 3}
    assert plan.repeated == Counter({Kind.SEND_NOW: 1}), "row 3 meets its own claim"


def test_a_row_that_may_have_been_sent_keeps_its_number_from_run_to_run(
    write_csv: WriteCsv,
) -> None:
    rows = [
        {
            "id": activity_id(0),
            "status": "outbox",
            "outcome": "failed",
            "evidence": "unknown",
            "recipient_e164": N1,
        },  # fmt: skip
        {
            "id": activity_id(1),
            "status": "outbox",
            "outcome": "",
            "evidence": "",
            "recipient_e164": "",
        },  # fmt: skip
    ]
    table = read_table(write_csv(rows, name="input.results.csv"))
    # A rerun that stops before the row still writes the number down for the next one.
    planner = Planner(table, NOW)
    assert [planner.unstarted(row, "stopped").recipient_e164 for row in table.rows()] == [N1, ""]
    # A resumed run finds the number of a row that was in flight in its ledger.
    recovered = Recovered(started={1}, claims={1: N2})
    first, second = (item for _, item in Planner(table, NOW, recovered=recovered).classified())
    assert isinstance(first, Update) and (first.uncertain, first.recipient) == (True, N1)
    assert isinstance(second, Update) and (second.uncertain, second.recipient) == (True, N2)


def test_the_ledger_keeps_each_rows_claim_for_a_resume(tmp_path: Path) -> None:
    path = ledger_path(tmp_path / "input.results.csv")
    ledger = Ledger.create(path, RunInfo("run", "input.csv", "0" * 64, {}))
    ledger.claimed(0, N1)
    ledger.claimed(0, N1)  # a resumed row claims its number again
    ledger.claimed(7, SHEET)
    assert ledger.recovered().claims == {0: N1, 7: SHEET}
    ledger.close()
