"""The journal: an append-only record of a run, written as rows start and finish, so that a
crash, a kill or a power cut loses nothing but the rows in flight, and those are known.

One JSON object per line:
- the first line names the input file and its SHA-256, so that a resume of another file is
  refused;
- `{"start": 12}` before the first PUT of a row that sends an SMS;
- `{"done": 12, "outcome": ..., ...}` when a row that needed Close has its result.
A row with a start and no result was in flight when the run died: it may have been sent.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import IO, Any

from batch_sms.output.results import Outcome, RowResult

FORMAT = "batch-sms journal 1"
# Each line is flushed to the operating system at once (a killed process loses nothing);
# fsync, which also survives a power cut, runs at most this often.
FSYNC_EVERY = 1.0


class JournalError(Exception):
    """The journal cannot be used as asked; the message says why and what to do."""


def journal_path(results_path: Path) -> Path:
    return results_path.with_name(results_path.name + ".journal")


def fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Recovered:
    """What an earlier run of the same input left in its journal. Results stay as the
    journal's text until asked for: a resumed run of a million rows holds them all."""

    records: dict[int, str] = field(default_factory=dict)
    started: set[int] = field(default_factory=set)

    def result(self, index: int) -> RowResult | None:
        record = self.records.get(index)
        return None if record is None else _result(_parse(record))

    def in_flight(self) -> set[int]:
        """Rows whose send started and never got a result: they may have been sent."""
        return self.started - self.records.keys()


class Journal:
    def __init__(self, path: Path, stream: IO[str]) -> None:
        self.path = path
        self._stream = stream
        self._last_sync = time.monotonic()

    @staticmethod
    def refuse_unfinished(path: Path) -> None:
        """A journal that is there holds the only record of an unfinished run: a new run must
        not start over it."""
        if path.exists():
            raise JournalError(_unfinished(path))

    @classmethod
    def create(cls, path: Path, input_path: Path, digest: str) -> Journal:
        """A new journal; refused when one is there already."""
        try:
            stream = path.open("x", encoding="utf-8")
        except FileExistsError:
            raise JournalError(_unfinished(path)) from None
        journal = cls(path, stream)
        journal._write({"format": FORMAT, "input": str(input_path), "sha256": digest})
        journal.sync()
        return journal

    @classmethod
    def append(cls, path: Path) -> Journal:
        """Continue a journal whose content `recover` has read and checked already."""
        return cls(path, path.open("a", encoding="utf-8"))

    def started(self, index: int) -> None:
        self._write({"start": index})

    def finished(self, result: RowResult) -> None:
        # Not dataclasses.asdict, which deep-copies every value: this runs once per row. Fields
        # at their default are left out, which halves the journal.
        record: dict[str, Any] = {"done": result.index, "outcome": result.outcome}
        for item in fields(result)[2:]:
            value = getattr(result, item.name)
            if value != item.default:
                record[item.name] = value
        self._write(record)

    def _write(self, record: dict[str, Any]) -> None:
        self._stream.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._stream.flush()
        if time.monotonic() - self._last_sync >= FSYNC_EVERY:
            self.sync()

    def sync(self) -> None:
        self._stream.flush()
        os.fsync(self._stream.fileno())
        self._last_sync = time.monotonic()

    def close(self) -> None:
        if not self._stream.closed:
            self.sync()
            self._stream.close()

    def remove(self) -> None:
        """The results file holds everything now: the journal has done its job."""
        self.close()
        self.path.unlink(missing_ok=True)


def _unfinished(path: Path) -> str:
    return (
        f"{path} holds an unfinished run of this results file. Resume it with --resume (rows "
        "it sent are not sent again), or choose another --out."
    )


def recover(path: Path, input_path: Path, digest: str) -> Recovered:
    """What the journal of an earlier run of the same input holds; refused for another input."""
    if not path.exists():
        raise JournalError(f"there is no run to resume: {path} does not exist.")
    return _read(path, input_path, digest)


def _read(path: Path, input_path: Path, digest: str) -> Recovered:
    recovered = Recovered()
    with path.open(encoding="utf-8") as stream:
        header = _parse(stream.readline())
        if header.get("format") != FORMAT:
            raise JournalError(f"{path} is not a batch-sms journal.")
        if header.get("sha256") != digest:
            raise JournalError(
                f"{path} records a run of {header.get('input')}, and {input_path} is not that "
                "file (its content differs). Resume with the same input, or, to retry rows "
                "of a finished run, rerun its results file."
            )
        for line in stream:
            if not line.endswith("\n"):
                break  # the last line was cut short by the crash: that row never finished
            _replay(line, recovered)
    return recovered


def _parse(line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return {}
    return record if isinstance(record, dict) else {}


def _replay(line: str, recovered: Recovered) -> None:
    record = _parse(line)
    if "start" in record:
        recovered.started.add(int(record["start"]))
    elif "done" in record:
        recovered.records[int(record["done"])] = line


def _result(record: dict[str, Any]) -> RowResult:
    index = int(record.pop("done"))
    record["outcome"] = Outcome(record["outcome"])
    return RowResult(index=index, **record)
