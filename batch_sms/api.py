"""The Python API: a whole campaign from a script or a notebook, without a terminal.

    import batch_sms

    summary = batch_sms.run_file("campaign.csv", api_key="api_...", approve=lambda plan: True)
    summary.counts["updated"], summary.results_path

    summary = await batch_sms.arun_file("campaign.csv", sandbox=True)   # in a running loop

`arun_file` does the work; `run_file` is its synchronous face, and works inside a running
event loop too (a notebook cell) by running the campaign in a thread of its own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from batch_sms.close.client import DEFAULT_BASE_URL, Credentials
from batch_sms.errors import RunRefused
from batch_sms.job.campaign import Campaign, RunOptions, RunSummary
from batch_sms.job.plan import Plan
from batch_sms.job.stream import Connection
from batch_sms.models import RowResult
from batch_sms.sandbox import Sandbox, SandboxConfig

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
) -> RunSummary:
    """Run the campaign in `input_path`: check every row, then, if `approve(plan)` says yes
    (the default approves), send the valid rows and write the results file. With
    `options.dry_run`, or when `approve` declines, nothing is sent and the results are
    written as planned. `sandbox=True` runs against a stand-in for Close started for this
    run. Raises a `BatchSmsError` for unusable input or options."""
    options = options or RunOptions()
    with Campaign(input_path, options) as campaign:
        plan = campaign.plan()
        if options.dry_run:
            return campaign.dry_run()
        campaign.refuse_excess(plan)
        if approve is not None and plan.sends and not approve(plan):
            raise RunRefused("the plan was not approved: nothing was sent.")
        async with _target(api_key, oauth_token, base_url, timeout, sandbox) as connection:
            return await campaign.send(connection, on_result)


def run_file(input_path: Path | str, **keywords: object) -> RunSummary:
    """`arun_file`, for code that is not async. Takes the same arguments."""
    work = arun_file(input_path, **keywords)  # type: ignore[arg-type]
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
        with Sandbox(SandboxConfig(any_id=True)) as server:
            credentials = Credentials(api_key=server.config.api_key)
            yield Connection(credentials, server.base_url, timeout)
        return
    yield Connection(Credentials(api_key=api_key, oauth_token=oauth_token), base_url, timeout)
