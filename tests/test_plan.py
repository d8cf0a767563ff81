from __future__ import annotations

from batch_sms.files.rows import read_table
from batch_sms.job.ledger import Recovered
from batch_sms.job.messages import MAY_HAVE_BEEN_SENT
from batch_sms.job.plan import Planner, make_plan
from batch_sms.models import Evidence, Kind, Outcome, RowResult, Update
from tests.conftest import NOW, WriteCsv, activity_id, future

# How results files said it before the `evidence` column: such files keep working.
UNKNOWN = f"the run was stopped while this row's request was in flight; {MAY_HAVE_BEEN_SENT}"


def test_a_plan_counts_what_a_run_would_do(write_csv: WriteCsv) -> None:
    later = future(days=3)
    rows = [
        {"id": activity_id(0), "status": "outbox"},
        {"id": activity_id(1), "status": "scheduled", "date_scheduled": later},
        {"id": activity_id(2), "text": "fixed"},
        {"id": "nope", "text": "x"},
        {"id": activity_id(4), "status": "outbox", "outcome": "updated"},
        {"id": activity_id(5), "status": "outbox", "outcome": "failed", "error_message": UNKNOWN},
    ]
    plan = make_plan(Planner(read_table(write_csv(rows)), NOW))
    assert (plan.total_rows, plan.count(Kind.SEND_NOW), plan.count(Kind.SCHEDULE)) == (6, 2, 1)
    assert (plan.count(Kind.EDIT), plan.invalid, plan.carried_over, plan.uncertain) == (1, 1, 1, 1)
    assert plan.sends == 3
    assert plan.first_invalid[0][0] == 5, "row numbers as the spreadsheet shows them"


def test_the_evidence_column_decides_which_rows_are_read_back_not_the_message(
    write_csv: WriteCsv,
) -> None:
    rows = [
        {"id": activity_id(0), "status": "outbox", "outcome": "failed", "evidence": "unknown"},
        {"id": activity_id(1), "status": "outbox", "outcome": "failed", "evidence": "read_back"},
        # Words alone decide nothing in a file that has the column.
        {"id": activity_id(2), "status": "outbox", "outcome": "failed", "error_message": UNKNOWN},
        {"id": activity_id(3), "status": "outbox", "outcome": "failed", "evidence": "bogus"},
    ]
    planner = Planner(read_table(write_csv(rows)), NOW)
    uncertain = [isinstance(item, Update) and item.uncertain for _, item in planner.classified()]
    assert uncertain == [True, False, False, True], "an unknown evidence value trusts nothing"


def test_rows_the_ledger_settled_are_not_sent_and_those_in_flight_are_read_back(
    write_csv: WriteCsv,
) -> None:
    table = read_table(write_csv([{"id": activity_id(n), "status": "outbox"} for n in range(3)]))
    done = RowResult(0, Outcome.UPDATED, http_status=200, attempts=1)
    journaled = '{"outcome":"updated","http_status":200,"attempts":1,"index":0}'
    recovered = Recovered(records={0: journaled}, started={0, 1})
    planner = Planner(table, NOW, recovered=recovered)
    first, second, third = (item for _, item in planner.classified())
    assert first == done
    assert isinstance(second, Update) and second.uncertain
    assert isinstance(third, Update) and not third.uncertain


def test_a_row_a_stopped_run_did_not_reach_keeps_what_earlier_runs_knew(
    write_csv: WriteCsv,
) -> None:
    rows = [
        {"id": activity_id(0), "status": "outbox", "outcome": "updated"},
        {"id": activity_id(1), "status": "outbox", "outcome": "failed", "error_message": UNKNOWN},
        {"id": activity_id(2), "status": "bogus", "outcome": "", "error_message": ""},
        {"id": "", "status": "", "outcome": "", "error_message": ""},
    ]
    planner = Planner(read_table(write_csv(rows)), NOW)
    results = [planner.unstarted(row, "the run was interrupted") for row in planner.table.rows()]
    assert [r.outcome for r in results] == [
        Outcome.UPDATED,
        Outcome.NOT_ATTEMPTED,
        Outcome.NOT_ATTEMPTED,
        Outcome.SKIPPED,
    ]
    assert results[1].error_message == (
        f"not attempted: the run was interrupted; an earlier run reported that {MAY_HAVE_BEEN_SENT}"
    )
    assert results[1].evidence is Evidence.UNKNOWN
    assert results[2].error_message == "not attempted: the run was interrupted"
    assert results[2].evidence is Evidence.NONE
