"""A whole run, without a terminal: send a plan's updates and collect every row's result."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace

import httpx

from batch_sms.close import DEFAULT_BASE_URL, CloseClient, Credentials
from batch_sms.plan import Plan
from batch_sms.results import Outcome, ResultBook, RowResult
from batch_sms.runner import (
    MAY_HAVE_BEEN_SENT,
    RunReport,
    RunSettings,
    send_updates,
)


@dataclass(frozen=True)
class Connection:
    credentials: Credentials
    base_url: str = DEFAULT_BASE_URL
    timeout: float = 30.0
    transport: httpx.AsyncBaseTransport | None = None


def new_book(plan: Plan) -> ResultBook:
    """A result book that already holds the rows settled without a request."""
    book = ResultBook(plan.total_rows)
    book.record_all(plan.settled)
    return book


def send_plan(
    plan: Plan,
    connection: Connection,
    book: ResultBook,
    settings: RunSettings | None = None,
    on_result: Callable[[RowResult], None] | None = None,
) -> RunReport:
    """Send the plan's updates and record each result in `book` as soon as it is known.
    KeyboardInterrupt propagates after every row has been given a result."""
    run_settings = settings or RunSettings()
    segments = {update.index: update.segments for update in plan.updates}

    def record(result: RowResult) -> None:
        result = replace(result, segments=segments.get(result.index))
        book.record(result)
        if on_result is not None:
            on_result(result)

    async def main() -> RunReport:
        client = CloseClient(
            connection.credentials,
            base_url=connection.base_url,
            timeout=connection.timeout,
            max_connections=run_settings.concurrency,
            transport=connection.transport,
        )
        async with client:
            return await send_updates(client, plan.updates, record, run_settings)

    return asyncio.run(main())


def settle_unknown(plan: Plan, book: ResultBook) -> None:
    """Give a result to rows left without one by a hard stop (a second Ctrl-C): their request
    may or may not have gone out, and the message says so rather than guess."""
    missing = set(book.missing())
    for update in plan.updates:
        if update.index in missing:
            message = "the run was stopped before this row's outcome was known"
            message += f"; {MAY_HAVE_BEEN_SENT}" if update.sends else "; rerunning it is safe"
            book.record(RowResult(update.index, Outcome.FAILED, error_message=message))
