"""Requests paced and retried the one way every part of batch-sms does it.

A read (GET) is safe to repeat: it waits its turn with the pacer, and is tried again after a
429, a 502, 503 or 504, or a network error. What a refusal tells the pacer (slow down, pause
everyone for a 429) and how long to wait before a retry are shared with the sender's PUTs.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from batch_sms.close.client import MAX_SERVER_WAIT, CloseAPIError, RateLimit
from batch_sms.close.pacing import Pacer, Ticket

RETRY_STATUSES = frozenset({429, 502, 503, 504})
CONGESTION_STATUSES = frozenset({429, 503})
CREDENTIAL_STATUSES = frozenset({401, 403})

T = TypeVar("T")
Sleep = Callable[[float], Coroutine[Any, Any, None]]


class WaitTooLong(Exception):
    """The server asked for a longer wait than this tool waits: stop in order, try later."""

    def __init__(self, error: CloseAPIError, most: float) -> None:
        wait = error.retry_after or 0.0
        super().__init__(
            f"Close answered {error.status_code} and asked to wait {wait:,.0f} s before the "
            f"next request, longer than the {most:,g} s this tool waits; try the rows not "
            "updated again later"
        )
        self.error = error


def note_refusal(
    pacer: Pacer, ticket: Ticket, error: CloseAPIError, most: float = MAX_SERVER_WAIT
) -> None:
    """Tell the pacer what an error answer means for the requests to come. Raises WaitTooLong,
    pausing nothing, when the answer asks for a wait longer than `most` seconds."""
    pacer.observe(error.rate_limit, ticket)
    if error.status_code in CONGESTION_STATUSES:
        pacer.congested(ticket if error.status_code == 429 else None)
    if error.retry_after is not None and error.retry_after > most:
        raise WaitTooLong(error, most) from error
    if error.status_code == 429:
        # Every worker waits out one 429 together; the request's own retry then waits its turn.
        # A RateLimit header's reset counts from when Close had the request, Retry-After
        # from the answer (see client.server_wait).
        counted_from = ticket if error.rate_limit is not None else None
        wait = error.retry_after if error.retry_after is not None else 1.0
        pacer.pause(wait, counted_from)


def note_success(pacer: Pacer, ticket: Ticket, rate_limit: RateLimit | None) -> None:
    """Tell the pacer of a successful answer (its answer time, its RateLimit header)."""
    pacer.observe(rate_limit, ticket)


class RetryWait:
    """How long to wait before a retry (a tenacity `wait`): nothing after a 429, whose wait is
    the pacer's shared pause; the wait the server names, with a little jitter; else an
    exponential backoff from `first` up to `most` seconds, with jitter."""

    def __init__(self, first: float, most: float) -> None:
        self.most = most
        self.backoff = wait_exponential_jitter(multiplier=first, max=most, jitter=first)

    def __call__(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, CloseAPIError) and error.status_code == 429:
            return 0.0
        hint = getattr(error, "retry_after", None)
        if hint is not None:
            hint = min(float(hint), self.most)
            return hint + random.uniform(0, min(1.0, 0.1 * hint + 0.01))
        return self.backoff(state)


def read_may_repeat(error: BaseException) -> bool:
    if isinstance(error, CloseAPIError):
        return error.status_code in RETRY_STATUSES
    return isinstance(error, httpx.TransportError)


async def paced_read(
    pacer: Pacer,
    group: str,
    read: Callable[[], Awaitable[T]],
    *,
    max_retries: int,
    wait: RetryWait,
    sleep: Sleep | None = None,
    most_wait: float = MAX_SERVER_WAIT,
    should_stop: Callable[[], bool] = lambda: False,
) -> T:
    """`read()` in its turn for endpoint `group`, retried up to `max_retries` times after a
    429, a 502-504 or a network error. An answer with a `rate_limit` (a Reply, a ListPage)
    feeds the pacer. Raises the last error when the retries are spent, at once when
    `should_stop()` says so, and WaitTooLong when the server asks for more than `most_wait`."""

    async def attempt() -> T:
        async with pacer.turn(group=group) as ticket:
            try:
                answer = await read()
            except CloseAPIError as error:
                note_refusal(pacer, ticket, error, most_wait)
                raise
            note_success(pacer, ticket, getattr(answer, "rate_limit", None))
        return answer

    options: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
    retrying = AsyncRetrying(
        stop=stop_after_attempt(max_retries + 1),
        wait=wait,
        retry=retry_if_exception(lambda error: not should_stop() and read_may_repeat(error)),
        reraise=True,
        **options,
    )
    return await retrying(attempt)
