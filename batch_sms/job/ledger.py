"""The run ledger: the durable record of one run, beside its results file, in SQLite.

It holds what resume, rerun, undo and the report need, and nothing they would have to parse
out of messages:
- the run itself: command, input file and its SHA-256, the options that shape the run, when,
  how it ended (`running`, `stopped` or `finished`), requests made;
- `started`: a row whose send is about to go out, written before its first PUT;
- `result`: a row's result, as soon as Close settled it;
- `before`: the SMS as Close showed it before this run changed it (the preflight's read), so
  that `undo` can put it back;
- `recipient`: each number a sending row claimed, and the row, written before the row is
  sent, so that a resumed run sends no second SMS to it (see job/recipients.py).
- `after`: the SMS as Close showed it once this run changed it (its answer, or the read-back
  that confirmed it), so that `undo` can tell whether someone changed it since;
- notes: facts of the run that a resume must not forget, like the canary's decision.

A row with a start and no result was in flight when the run died: it may have been sent.

Every write is its own transaction in WAL mode with `synchronous=NORMAL`: a killed process
loses nothing that was written, and a power cut at most the last moments (the same as the
line journal it replaces, which fsynced once a second). The standard library's `sqlite3`
gives transactions and a file that tools can open, instead of hand-parsed cut lines.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from batch_sms.errors import LedgerError
from batch_sms.models import Evidence, Outcome, RowResult
from batch_sms.version import __version__

FORMAT = "batch-sms ledger 1"
SUFFIX = ".ledger"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS run (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS started (row INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS result (row INTEGER PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS before (
    row INTEGER PRIMARY KEY, activity_id TEXT NOT NULL, activity TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS recipient (row INTEGER PRIMARY KEY, number TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS after (
    row INTEGER PRIMARY KEY, activity_id TEXT NOT NULL, activity TEXT NOT NULL
);
"""
# The run table's keys that are notes, not run info.
_NOTE = "note:"


class RunState(StrEnum):
    RUNNING = "running"
    """Under way, or died without a word (crash, kill, power cut): `--resume` carries on."""
    STOPPED = "stopped"
    """Stopped in order (Ctrl-C, refused credentials, a full disk): `--resume` carries on."""
    FINISHED = "finished"
    """Every row has its result in the results file."""


def ledger_path(results_path: Path) -> Path:
    return results_path.with_name(results_path.name + SUFFIX)


def fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class RunInfo:
    """What the ledger says of the run as a whole."""

    command: str
    input_path: str
    input_sha256: str
    options: Mapping[str, Any]
    """The options that shape the run, as the command line spells them (no secrets)."""
    version: str = __version__
    started_at: str = ""
    finished_at: str = ""
    state: RunState = RunState.RUNNING
    requests: int = 0


@dataclass
class Recovered:
    """What an earlier, unfinished run of the same input left in its ledger. Results stay as
    their JSON text until asked for: a resumed run of a million rows holds them all."""

    records: dict[int, str] = field(default_factory=dict)
    started: set[int] = field(default_factory=set)
    claims: dict[int, str] = field(default_factory=dict)
    """Row index -> the recipient's number that the row claimed before it was sent."""

    def result(self, index: int) -> RowResult | None:
        record = self.records.get(index)
        return None if record is None else result_from_record(record)

    def in_flight(self) -> set[int]:
        """Rows whose send started and never got a result: they may have been sent."""
        return self.started - self.records.keys()


