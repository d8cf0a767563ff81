"""The run ledger: what resume, rerun and undo read back after a run, a crash or a kill."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from batch_sms.errors import LedgerError
from batch_sms.job.ledger import Ledger, RunInfo, RunState, fingerprint, ledger_path
from batch_sms.models import Evidence, Outcome, RowResult


@pytest.fixture
def campaign(tmp_path: Path) -> Path:
    path = tmp_path / "campaign.csv"
    path.write_text("id,status\nacti_1,outbox\n", encoding="utf-8")
    return path


def new_ledger(path: Path, campaign: Path, **options: str) -> Ledger:
    info = RunInfo("run", str(campaign), fingerprint(campaign), options)
    return Ledger.create(path, info)


def test_the_ledger_lives_beside_the_results(tmp_path: Path) -> None:
    assert ledger_path(tmp_path / "x.results.csv") == tmp_path / "x.results.csv.ledger"


def test_a_ledger_gives_back_what_finished_and_what_was_in_flight(
    campaign: Path, tmp_path: Path
) -> None:
    path = tmp_path / "run.ledger"
    ledger = new_ledger(path, campaign, timezone="Europe/Berlin")
    sent = RowResult(
        0,
        Outcome.UPDATED,
        http_status=200,
        attempts=1,
        close_status="outbox",
        evidence=Evidence.ANSWER,
    )
    ledger.started(0)
    ledger.finished(sent)
    ledger.started(3)
    ledger.finished(RowResult(5, Outcome.FAILED, error_message="Close answered 404"))
    ledger.close()  # as a killed process would leave it: state still `running`

    resumed, recovered = Ledger.resume(path, campaign, fingerprint(campaign))
    assert recovered.result(0) == sent
    assert recovered.result(5) == RowResult(5, Outcome.FAILED, "Close answered 404")
    assert recovered.result(3) is None
    assert recovered.in_flight() == {3}
    assert resumed.info.options == {"timezone": "Europe/Berlin"}
    assert resumed.info.state is RunState.RUNNING
    resumed.close()


def test_every_write_is_on_disk_when_it_returns(campaign: Path, tmp_path: Path) -> None:
    """What a `kill -9` leaves: another connection sees every row written so far."""
    path = tmp_path / "run.ledger"
    ledger = new_ledger(path, campaign)
    ledger.started(7)
    other = sqlite3.connect(path)
    assert other.execute("SELECT row FROM started").fetchall() == [(7,)]
    other.close()
    ledger.close()


def test_a_second_run_never_starts_over_an_unfinished_ledger(
    campaign: Path, tmp_path: Path
) -> None:
    path = tmp_path / "run.ledger"
    new_ledger(path, campaign).close()
    with pytest.raises(LedgerError, match="holds an unfinished run .* --resume"):
        new_ledger(path, campaign)


def test_a_finished_run_is_replaced_by_the_next_and_cannot_be_resumed(
    campaign: Path, tmp_path: Path
) -> None:
    path = tmp_path / "run.ledger"
    ledger = new_ledger(path, campaign)
    ledger.finished(RowResult(0, Outcome.UPDATED))
    ledger.end(RunState.FINISHED, requests=1)
    ledger.close()
    with pytest.raises(LedgerError, match="finished: there is nothing to resume"):
        Ledger.resume(path, campaign, fingerprint(campaign))
    again = new_ledger(path, campaign)
    assert list(again.results()) == []
    again.close()


def test_resuming_with_another_input_is_refused(campaign: Path, tmp_path: Path) -> None:
    path = tmp_path / "run.ledger"
    new_ledger(path, campaign).close()
    edited = tmp_path / "edited.csv"
    edited.write_text("id,status\nacti_2,outbox\n", encoding="utf-8")
    with pytest.raises(LedgerError, match="records a run of .*campaign.csv, and .*edited.csv is"):
        Ledger.resume(path, edited, fingerprint(edited))


def test_resuming_needs_a_ledger(campaign: Path, tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="there is no run to resume"):
        Ledger.resume(tmp_path / "none.ledger", campaign, fingerprint(campaign))


def test_a_damaged_ledger_is_a_clear_error(campaign: Path, tmp_path: Path) -> None:
    path = tmp_path / "run.ledger"
    path.write_bytes(b"this is not a database, and it is long enough to look like one" * 100)
    with pytest.raises(LedgerError, match="damaged or not a batch-sms ledger"):
        Ledger.read(path)


def test_the_first_state_before_the_run_is_kept_and_carried_to_a_rerun(
    campaign: Path, tmp_path: Path
) -> None:
    first = new_ledger(tmp_path / "first.ledger", campaign)
    first.before(0, "acti_1", {"status": "draft", "text": "old"})
    first.before(0, "acti_1", {"status": "outbox", "text": "new"})  # a resumed run's own change
    rerun = new_ledger(tmp_path / "rerun.ledger", campaign)
    rerun.carry_before(first)
    assert list(rerun.before_states()) == [(0, "acti_1", {"status": "draft", "text": "old"})]
    first.close()
    rerun.close()
