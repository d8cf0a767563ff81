"""The Python API: a whole campaign from a script or a notebook, without a terminal.

    import batch_sms

    summary = batch_sms.run_file("campaign.csv", api_key="api_...", approve=lambda plan: True)
    summary.counts["updated"], summary.results_path

    summary = await batch_sms.arun_file("campaign.csv", sandbox=True)   # in a running loop

    options = RunOptions(canary=CanaryOptions(rows=20))    # 20 SMS first, then decide
    summary = batch_sms.run_file("campaign.csv", api_key=..., options=options,
                                 approve_canary=lambda report: report.confirmed)
    summary = batch_sms.undo_file("campaign.results.csv", api_key=...)  # put it back

`arun_file` does the work; `run_file` is its synchronous face, and works inside a running
event loop too (a notebook cell) by running the campaign in a thread of its own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

from batch_sms.close.client import DEFAULT_BASE_URL, Credentials
from batch_sms.errors import RunRefused
from batch_sms.job import canary
from batch_sms.job.campaign import Campaign, RunOptions, RunSummary
from batch_sms.job.canary import ApproveCanary
from batch_sms.job.plan import Plan
from batch_sms.job.stream import Connection
from batch_sms.job.undo import Undo
from batch_sms.models import RowResult
from batch_sms.sandbox import demo_sandbox

Approve = Callable[[Plan], bool]


async def arun_file(
    input_path: Path | str,
    *,
    api_key: str | None = None,
    oauth_token: str | None = None,
    base_url: str = DEFAULT_BASE_URL,
    timeout: float = 30.0,
    sandbox: bool = False,
    options: RunOptions | None = None,
    approve: Approve | None = None,
    on_result: Callable[[RowResult], None] | None = None,
    approve_canary: ApproveCanary = canary.approve_if_confirmed,
) -> RunSummary:
    """Run the campaign in `input_path`: check every row, then, if `approve(plan)` says yes
    (the default approves), send the valid rows and write the results file. With
    `options.dry_run`, or when `approve` declines, nothing is sent and the results are
    written as planned. With `options.canary`, `approve_canary(report)` decides whether the
    rest follows the canary (by default: if every canary SMS is confirmed). `sandbox=True`
    runs against a stand-in for Close started for this run. Raises a `BatchSmsError` for
    unusable input or options."""
    options = options or RunOptions()
    with Campaign(input_path, options) as campaign:
        plan = campaign.plan()
        if options.dry_run:
            return campaign.dry_run()
        campaign.refuse_excess(plan)
        if approve is not None and plan.sends and not approve(plan):
            raise RunRefused("the plan was not approved: nothing was sent.")
        async with _target(api_key, oauth_token, base_url, timeout, sandbox) as connection:
            return await campaign.send(connection, on_result, approve_canary)


async def arun_undo(
    results_path: Path | str,
    *,
    api_key: str | None = None,
    oauth_token: str | None = None,
    base_url: str = DEFAULT_BASE_URL,
    timeout: float = 30.0,
    options: RunOptions | None = None,
    on_result: Callable[[RowResult], None] | None = None,
) -> RunSummary:
    """Undo the run whose results are `results_path`: put back what it changed where Close
    still allows it (see `batch_sms.job.undo`). With `options.dry_run` nothing is sent.
    Raises a `BatchSmsError` for unusable input or options."""
    with Undo(results_path, options) as undo:
        assert undo.campaign is not None
        if undo.options.dry_run:
            return undo.campaign.dry_run()
        async with _target(api_key, oauth_token, base_url, timeout, False) as connection:
            return await undo.campaign.send(connection, on_result)


def undo_file(results_path: Path | str, **keywords: object) -> RunSummary:
    """`arun_undo`, for code that is not async. Takes the same arguments."""
    return _run_sync(arun_undo(results_path, **keywords))  # type: ignore[arg-type]


def run_file(input_path: Path | str, **keywords: object) -> RunSummary:
    """`arun_file`, for code that is not async. Takes the same arguments."""
    return _run_sync(arun_file(input_path, **keywords))  # type: ignore[arg-type]


def _run_sync(work: Coroutine[Any, Any, RunSummary]) -> RunSummary:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work)
    # A loop runs in this thread already (a notebook): asyncio.run would refuse.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work).result()


@contextlib.asynccontextmanager
async def _target(
    api_key: str | None, oauth_token: str | None, base_url: str, timeout: float, sandbox: bool
) -> AsyncIterator[Connection]:
    if sandbox:
        with demo_sandbox() as server:
            credentials = Credentials(api_key=server.config.api_key)
            yield Connection(credentials, server.base_url, timeout)
        return
    yield Connection(Credentials(api_key=api_key, oauth_token=oauth_token), base_url, timeout)