class Ledger:
    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._db = connection

    # --- opening -------------------------------------------------------------------------

    @classmethod
    def refuse_unfinished(cls, path: Path) -> None:
        """An unfinished run's ledger is the only record of what it sent: no new run may
        start over it."""
        if not path.exists():
            return
        earlier = cls.read(path)
        state = earlier.info.state
        earlier.close()
        if state is not RunState.FINISHED:
            raise LedgerError(_unfinished(path), "--out")

    @classmethod
    def create(cls, path: Path, info: RunInfo) -> Ledger:
        """A new ledger for a new run. Refused over an unfinished run's ledger; a finished
        run's ledger is replaced along with its results file."""
        cls.refuse_unfinished(path)
        _remove(path)
        ledger = cls(path, _connect(path))
        ledger._db.executescript(_SCHEMA)
        started = info.started_at or _now()
        ledger._set_info(
            command=info.command,
            input_path=info.input_path,
            input_sha256=info.input_sha256,
            options=json.dumps(dict(info.options), sort_keys=True),
            version=info.version,
            started_at=started,
            state=RunState.RUNNING,
            requests=0,
            format=FORMAT,
        )
        return ledger

    @classmethod
    def read(cls, path: Path) -> Ledger:
        """An existing ledger, for reading (and for `resume`)."""
        if not path.exists():
            raise LedgerError(f"there is no run to resume: {path} does not exist.", "--resume")
        try:
            ledger = cls(path, _connect(path))
            if ledger._get("format") != FORMAT:
                raise LedgerError(f"{path} is not a batch-sms ledger.", "--out")
            ledger._db.executescript(_SCHEMA)  # tables added since the ledger was made
        except sqlite3.DatabaseError as error:
            raise LedgerError(f"{path} is damaged or not a batch-sms ledger ({error}).") from None
        return ledger

    @classmethod
    def resume(cls, path: Path, input_path: Path, digest: str) -> tuple[Ledger, Recovered]:
        """Carry on the unfinished run recorded in `path`; refused for another input file."""
        ledger = cls.read(path)
        info = ledger.info
        if info.input_sha256 != digest:
            ledger.close()
            raise LedgerError(
                f"{path} records a run of {info.input_path}, and {input_path} is not that file "
                "(its content differs). Resume with the same input, or, to retry rows of a "
                "finished run, rerun its results file.",
                "--resume",
            )
        if info.state is RunState.FINISHED:
            ledger.close()
            raise LedgerError(
                f"the run recorded in {path} finished: there is nothing to resume. To retry "
                "the rows not updated, rerun its results file.",
                "--resume",
            )
        ledger._db.executescript(_SCHEMA)  # a ledger written before a table was added
        recovered = ledger.recovered()
        ledger._set_info(state=RunState.RUNNING, finished_at="")
        return ledger, recovered

    # --- the run as it goes --------------------------------------------------------------

    def started(self, index: int) -> None:
        self._db.execute("INSERT OR IGNORE INTO started (row) VALUES (?)", (index,))

    def finished(self, result: RowResult) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO result (row, record) VALUES (?, ?)",
            (result.index, record_of(result)),
        )

    def before(self, index: int, activity_id: str, activity: Mapping[str, Any]) -> None:
        """The SMS as Close showed it before this run: the first reading is kept, so that a
        resumed run does not take its own changes for the state before it."""
        self._db.execute(
            "INSERT OR IGNORE INTO before (row, activity_id, activity) VALUES (?, ?, ?)",
            (index, activity_id, json.dumps(dict(activity), sort_keys=True)),
        )

    def claimed(self, index: int, number: str) -> None:
        """A sending row claimed its recipient's number (no two rows hold one: only one claim
        of each number succeeds). Keyed by row, which costs a third of a key on the number."""
        query = "INSERT OR IGNORE INTO recipient (row, number) VALUES (?, ?)"
        self._db.execute(query, (index, number))

    def after(self, index: int, activity_id: str, activity: Mapping[str, Any]) -> None:
        """The SMS as Close showed it once this run changed it; the last word is kept."""
        self._db.execute(
            "INSERT OR REPLACE INTO after (row, activity_id, activity) VALUES (?, ?, ?)",
            (index, activity_id, json.dumps(dict(activity), sort_keys=True)),
        )

    def carry_before(self, earlier: Ledger) -> None:
        """Keep the states before (and after) an earlier run of the same rows (a rerun of its
        results file), for rows this run does not change again: an undo of the chain goes
        back to the state before the first run, and knows what the chain left."""
        for table in ("before", "after"):
            rows = earlier._db.execute(f"SELECT row, activity_id, activity FROM {table}")
            self._db.executemany(
                f"INSERT OR IGNORE INTO {table} (row, activity_id, activity) VALUES (?, ?, ?)",
                rows.fetchall(),
            )

    def set_note(self, key: str, value: str) -> None:
        """Remember a fact of the run (the canary's decision) across a resume."""
        self._set_info(**{_NOTE + key: value})

    def note(self, key: str) -> str | None:
        return self._get(_NOTE + key)

    def end(self, state: RunState, requests: int) -> None:
        self._set_info(state=state, finished_at=_now(), requests=requests)

    def close(self) -> None:
        self._db.close()

    # --- reading -------------------------------------------------------------------------

    @property
    def info(self) -> RunInfo:
        values = dict(self._db.execute("SELECT key, value FROM run").fetchall())
        return RunInfo(
            command=values.get("command", ""),
            input_path=values.get("input_path", ""),
            input_sha256=values.get("input_sha256", ""),
            options=json.loads(values.get("options", "{}")),
            version=values.get("version", ""),
            started_at=values.get("started_at", ""),
            finished_at=values.get("finished_at", ""),
            state=RunState(values.get("state", RunState.RUNNING)),
            requests=int(values.get("requests", 0)),
        )

    def recovered(self) -> Recovered:
        return Recovered(
            records=dict(self._db.execute("SELECT row, record FROM result").fetchall()),
            started={row for (row,) in self._db.execute("SELECT row FROM started")},
            claims=dict(self._db.execute("SELECT row, number FROM recipient").fetchall()),
        )

    def before_states(self) -> Iterator[tuple[int, str, dict[str, Any]]]:
        """(row index, activity id, the SMS before the run) for every row read before sending."""
        return self._states("before")

    def after_states(self) -> Iterator[tuple[int, str, dict[str, Any]]]:
        """(row index, activity id, the SMS as the run left it) for every row it changed."""
        return self._states("after")

    def _states(self, table: str) -> Iterator[tuple[int, str, dict[str, Any]]]:
        query = f"SELECT row, activity_id, activity FROM {table} ORDER BY row"
        for row, activity_id, activity in self._db.execute(query):
            yield row, activity_id, json.loads(activity)

    def results(self) -> Iterator[RowResult]:
        for (record,) in self._db.execute("SELECT record FROM result ORDER BY row"):
            yield result_from_record(record)

    # --- plumbing ------------------------------------------------------------------------

    def _get(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM run WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_info(self, **values: Any) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO run (key, value) VALUES (?, ?)",
                [(key, str(value)) for key, value in values.items()],
            )


def record_of(result: RowResult) -> str:
    """A result as one JSON object; fields at their default are left out, which halves the
    size. Not dataclasses.asdict, which deep-copies every value: this runs once per row."""
    record: dict[str, Any] = {"outcome": result.outcome}
    for item in fields(result)[2:]:
        if item.name == "shown":
            continue  # the `after` table keeps it; resumed runs hold every record in memory
        value = getattr(result, item.name)
        if value != item.default:
            record[item.name] = value
    record["index"] = result.index
    return json.dumps(record, separators=(",", ":"))


def result_from_record(record: str) -> RowResult:
    values = json.loads(record)
    values["outcome"] = Outcome(values["outcome"])
    if "evidence" in values:
        values["evidence"] = Evidence(values["evidence"])
    return RowResult(**values)


def _connect(path: Path) -> sqlite3.Connection:
    # Autocommit: each write is a transaction of its own, done when `execute` returns. Used
    # from one thread at a time, which need not be the one that opened it (a run started from
    # a notebook runs in a thread of its own).
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _unfinished(path: Path) -> str:
    return (
        f"{path} holds an unfinished run of this results file. Resume it with --resume (rows "
        "it sent are not sent again), or choose another --out."
    )
