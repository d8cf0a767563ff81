"""One run of one file, from reading it to its results, without a terminal.

    with Campaign(path, options) as campaign:     # reads the header, takes the locks
        plan = campaign.plan()                     # checks every row, sends nothing
        ...                                        # the caller approves the plan, or not
        summary = await campaign.send(connection)  # or campaign.dry_run()

Every command (`run`, `rerun`, the Python API) goes through this class; the command line adds
the words, the progress bar, the question and Ctrl-C, and nothing else.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from batch_sms.checks.validation import DEFAULT_CHECKS, CheckOptions
from batch_sms.errors import OptionError, RunRefused
from batch_sms.files.rows import InputTable, ReadOptions, read_table
from batch_sms.files.tables import permissions_of, set_mode
from batch_sms.job import canary as canaries
from batch_sms.job.canary import ApproveCanary, CanaryGate, CanaryOptions, CanaryReport
from batch_sms.job.halt import DEFAULT_HALT, HaltRule
from batch_sms.job.ledger import Ledger, Recovered, RunInfo, RunState, fingerprint, ledger_path
from batch_sms.job.locks import RunLocks
from batch_sms.job.plan import Plan, Planner, make_plan
from batch_sms.job.putback import UndoPlanner, is_undo_table
from batch_sms.job.recipients import RecipientBook
from batch_sms.job.sender import SendOptions
from batch_sms.job.stream import Connection, StopCause, Stream, write_dry_run
from batch_sms.models import Outcome, RowResult
from batch_sms.output.facts import RunFacts
from batch_sms.output.failures import FailureGroup
from batch_sms.output.report import write_report
from batch_sms.output.results import default_results_path
from batch_sms.version import __version__


@dataclass(frozen=True)
class RunOptions:
    """Everything that shapes one run of a file, except where it sends (a `Connection`)."""

    out_path: Path | None = None
    """The results file; None: INPUT.results.csv beside the input."""
    overwrite: bool = False
    resume: bool = False
    dry_run: bool = False
    max_sends: int | None = None
    allow_duplicate_recipients: bool = False
    """Send every row, also a second SMS to a number an earlier row sends to."""
    read: ReadOptions = field(default_factory=ReadOptions)
    check: CheckOptions = DEFAULT_CHECKS
    send: SendOptions = field(default_factory=SendOptions)
    command: str = "run"
    """`run` or `rerun`: a rerun's input must be a results file."""
    recorded: Mapping[str, Any] = field(default_factory=dict)
    """The options as the command line spells them (no secrets), kept in the ledger."""
    report_path: Path | None = None
    """Where to write an HTML report of the run when it ends; None: no report."""
    canary: CanaryOptions | None = None
    """Send this many sending rows first and hold the rest until the canary is approved."""
    halt: HaltRule | None = DEFAULT_HALT
    """Stop in order once this many rows failed; None: never."""


@dataclass(frozen=True)
class RunSummary:
    """What a run did: counts by outcome, and where its record is."""

    input_path: Path
    results_path: Path
    ledger_path: Path | None
    plan: Plan
    counts: Counter[Outcome]
    requested: int
    """Rows for which a request went to Close."""
    elapsed: float
    dry_run: bool = False
    aborted: str | None = None
    """Why the run stopped early (credentials refused, Close unreachable, a full disk)."""
    stopped: bool = False
    """The run was asked to stop (Ctrl-C): rows not started are `not_attempted`."""
    results_written: bool = True
    report_path: Path | None = None
    """The HTML report written for this run, if one was asked for."""
    failures: tuple[FailureGroup, ...] = ()
    """The failed and invalid rows grouped by reason, largest group first."""
    canary: CanaryReport | None = None
    stop_cause: StopCause | None = None
    """The run stopped in order on its own (canary, --halt-on-failures): `resume` carries on."""

    @property
    def total_rows(self) -> int:
        return self.plan.total_rows

    @property
    def unfinished(self) -> int:
        """Rows that a rerun of the results would try again."""
        counts = self.counts
        return counts[Outcome.INVALID] + counts[Outcome.FAILED] + counts[Outcome.NOT_ATTEMPTED]

    @property
    def rate(self) -> float:
        """Rows sent per second."""
        return self.requested / self.elapsed if self.elapsed > 0 else 0.0


