"""The moving parts of a measurement: input files, the sandbox process, and the measured run.

Every figure comes from a child process measured on its own: wall time, CPU (user + sys) and
peak RSS from `os.wait4` on its pid, and rows per outcome from the results file it writes.
"""

from __future__ import annotations

import csv
import json
import os
import string
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

API_KEY = "sandbox_api_key"  # the sandbox's key
STATUSES = ("inbox", "draft", "scheduled", "outbox", "sent", "error")
STARTUP_SECONDS = 30.0  # how long a sandbox may take to answer before the benchmark gives up
_ALPHABET = string.digits + string.ascii_letters
_ID_LENGTH = 20
_CLOSE_VARIABLES = ("CLOSE_API_KEY", "CLOSE_OAUTH_TOKEN", "CLOSE_BASE_URL")


# --- Input files ------------------------------------------------------------------------------


def activity_id(number: int) -> str:
    """A valid, unique SMS activity id for row `number`: acti_ and 20 letters or digits."""
    digits = []
    for _ in range(_ID_LENGTH):
        number, digit = divmod(number, len(_ALPHABET))
        digits.append(_ALPHABET[digit])
    return "acti_" + "".join(reversed(digits))


def write_input(path: Path, rows: int) -> Path:
    """A CSV of text edits: each row gives one draft a new text (no SMS is sent)."""
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["id", "text"])
        for number in range(rows):
            text = f"Hi, your renewal {number} is ready. Reply YES to confirm."
            writer.writerow([activity_id(number), text])
    return path


def count_outcomes(results: Path) -> Counter[str]:
    with results.open(newline="", encoding="utf-8") as stream:
        return Counter(row["outcome"] for row in csv.DictReader(stream))


# --- The measured child -----------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """What one child process cost, from os.wait4."""

    exit_code: int
    wall: float  # seconds, from start to exit
    cpu: float  # user + sys seconds
    peak_rss_mb: float


def measure(command: Sequence[str], log: Path) -> Usage:
    """Run a command to its end, its output in `log`, and measure it alone."""
    with log.open("w", encoding="utf-8") as output:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=output, stderr=output, env=_clean_env())
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    # Linux reports ru_maxrss in KiB.
    return Usage(child.returncode, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def _clean_env() -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in _CLOSE_VARIABLES}
    return env | {"PYTHONUNBUFFERED": "1"}


@dataclass(frozen=True)
class Run:
    usage: Usage
    outcomes: Counter[str]


def run_tool(source: Path, base_url: str | None, *options: str) -> Run:
    """`batch-sms run` on `source` (a dry run when base_url is None), measured."""
    stem = source.with_name(source.stem + ("-dry" if base_url is None else ""))
    results = stem.with_suffix(".results.csv")
    command = [sys.executable, "-m", "batch_sms", "run", str(source), "--out", str(results)]
    command += ["--overwrite", "--quiet", "--yes", *options]
    if base_url is None:
        command.append("--dry-run")
    else:
        command += ["--api-key", API_KEY, "--base-url", base_url]
    usage = measure(command, stem.with_suffix(".log"))
    if usage.exit_code not in (0, 1):  # 1: some rows failed, which the figures show
        raise RuntimeError(f"{' '.join(command)} exited with {usage.exit_code}")
    return Run(usage, count_outcomes(results))


def run_export(out: Path, base_url: str, *options: str) -> tuple[Usage, int]:
    """`batch-sms export` of every status to `out`, measured; and the rows it wrote."""
    statuses = [arg for status in STATUSES for arg in ("--status", status)]
    command = [sys.executable, "-m", "batch_sms", "export", "--out", str(out), "--overwrite"]
    command += ["--quiet", "--api-key", API_KEY, "--base-url", base_url, *statuses, *options]
    usage = measure(command, out.with_suffix(".log"))
    if usage.exit_code != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {usage.exit_code}")
    with out.open(newline="", encoding="utf-8-sig") as stream:
        return usage, sum(1 for _ in csv.DictReader(stream))


