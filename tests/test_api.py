"""The Python API: a whole campaign without a terminal, from a script or a running loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import batch_sms
from batch_sms import Outcome, RunOptions
from batch_sms.sandbox import Sandbox
from tests.conftest import WriteCsv, activity_id, read_csv


def campaign_rows(count: int) -> list[dict[str, str]]:
    return [{"id": activity_id(n), "status": "outbox", "text": f"Hi {n}"} for n in range(count)] + [
        {"id": "not-an-id", "text": "x"}
    ]


def test_a_campaign_runs_through_the_python_api_alone(
    sandbox: Sandbox, write_csv: WriteCsv
) -> None:
    rows = campaign_rows(5)
    sandbox.seed_drafts(row["id"] for row in rows[:5])
    path = write_csv(rows)
    seen: list[batch_sms.RowResult] = []
    summary = batch_sms.run_file(
        path,
        api_key=sandbox.config.api_key,
        base_url=sandbox.base_url,
        approve=lambda plan: plan.sends == 5,
        on_result=seen.append,
    )
    assert summary.counts == {Outcome.UPDATED: 5, Outcome.INVALID: 1}
    assert (summary.requested, summary.unfinished, summary.results_written) == (5, 1, True)
    assert [row["outcome"] for row in read_csv(summary.results_path)] == ["updated"] * 5 + [
        "invalid"
    ]
    assert {result.evidence for result in seen} == {batch_sms.Evidence.ANSWER}
    assert [sandbox.sends(row["id"]) for row in rows[:5]] == [1] * 5


def test_a_plan_that_is_not_approved_sends_nothing(sandbox: Sandbox, write_csv: WriteCsv) -> None:
    path = write_csv(campaign_rows(3))
    with pytest.raises(batch_sms.RunRefused, match="not approved: nothing was sent"):
        batch_sms.run_file(path, api_key="k", base_url=sandbox.base_url, approve=lambda plan: False)
    assert sandbox.log == []


def test_the_sync_face_works_inside_a_running_event_loop(write_csv: WriteCsv) -> None:
    """As in a notebook cell, where asyncio.run would refuse to start."""
    path = write_csv(campaign_rows(3))

    async def cell() -> batch_sms.RunSummary:
        return batch_sms.run_file(path, sandbox=True)

    summary = asyncio.run(cell())
    assert summary.counts[Outcome.UPDATED] == 3


def test_the_async_core_can_be_awaited(write_csv: WriteCsv, tmp_path: Path) -> None:
    path = write_csv(campaign_rows(2))
    out = tmp_path / "out.xlsx"
    summary = asyncio.run(batch_sms.arun_file(path, sandbox=True, options=RunOptions(out_path=out)))
    assert (summary.results_path, summary.counts[Outcome.UPDATED]) == (out, 2)
    assert out.exists()


def test_a_dry_run_through_the_api_writes_the_plan(write_csv: WriteCsv) -> None:
    path = write_csv(campaign_rows(2))
    summary = batch_sms.run_file(path, options=RunOptions(dry_run=True))
    assert summary.dry_run and summary.counts == {Outcome.PLANNED: 2, Outcome.INVALID: 1}
    assert summary.plan.sends == 2


def test_api_errors_share_one_base_class(tmp_path: Path) -> None:
    with pytest.raises(batch_sms.BatchSmsError, match="no such file"):
        batch_sms.run_file(tmp_path / "missing.csv", sandbox=True)


def test_the_package_says_what_it_exports() -> None:
    assert set(batch_sms.__all__) <= set(dir(batch_sms))
    assert {"run_file", "arun_file", "BatchSmsError", "RunSummary"} <= set(batch_sms.__all__)
