"""Undo a run: put back what it changed, where Close still allows it, as a run of its own.

    with Undo("campaign.results.csv", options) as undo:   # checks the ledger, locks, plans
        undo.counts                                        # what it will do, by action
        summary = await undo.campaign.send(connection)     # or undo.campaign.dry_run()

It reads RESULTS and the ledger beside it (RESULTS.ledger: the SMS before the run and as the
run left it), writes what to put back to the undo's own input beside RESULTS (`putback`
explains its columns), and runs that file as a `Campaign`: the same plan, dry run, ledger,
`--resume`, results file and exit codes as any run. While it runs it holds the lock of the run
it undoes, so that nobody resumes that run meanwhile.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

from batch_sms.errors import LedgerError, OptionError
from batch_sms.files.rows import read_table
from batch_sms.job.campaign import Campaign, RunOptions
from batch_sms.job.ledger import Ledger, RunState, ledger_path
from batch_sms.job.locks import RunLocks
from batch_sms.job.putback import Action, count_actions, is_undo_table, write_undo_input

_RESULTS_SUFFIX = re.compile(r"\.results(-\d+)?$")


def undo_input_path(results_path: Path) -> Path:
    """`campaign.results.csv` -> `campaign.undo.csv`; `campaign.results-2.xlsx` ->
    `campaign.undo-2.csv`; any other name gets `.undo.csv`."""
    stem = results_path.stem
    match = _RESULTS_SUFFIX.search(stem)
    if match is None:
        return results_path.with_name(f"{stem}.undo.csv")
    return results_path.with_name(f"{stem[: match.start()]}.undo{match.group(1) or ''}.csv")


class Undo:
    def __init__(self, results_path: Path | str, options: RunOptions | None = None) -> None:
        self.results_path = Path(results_path)
        options = options or RunOptions()
        # An undo sends nothing (max_sends 0 makes sure of it) and has no canary.
        self.options = replace(options, command="undo", max_sends=0, canary=None)
        self.input_path = undo_input_path(self.results_path)
        self.counts: Counter[Action] = Counter()
        self.campaign: Campaign | None = None
        self._locks: RunLocks | None = None

    def open(self) -> Undo:
        """Check RESULTS and its ledger, lock the run, write (or, with `resume`, find) the
        undo's input and open it as a campaign. Raises InputError or an OptionError; sends
        nothing."""
        digest = self._check_run()
        self._locks = RunLocks(self.results_path, digest, "undo").acquire()
        try:
            campaign = Campaign(self.input_path, self.options)
            if self.options.resume:
                self._check_resumable()
            else:
                Ledger.refuse_unfinished(ledger_path(campaign.results_path))
                self._write_input()
            self.campaign = campaign.open()
            assert campaign.table is not None
            self.counts = count_actions(campaign.table)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        if self.campaign is not None:
            self.campaign.close()
            self.campaign = None
        if self._locks is not None:
            self._locks.release()
            self._locks = None

    def __enter__(self) -> Undo:
        return self.open()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _check_run(self) -> str:
        """RESULTS is a run's results file with its ledger, and that run is not under way.
        Returns the SHA-256 of the run's input, for its lock."""
        path = self.results_path
        if not path.exists():
            raise OptionError(f"{path} does not exist.", "RESULTS")
        table = read_table(path, self.options.read)
        if is_undo_table(table):
            raise OptionError(
                f"{path} is an undo's own file; undo does not undo an undo. To carry on an "
                "undo that stopped, run batch-sms undo on the campaign's results with --resume.",
                "RESULTS",
            )
        if not table.is_results_file:
            raise OptionError(
                f"{path} has no 'outcome' column: it is not a results file.", "RESULTS"
            )
        ledger_file = ledger_path(path)
        if not ledger_file.exists():
            raise OptionError(
                f"{ledger_file} is missing. The run wrote it beside its results, with what each "
                "SMS was before the run; without it there is nothing to put back.",
                "RESULTS",
            )
        ledger = Ledger.read(ledger_file)
        try:
            info = ledger.info
        finally:
            ledger.close()
        if info.state is RunState.RUNNING:
            raise LedgerError(
                f"the run recorded in {ledger_file} is under way or died unfinished: let it end, "
                "or carry it on with --resume, then undo its results.",
                "RESULTS",
            )
        return info.input_sha256

    def _check_resumable(self) -> None:
        if not self.input_path.exists():
            raise LedgerError(
                f"there is no undo to resume: {self.input_path} does not exist.", "--resume"
            )

    def _write_input(self) -> None:
        table = read_table(self.results_path, self.options.read)
        ledger = Ledger.read(ledger_path(self.results_path))
        try:
            write_undo_input(table, ledger, self.input_path)
        finally:
            ledger.close()