# --- The sandbox ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    """The sandbox's answer at /_sandbox/stats (for one endpoint group, in `groups`)."""

    requests: int
    by_status: dict[int, int]
    first_at: float | None
    last_at: float | None
    groups: dict[str, Stats] = field(default_factory=dict)
    window_at: float | None = None  # when the group's latest rate-limit window opened
    window_requests: int = 0  # ... and how many requests it counted
    peak_in_flight: int = 0

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Stats:
        statuses = {int(code): count for code, count in body["by_status"].items()}
        groups = {name: cls.from_json(group) for name, group in body.get("groups", {}).items()}
        return cls(
            body["requests"],
            statuses,
            body["first_at"],
            body["last_at"],
            groups,
            body.get("window_at"),
            body.get("window_requests", 0),
            body.get("peak_in_flight", 0),
        )

    def span(self, tail: float = 0.0) -> float:
        """Seconds from the first request to the last one plus `tail` (its answer or window)."""
        if self.first_at is None or self.last_at is None:
            return 0.0
        return self.last_at - self.first_at + tail

    def share(self, status: int) -> float:
        return self.by_status.get(status, 0) / self.requests if self.requests else 0.0


class SandboxProcess:
    """`batch-sms sandbox --any-id` in its own process, on a free port."""

    def __init__(self, *options: str) -> None:
        command = [sys.executable, "-m", "batch_sms", "sandbox", "--port", "0", "--any-id"]
        self._process = subprocess.Popen(
            [*command, *options], stdout=subprocess.PIPE, text=True, env=_clean_env()
        )
        assert self._process.stdout is not None
        first_line = self._process.stdout.readline().strip()
        if not first_line.startswith("Sandbox listening at "):
            self.stop()
            raise RuntimeError(f"the sandbox did not start: {first_line!r}")
        self.base_url = first_line.rsplit(" ", 1)[-1]
        self._wait_until_it_answers()

    def stats(self) -> Stats:
        url = self.base_url.replace("/api/v1/", "/_sandbox/stats")
        with urllib.request.urlopen(url, timeout=10) as answer:
            return Stats.from_json(json.load(answer))

    def peak_rss_mb(self) -> float | None:
        """The sandbox's own peak RSS so far (Linux: VmHWM), None where /proc has none."""
        try:
            status = Path(f"/proc/{self._process.pid}/status").read_text(encoding="utf-8")
        except OSError:
            return None
        line = next((line for line in status.splitlines() if line.startswith("VmHWM:")), None)
        return int(line.split()[1]) / 1024 if line else None

    def stop(self) -> None:
        # SIGTERM, not Ctrl-C's SIGINT: a shell that starts the suite in the background makes
        # its children ignore SIGINT. Nothing in the sandbox needs a clean shutdown.
        self._process.terminate()
        try:
            self._process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.communicate()

    def _wait_until_it_answers(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                self.stats()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(0.05)


@contextmanager
def sandbox(*options: str) -> Iterator[SandboxProcess]:
    server = SandboxProcess(*options)
    try:
        yield server
    finally:
        server.stop()


# --- The baseline: the official client in a venv of its own -----------------------------------

BASELINE_SCRIPT = Path(__file__).with_name("baseline_client.py")


def baseline_python(venv: Path) -> Path:
    """The venv's python with `closeio` installed; made once, then reused."""
    python = venv / "bin" / "python"
    if python.exists() and _imports_closeio(python):
        return python
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "closeio"]
    subprocess.run(pip, check=True)
    return python


def _imports_closeio(python: Path) -> bool:
    check = subprocess.run([str(python), "-c", "import closeio_api"], capture_output=True)
    return check.returncode == 0


def run_baseline(python: Path, source: Path, base_url: str) -> dict[str, float]:
    """One api.put per row with the official client; its own timing, as JSON."""
    command = [str(python), str(BASELINE_SCRIPT), str(source), base_url, API_KEY]
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=_clean_env())
    figures: dict[str, float] = json.loads(done.stdout)
    return figures