class Campaign:
    def __init__(
        self,
        input_path: Path | str,
        options: RunOptions | None = None,
        now: datetime | None = None,
    ) -> None:
        self.input_path = Path(input_path)
        self.options = options or RunOptions()
        self.now = now or datetime.now(UTC)
        self.table: InputTable | None = None
        self.results_path = self._results_path()
        self._check_report_path()
        self.ledger: Ledger | None = None
        self._recovered: Recovered | None = None
        self._digest = ""
        self._locks: RunLocks | None = None
        self._plan: Plan | None = None
        self._stream: Stream | None = None

    # --- opening and closing -------------------------------------------------------------

    def open(self) -> Campaign:
        """Read the input's header, take the run's locks and, with `resume`, read what the
        ledger holds. Raises InputError, OptionError or one of its kinds; sends nothing."""
        self.table = read_table(self.input_path, self.options.read)
        if self.options.command == "rerun" and not self.table.is_results_file:
            raise OptionError(
                f"{self.input_path} has no 'outcome' column, so it is not a results file. "
                f"To send it, use: batch-sms run {self.input_path}",
                "RESULTS",
            )
        self._digest = fingerprint(self.input_path)
        self._locks = RunLocks(self.results_path, self._digest, self.options.command).acquire()
        try:
            self._recover()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        if self.ledger is not None:
            self.ledger.close()
            self.ledger = None
        if self._locks is not None:
            self._locks.release()
            self._locks = None

    def __enter__(self) -> Campaign:
        return self.open()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- planning ------------------------------------------------------------------------

    def planner(self) -> Planner:
        """A fresh planner: the validator remembers ids, so each pass needs its own."""
        assert self.table is not None, "open() the campaign first"
        kind = UndoPlanner if self.is_undo else Planner
        return kind(self.table, self.now, self.options.check, self._recovered)

    @property
    def is_undo(self) -> bool:
        """The input is an undo's (`batch-sms undo` wrote it, or it is an undo's results)."""
        return self.table is not None and is_undo_table(self.table)

    def plan(self) -> Plan:
        """Check every row (streaming the file once) and count what a run would do."""
        if self._plan is None:
            holds_back = not self.options.allow_duplicate_recipients
            self._plan = make_plan(self.planner(), holds_back)
        return self._plan

    def refuse_excess(self, plan: Plan) -> None:
        limit = self.options.max_sends
        if limit is not None and plan.sends > limit:
            raise RunRefused(
                f"This run would send {plan.sends:,} SMS, more than --max-sends {limit:,}. "
                "Nothing was sent.",
                "--max-sends",
            )

    # --- doing ---------------------------------------------------------------------------

    def dry_run(self) -> RunSummary:
        """Write the results as planned; send nothing."""
        started = time.monotonic()
        plan = self.plan()
        counts, failures = write_dry_run(self.planner(), self.results_path, self._recipients(plan))
        summary = RunSummary(
            self.input_path,
            self.results_path,
            None,
            plan,
            counts,
            0,
            time.monotonic() - started,
            dry_run=True,
            failures=failures,
        )
        facts = RunFacts(
            command=self.options.command,
            input_path=self.input_path,
            input_sha256=self._digest,
            started_at=self.now,
            finished_at=datetime.now(UTC),
            options=spelled_options(self.options.recorded),
            version=__version__,
            requests=0,
            rate_per_second=None,
            dry_run=True,
        )
        return self._with_report(summary, facts)

    async def send(
        self,
        connection: Connection,
        on_result: Callable[[RowResult], None] | None = None,
        approve_canary: ApproveCanary = canaries.approve_if_confirmed,
    ) -> RunSummary:
        """Send the plan's updates and write every row's result. With `options.canary`, the
        first sending rows go out alone and `approve_canary` decides whether the rest follow.
        Cancelling the task stops at once: no results file, and the ledger lets `resume`
        carry on."""
        plan = self.plan()
        self.refuse_excess(plan)
        ledger = self._open_ledger()
        started = time.monotonic()
        settings = self.options.send
        if self.is_undo:
            # An undo must find out whether someone changed the SMS since the run.
            settings = replace(settings, preflight=True)
        self._stream = Stream(
            self.planner(),
            connection,
            self.results_path,
            ledger,
            settings,
            on_result,
            self._recipients(plan),
            self._canary_gate(ledger, approve_canary),
            self.options.halt,
        )
        try:
            report = await self._stream.run()
        except BaseException:
            ledger.end(RunState.STOPPED, self._stream.requested)
            raise
        done = report.results_written and not (report.stopped or report.aborted)
        ledger.end(RunState.FINISHED if done else RunState.STOPPED, report.requested)
        summary = RunSummary(
            self.input_path,
            self.results_path,
            ledger.path,
            plan,
            report.counts,
            report.requested,
            time.monotonic() - started,
            aborted=report.aborted,
            stopped=report.stopped,
            results_written=report.results_written,
            failures=report.failures,
            canary=report.canary,
            stop_cause=report.stop_cause,
        )
        if not summary.results_written:
            return summary
        return self._with_report(summary, run_facts(ledger.info, self.input_path, summary.rate))

    def _with_report(self, summary: RunSummary, facts: RunFacts) -> RunSummary:
        """Write the HTML report asked for, from the results file just written."""
        path = self.options.report_path
        if path is None:
            return summary
        write_report(self.results_path, path, facts, settings=self.options.check)
        return replace(summary, report_path=path)

    def _canary_gate(self, ledger: Ledger, approve: ApproveCanary) -> CanaryGate | None:
        """None without a canary, and for a resumed run whose canary was decided already."""
        settings = self.options.canary
        if settings is None or ledger.note(canaries.LEDGER_NOTE) is not None:
            return None
        return CanaryGate(settings, approve)

    def stop(self) -> None:
        """Ask a sending run to stop in order: no new requests, those in flight finish."""
        if self._stream is not None:
            self._stream.stop()

    @property
    def stopping(self) -> bool:
        return self._stream is not None and self._stream.stopping

    # --- plumbing ------------------------------------------------------------------------

    def _recipients(self, plan: Plan) -> RecipientBook | None:
        """A pass's book of claimed numbers: those of earlier runs, as the plan found them."""
        if self.options.allow_duplicate_recipients:
            return None
        return RecipientBook(plan.earlier_claims.claims())

    def _results_path(self) -> Path:
        options = self.options
        path = options.out_path or default_results_path(self.input_path)
        if path.resolve() == self.input_path.resolve():
            raise OptionError("the results would overwrite the input file.", "--out")
        if path.exists() and not (options.overwrite or options.resume):
            raise OptionError(
                f"{path} exists already. Choose another file with --out, or pass --overwrite.",
                "--out",
            )
        _check_writable(path.parent)
        return path

    def _check_report_path(self) -> None:
        path = self.options.report_path
        if path is None:
            return
        if path.resolve() in (self.input_path.resolve(), self.results_path.resolve()):
            raise OptionError("the report would overwrite the input or the results.", "--report")
        if path.exists() and not (self.options.overwrite or self.options.resume):
            raise OptionError(
                f"{path} exists already. Choose another file, or pass --overwrite.", "--report"
            )
        _check_writable(path.parent)

    def _recover(self) -> None:
        """With `resume`, what the unfinished run's ledger holds. Without it, an unfinished
        run's ledger refuses the run: starting over would forget what it sent."""
        path = ledger_path(self.results_path)
        if self.options.resume:
            self.ledger, self._recovered = Ledger.resume(path, self.input_path, self._digest)
        elif not self.options.dry_run:
            Ledger.refuse_unfinished(path)

    def _open_ledger(self) -> Ledger:
        if self.ledger is not None:
            return self.ledger  # resumed
        info = RunInfo(
            command=self.options.command,
            input_path=str(self.input_path),
            input_sha256=self._digest,
            options=self.options.recorded,
        )
        self.ledger = Ledger.create(ledger_path(self.results_path), info)
        # It holds names and phones too: no more open than the input it comes from.
        set_mode(self.ledger.path, permissions_of(self.input_path))
        self._carry_before_states()
        return self.ledger

    def _carry_before_states(self) -> None:
        """A rerun of a results file keeps the states before the earlier run, so that an
        undo of the rerun's results goes back to them."""
        earlier = ledger_path(self.input_path)
        if self.ledger is None or not earlier.exists():
            return
        ledger = Ledger.read(earlier)
        try:
            self.ledger.carry_before(ledger)
        finally:
            ledger.close()


