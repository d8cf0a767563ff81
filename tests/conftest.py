from __future__ import annotations

import csv
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from batch_sms.files.rows import InputTable
from batch_sms.files.tables import open_table_writer
from batch_sms.models import RowResult
from batch_sms.output.results import OrderedResults
from batch_sms.sandbox import Sandbox, SandboxOptions

# A fixed "now" for everything that compares with the clock.
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

WriteCsv = Callable[..., Path]


def activity_id(number: int) -> str:
    """A well-formed, unique SMS activity id."""
    return f"acti_{number:043d}"


def future(days: float = 1) -> str:
    """An ISO time with offset that lies ahead of the real clock, for runs that use it."""
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0).isoformat()


@pytest.fixture(autouse=True)
def no_team_defaults(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tests see no batch-sms.toml of the machine's user and no BATCH_SMS_ variables."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
    for name in [name for name in os.environ if name.startswith("BATCH_SMS_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def write_csv(tmp_path: Path) -> WriteCsv:
    """Write rows (dicts) to a CSV file and return its path."""

    def write(
        rows: Sequence[dict[str, str]], name: str = "input.csv", header: Sequence[str] = ()
    ) -> Path:
        path = tmp_path / name
        fieldnames = list(header) or list(dict.fromkeys(key for row in rows for key in row))
        with path.open("w", newline="", encoding="utf-8") as stream:
            writer = csv.DictWriter(stream, fieldnames=fieldnames)
            writer.writeheader()
            writer.writerows(rows)
        return path

    return write


def read_csv(path: Path) -> list[dict[str, str]]:
    # utf-8-sig: results files start with a byte-order mark, for Excel.
    with path.open(newline="", encoding="utf-8-sig") as stream:
        return list(csv.DictReader(stream))


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxOptions(seed=1)) as server:
        yield server


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    """Start a sandbox with a custom configuration; stopped at the end of the test."""
    started: list[Sandbox] = []

    def make(**config: object) -> Sandbox:
        server = Sandbox(SandboxOptions(**config)).start()  # type: ignore[arg-type]
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def unused_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_results(table: InputTable, results: list[RowResult], out: Path) -> OrderedResults:
    """Announce every row, then record `results` in the order given."""
    with open_table_writer(out, OrderedResults.header(table)) as writer:
        book = OrderedResults(table, writer)
        for row in table.rows():
            book.expect(row)
        for result in results:
            book.record(result)
        book.check_complete()
    return book
