from __future__ import annotations

from pathlib import Path

import pytest

from batch_sms.job.journal import Journal, JournalError, fingerprint, journal_path, recover
from batch_sms.output.results import Outcome, RowResult


@pytest.fixture
def campaign(tmp_path: Path) -> Path:
    path = tmp_path / "campaign.csv"
    path.write_text("id,status\nacti_1,outbox\n", encoding="utf-8")
    return path


def test_the_journal_lives_beside_the_results(tmp_path: Path) -> None:
    assert journal_path(tmp_path / "x.results.csv") == tmp_path / "x.results.csv.journal"


def test_a_journal_gives_back_what_finished_and_what_was_in_flight(
    campaign: Path, tmp_path: Path
) -> None:
    path = tmp_path / "run.journal"
    journal = Journal.create(path, campaign, fingerprint(campaign))
    sent = RowResult(0, Outcome.UPDATED, http_status=200, attempts=1, close_status="outbox")
    journal.started(0)
    journal.finished(sent)
    journal.started(3)
    journal.finished(RowResult(5, Outcome.FAILED, error_message="Close answered 404"))
    journal.close()

    recovered = recover(path, campaign, fingerprint(campaign))
    assert recovered.result(0) == sent
    assert recovered.result(5) == RowResult(5, Outcome.FAILED, "Close answered 404")
    assert recovered.result(3) is None
    assert recovered.in_flight() == {3}
    last = path.read_text(encoding="utf-8").splitlines()[-1]
    assert last == '{"done":5,"outcome":"failed","error_message":"Close answered 404"}', (
        "fields at their default are left out"
    )


def test_a_line_cut_short_by_a_crash_is_a_row_that_never_finished(
    campaign: Path, tmp_path: Path
) -> None:
    path = tmp_path / "run.journal"
    journal = Journal.create(path, campaign, fingerprint(campaign))
    journal.started(1)
    journal.close()
    with path.open("a", encoding="utf-8") as stream:
        stream.write('{"done":1,"outcome":"upd')
    recovered = recover(path, campaign, fingerprint(campaign))
    assert (recovered.records, recovered.in_flight()) == ({}, {1})


def test_a_second_run_never_overwrites_an_unfinished_journal(
    campaign: Path, tmp_path: Path
) -> None:
    path = tmp_path / "run.journal"
    Journal.create(path, campaign, fingerprint(campaign)).close()
    with pytest.raises(JournalError, match="holds an unfinished run .* --resume"):
        Journal.create(path, campaign, fingerprint(campaign))


def test_resuming_with_another_input_is_refused(campaign: Path, tmp_path: Path) -> None:
    path = tmp_path / "run.journal"
    Journal.create(path, campaign, fingerprint(campaign)).close()
    edited = tmp_path / "edited.csv"
    edited.write_text("id,status\nacti_2,outbox\n", encoding="utf-8")
    with pytest.raises(JournalError, match="records a run of .*campaign.csv, and .*edited.csv is"):
        recover(path, edited, fingerprint(edited))


def test_resuming_needs_a_journal(campaign: Path, tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="there is no run to resume"):
        recover(tmp_path / "none.journal", campaign, fingerprint(campaign))


def test_a_finished_run_removes_its_journal(campaign: Path, tmp_path: Path) -> None:
    path = tmp_path / "run.journal"
    Journal.create(path, campaign, fingerprint(campaign)).remove()
    assert not path.exists()