def _check_writable(folder: Path) -> None:
    """Find out before sending anything: results that cannot be written are results lost."""
    if not folder.is_dir():
        raise OptionError(f"folder {folder} does not exist.", "--out")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise OptionError(f"cannot write in folder {folder}: {error.strerror}.", "--out") from None


def run_facts(info: RunInfo, input_path: Path, rate: float | None = None) -> RunFacts:
    """What a report says of a run, from its ledger."""
    return RunFacts(
        command=info.command,
        input_path=input_path,
        input_sha256=info.input_sha256,
        started_at=datetime.fromisoformat(info.started_at),
        finished_at=datetime.fromisoformat(info.finished_at) if info.finished_at else None,
        options=spelled_options(info.options),
        version=info.version,
        requests=info.requests,
        rate_per_second=rate,
        dry_run=False,
    )


# Options whose flag is not their name with dashes.
_FLAGS = {"column_map": "--map", "out_path": "--out"}


def spelled_options(options: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """Recorded options as the command line spells them: (("--timezone", "Europe/Berlin"),)."""
    spelled: list[tuple[str, str]] = []
    for name, value in sorted(options.items()):
        flag = _FLAGS.get(name, "--" + name.replace("_", "-"))
        values = value if isinstance(value, list) else [value]
        spelled.extend((flag, "" if item is True else str(item)) for item in values)
    return tuple(spelled)
