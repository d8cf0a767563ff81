"""Sending the updates: concurrency, retries and when a row must not be repeated.

The one rule that matters most: a row that sends an SMS (status outbox or scheduled) is repeated
only when the failure proves Close never acted on it (no connection was made, or a 429 turned
it away). A timeout or a dropped connection after the request went out may hide a sent SMS.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from batch_sms.close import CloseAPIError, CloseClient, Reply
from batch_sms.pacing import Pacer
from batch_sms.results import Outcome, RowResult
from batch_sms.validation import Update

# Errors raised before a single byte of the request reached Close.
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
RETRY_STATUSES = frozenset({429, 502, 503, 504})
CREDENTIAL_STATUSES = frozenset({401, 403})
MAY_HAVE_BEEN_SENT = "the SMS may have been sent: check it in Close before you run this row again"


@dataclass(frozen=True)
class RunSettings:
    concurrency: int = 8
    max_retries: int = 5
    retry_wait: float = 0.5
    """First wait before retrying an error that names no wait; doubles each retry, plus jitter."""
    max_wait: float = 60.0


@dataclass(frozen=True)
class RunReport:
    aborted: str | None
    """Why the run stopped early (Close refused the credentials), or None."""


ResultSink = Callable[[RowResult], None]


class _NotStarted(Exception):
    """The run stopped before this row's first request."""


async def send_updates(
    client: CloseClient,
    updates: Iterable[Update],
    on_result: ResultSink,
    settings: RunSettings = RunSettings(),
    pacer: Pacer | None = None,
) -> RunReport:
    """Send every update, at most `settings.concurrency` at once, and report each row's
    result to `on_result` as it finishes. Every update gets exactly one result, also when the
    run is aborted or cancelled (Ctrl-C): rows never started are `not_attempted`."""
    run = _Run(client, iter(updates), on_result, settings, pacer or Pacer())
    return await run.execute()


class _Run:
    def __init__(
        self,
        client: CloseClient,
        pending: Iterator[Update],
        on_result: ResultSink,
        settings: RunSettings,
        pacer: Pacer,
    ) -> None:
        self.client = client
        self.pending = pending
        self.on_result = on_result
        self.settings = settings
        self.pacer = pacer
        self.in_flight: dict[int, Update] = {}
        self.aborted: str | None = None
        self.backoff = wait_exponential_jitter(
            multiplier=settings.retry_wait, max=settings.max_wait, jitter=settings.retry_wait
        )

    async def execute(self) -> RunReport:
        try:
            first = next(self.pending, None)
            if first is not None:
                self.pending = itertools.chain([first], self.pending)
                self.aborted = await check_access(self.client, first.activity_id, self.settings)
            if self.aborted is None:
                await self._run_workers()
        except asyncio.CancelledError:
            self._settle_interrupted()
            raise
        self._settle_not_started(f"not attempted: {self.aborted}")
        return RunReport(aborted=self.aborted)

    async def _run_workers(self) -> None:
        workers = [asyncio.create_task(self._work()) for _ in range(self.settings.concurrency)]
        try:
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()

    async def _work(self) -> None:
        # The iterator is shared: asyncio switches tasks only at an await, so next() is safe.
        while self.aborted is None:
            update = next(self.pending, None)
            if update is None:
                return
            self.in_flight[update.index] = update
            result = await self._send(update)
            del self.in_flight[update.index]
            self.on_result(result)

    async def _send(self, update: Update) -> RowResult:
        attempts = 0

        async def attempt() -> RowResult:
            nonlocal attempts
            await self.pacer.wait_turn()
            if self.aborted is not None:
                raise _NotStarted
            attempts += 1
            reply = await self._put(update)
            return RowResult.from_activity(
                update.index, reply.activity, reply.status_code, attempts
            )

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.settings.max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception(lambda error: self._should_retry(update, error)),
            reraise=True,
        )
        try:
            return await retrying(attempt)
        except _NotStarted:
            return _not_attempted(update.index, f"not attempted: {self.aborted}")
        except CloseAPIError as error:
            return self._api_failure(update, error, attempts)
        except httpx.TransportError as error:
            return _transport_failure(update, error, attempts)

    async def _put(self, update: Update) -> Reply:
        try:
            reply = await self.client.update_sms(update.activity_id, update.body)
        except CloseAPIError as error:
            self.pacer.observe(error.rate_limit)
            if error.status_code == 429:
                self.pacer.pause(error.retry_after if error.retry_after is not None else 1.0)
            raise
        self.pacer.observe(reply.rate_limit)
        return reply

    def _should_retry(self, update: Update, error: BaseException) -> bool:
        if self.aborted is not None:
            return False
        if isinstance(error, CloseAPIError):
            # A 429 is Close turning the request away before acting on it: safe to repeat.
            if error.status_code == 429:
                return True
            return error.status_code in RETRY_STATUSES and not update.sends
        if isinstance(error, NEVER_SENT):
            return True
        return isinstance(error, httpx.TransportError) and not update.sends

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        hint = getattr(error, "retry_after", None)
        if hint is not None:
            hint = min(float(hint), self.settings.max_wait)
            return hint + random.uniform(0, min(1.0, 0.1 * hint + 0.01))
        return self.backoff(state)

    def _api_failure(self, update: Update, error: CloseAPIError, attempts: int) -> RowResult:
        if error.status_code in CREDENTIAL_STATUSES and self.aborted is None:
            self.aborted = f"Close answered {error.status_code} to the credentials: {error.message}"
        return RowResult(
            index=update.index,
            outcome=Outcome.FAILED,
            error_message=_api_error_message(update, error, attempts),
            http_status=error.status_code,
            attempts=attempts,
        )

    def _settle_interrupted(self) -> None:
        for update in self.in_flight.values():
            message = "interrupted while the request was in flight"
            if update.sends:
                message += f"; {MAY_HAVE_BEEN_SENT}"
            self.on_result(
                RowResult(update.index, Outcome.FAILED, error_message=message, attempts=1)
            )
        self.in_flight.clear()
        self._settle_not_started("not attempted: the run was interrupted")

    def _settle_not_started(self, message: str) -> None:
        for update in self.pending:
            self.on_result(_not_attempted(update.index, message))


