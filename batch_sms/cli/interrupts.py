"""Ctrl-C during a send: once stops the run in order, twice (or when the grace runs out) at
once. The command line owns signals; the library only offers `Campaign.stop()`.

`signal.signal` works on Windows as on POSIX for SIGINT, and asyncio's loops wake for it on
both (the proactor loop of Windows sets a wakeup fd too), so no POSIX-only call is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import click

from batch_sms.errors import RunInterrupted
from batch_sms.job.campaign import Campaign
from batch_sms.job.ledger import ledger_path

T = TypeVar("T")


def run_until_done(campaign: Campaign, work: Coroutine[Any, Any, T], grace: float) -> T:
    """Run `work` (the campaign's send) to its end. Raises RunInterrupted when stopped at
    once."""
    loop = asyncio.new_event_loop()
    task = loop.create_task(work)
    timers: list[asyncio.TimerHandle] = []

    def interrupted() -> None:
        if campaign.stopping:
            task.cancel()
            return
        campaign.stop()
        click.echo(
            "\nStopping: no new requests; waiting for those in flight "
            "(Ctrl-C again to stop at once).",
            err=True,
        )
        timers.append(loop.call_later(grace, task.cancel))

    previous = _on_sigint(lambda: loop.call_soon_threadsafe(interrupted))
    try:
        return loop.run_until_complete(task)
    except (asyncio.CancelledError, KeyboardInterrupt):
        raise RunInterrupted(ledger_path(campaign.results_path)) from None
    finally:
        for timer in timers:
            timer.cancel()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        _cancel_rest(loop)
        loop.close()


@contextlib.contextmanager
def plain_ctrl_c() -> Iterator[None]:
    """Ctrl-C as a KeyboardInterrupt for a while, like a question to the user in the middle
    of a run: the run's own handler would only schedule a stop the question never sees."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _on_sigint(handler: Any) -> Any:
    """Route SIGINT to `handler`; returns the handler it replaced (None off the main thread,
    where signals cannot be caught and Ctrl-C stays a KeyboardInterrupt)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGINT, lambda signum, frame: handler())


def _cancel_rest(loop: asyncio.AbstractEventLoop) -> None:
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
