"""One run at a time per results file and per input: a second run of the same file (or a
`--resume` while the first still runs) would send the same SMS again.

The locks are the operating system's (`filelock`: `flock` on POSIX, `msvcrt.locking` on
Windows), so they die with the process: a `kill -9` or a crash leaves nothing stale to clean up.
They live in the temporary folder, named by what they guard, beside a note that names the run
holding them, for the message that refuses the second one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from batch_sms.errors import RunRefused

FOLDER = "batch-sms-locks"


@dataclass(frozen=True)
class _Guard:
    lock: FileLock
    note: Path
    what: str


class RunLocks:
    """Held from `acquire` to `release` (or the end of a `with` block)."""

    def __init__(self, results_path: Path, input_digest: str, command: str) -> None:
        folder = Path(tempfile.gettempdir()) / FOLDER
        folder.mkdir(exist_ok=True)
        results_key = hashlib.sha256(str(results_path.resolve()).encode()).hexdigest()[:32]
        self._guards = [
            _guard(folder / f"results-{results_key}", f"the results file {results_path}"),
            _guard(folder / f"input-{input_digest[:32]}", "an input file with this content"),
        ]
        self._note = {
            "pid": os.getpid(),
            "command": command,
            "results": str(results_path),
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self._held: list[_Guard] = []

    def acquire(self) -> RunLocks:
        for guard in self._guards:
            try:
                guard.lock.acquire(timeout=0)
            except Timeout:
                self.release()
                raise RunRefused(_refusal(guard), "INPUT") from None
            self._held.append(guard)
            guard.note.write_text(json.dumps(self._note), encoding="utf-8")
        return self

    def release(self) -> None:
        while self._held:
            guard = self._held.pop()
            guard.note.unlink(missing_ok=True)
            guard.lock.release()

    def __enter__(self) -> RunLocks:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def _guard(stem: Path, what: str) -> _Guard:
    return _Guard(FileLock(stem.with_suffix(".lock")), stem.with_suffix(".owner"), what)


def _refusal(guard: _Guard) -> str:
    try:
        note = json.loads(guard.note.read_text(encoding="utf-8"))
        holder = (
            f"batch-sms {note['command']} (process {note['pid']}, since {note['since']}, "
            f"results {note['results']})"
        )
    except (OSError, ValueError, KeyError, TypeError):
        holder = "another batch-sms run"
    return (
        f"{holder} is using {guard.what} right now. Wait for it to end (or stop it with "
        "Ctrl-C), then try again: two runs at once could send the same SMS twice."
    )