async def check_access(client: CloseClient, activity_id: str, settings: RunSettings) -> str | None:
    """Ask Close about one SMS of the run before sending anything, so that a wrong key or an
    unreachable Close stops the run at once instead of failing every row. Returns why Close
    cannot be used, or None: any answer but 401/403 proves that the key and address work."""
    retrying = AsyncRetrying(
        stop=stop_after_attempt(3),
        wait=wait_exponential_jitter(multiplier=settings.retry_wait, jitter=settings.retry_wait),
        retry=retry_if_exception_type(httpx.TransportError),
        reraise=True,
    )
    try:
        await retrying(client.list_sms, [activity_id], ["id"])
    except CloseAPIError as error:
        if error.status_code in CREDENTIAL_STATUSES:
            return f"Close answered {error.status_code} to the credentials: {error.message}"
    except httpx.TransportError as error:
        return f"could not reach Close at {client.base_url} ({describe_transport_error(error)})"
    return None


def _not_attempted(index: int, message: str) -> RowResult:
    return RowResult(index, Outcome.NOT_ATTEMPTED, error_message=message)


def _api_error_message(update: Update, error: CloseAPIError, attempts: int) -> str:
    status = error.status_code
    if status == 401:
        return f"Close refused the credentials (401): {error.message}; check the API key"
    if status == 403:
        return f"Close refused access (403): {error.message}"
    if status == 404:
        return (
            "Close has no SMS activity with this id, or this key cannot see it "
            f"(404): {error.message}"
        )
    if status == 400:
        return f"Close rejected the update (400): {error.message}"
    if status in RETRY_STATUSES and update.sends and status != 429:
        return (
            f"Close answered {status} ({error.message}); not retried because {MAY_HAVE_BEEN_SENT}"
        )
    if status in RETRY_STATUSES:
        return f"Close answered {status} ({error.message}) to all {attempts} attempts"
    return f"Close answered {status}: {error.message}"


def describe_transport_error(error: httpx.TransportError) -> str:
    """`ConnectError: [Errno 111] Connection refused`, or the bare name when httpx gives no
    message (its timeouts often do not)."""
    return f"{type(error).__name__}: {error}".rstrip(": ")


def _transport_failure(update: Update, error: httpx.TransportError, attempts: int) -> RowResult:
    detail = describe_transport_error(error)
    if isinstance(error, NEVER_SENT):
        message = f"could not reach Close ({detail}) in {attempts} attempts"
    elif update.sends:
        message = (
            f"no answer from Close after the request went out ({detail}); {MAY_HAVE_BEEN_SENT}"
        )
    else:
        message = f"no answer from Close ({detail}) in {attempts} attempts"
    return RowResult(update.index, Outcome.FAILED, error_message=message, attempts=attempts)
