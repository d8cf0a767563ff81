"""Sending the updates: concurrency, retries, read-backs and when a row must not be repeated.

The one rule that matters most: a row that sends an SMS (status outbox or scheduled) is PUT
again only when Close cannot have acted on it: no connection was made, a 429 turned it away,
or reading the SMS back shows it still a draft. A timeout or a dropped connection after the
request went out may hide a sent SMS, and a guess is never enough.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
)

from batch_sms.close.access import WRONG_ADDRESS_STATUSES, probe_access
from batch_sms.close.client import (
    MAX_SERVER_WAIT,
    BadAnswer,
    CloseAPIError,
    CloseClient,
    CloseError,
    Reply,
)
from batch_sms.close.describe import (
    describe_error,
    describe_transport_error,
    not_close_api,
    wrong_address,
)
from batch_sms.close.paced import (
    CREDENTIAL_STATUSES,
    RETRY_STATUSES,
    RetryWait,
    WaitTooLong,
    note_refusal,
    note_success,
    paced_read,
)
from batch_sms.close.pacing import MAX_IN_FLIGHT, Halted, Pacer, RateCap, Ticket, sleep_unless
from batch_sms.close.readback import (
    READ_FIELDS,
    State,
    Verdict,
    judge,
)
from batch_sms.job import messages, outcomes
from batch_sms.job.recipients import RecipientBook, held_back, recipient_of, sheet_recipient
from batch_sms.models import Evidence, Outcome, RowResult, Update

# The list endpoint answers at most this many ids per request.
PREFLIGHT_BATCH = 100
# Batches whose states are read while the rows before them are sent: one read at a time, at
# 1 s an answer, would feed the workers at most 100 rows a second. They are passed on in input
# order all the same (recipients are claimed in input order).
PREFLIGHT_AHEAD = 8
# The reads of this many batches after the first are asked twice at once, and the first answer
# wins. Until the read-ahead is under way, the sends wait on each read in turn: the first
# batch's rows last one rate-limit window, and a second read slower than the first by a window
# stalls every send (375 ms in one run of 40 at 100/s and 1 s an answer in the sandbox). With
# answer times log-normal around 1 s (sigma 0.5), a stall comes in 1 run in 12 and costs about
# half a second; read twice, in 1 in 100. Reads are safe to repeat; this costs two.
READ_TWICE = 2
_T = TypeVar("_T")

# Close limits each endpoint group (path and method) on its own.
PUT_ONE, GET_ONE, LIST = "PUT activity/sms/{id}/", "GET activity/sms/{id}/", "GET activity/sms/"


@dataclass(frozen=True)
class SendOptions:
    concurrency: int = MAX_IN_FLIGHT
    """The most requests in flight: the pacer finds how many it needs, up to this."""
    max_retries: int = 5
    """Retries per row after a 5xx or a network error."""
    retry_wait: float = 0.5
    """First wait before retrying an error that names no wait; doubles each retry, plus jitter."""
    max_wait: float = 60.0
    max_rate_limited: int = 30
    """Retries per row after 429s: they say "later", not "wrong", so they have their own
    budget instead of spending the retries."""
    rate_cap: RateCap | None = None
    preflight: bool = True
    """Read every row's SMS before sending it, in batches; off, only uncertain rows are read."""
    max_server_wait: float = MAX_SERVER_WAIT
    """The longest wait a server may ask for (429, Retry-After); a longer one stops the run."""


@dataclass(frozen=True)
class RunReport:
    aborted: str | None
    """Why the run stopped early (Close refused the credentials), or None."""
    stopped: bool = False
    """The run was asked to stop (Ctrl-C): rows not started are `not_attempted`."""


ResultSink = Callable[[RowResult], None]
_Read = tuple[list[Update], "asyncio.Future[dict[int, Verdict | str]]"]
StartSink = Callable[[Update], None]
ClaimSink = Callable[[Update], None]
BeforeSink = Callable[[Update, dict[str, Any]], None]


class _NotStarted(Exception):
    """The run stopped before this row's first request."""


class _Settled(Exception):
    """Reading the SMS back settled the row; no more PUTs."""

    def __init__(self, result: RowResult) -> None:
        super().__init__(result.error_message)
        self.result = result


class _StillDraft(Exception):
    """The answer to a send was lost, and Close shows the SMS still a draft: safe to repeat."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


async def send_updates(
    client: CloseClient,
    updates: Iterable[Update] | AsyncIterable[Update],
    on_result: ResultSink,
    settings: SendOptions = SendOptions(),
    pacer: Pacer | None = None,
) -> RunReport:
    """Send every update, at most `settings.concurrency` at once, and report each row's
    result to `on_result` as it finishes. Every update gets exactly one result, also when the
    run stops early (Ctrl-C, refused credentials): rows never started are `not_attempted`."""
    run = Sender(client, on_result, settings, pacer)
    return await run.execute(updates)


class Sender:
    """One run's workers. `stop()` lets the requests in flight finish and starts no more.
    `on_start` hears of a row that sends just before its first PUT goes out, so that a journal
    can tell, after a crash, which sends may have happened. If the run is cancelled, rows in
    flight or queued get no result: the journal is the record of them.

    With `recipients`, a sending row to a number that an earlier row claimed is held back
    (see job/recipients.py); `on_claim` hears of each row that claims its number, before it
    is queued."""

    def __init__(
        self,
        client: CloseClient,
        on_result: ResultSink,
        settings: SendOptions = SendOptions(),
        pacer: Pacer | None = None,
        on_start: StartSink | None = None,
        on_before: BeforeSink | None = None,
        recipients: RecipientBook | None = None,
        on_claim: ClaimSink | None = None,
    ) -> None:
        self.client = client
        self.on_result = on_result
        self.on_start = on_start or (lambda update: None)
        self.on_before = on_before or (lambda update, activity: None)
        self.recipients = recipients
        self.on_claim = on_claim or (lambda update: None)
        self.halt = asyncio.Event()
        self.settings = settings
        self.pacer = pacer or Pacer(settings.concurrency, settings.rate_cap)
        self.queue: asyncio.Queue[Update | None] = asyncio.Queue(
            maxsize=PREFLIGHT_BATCH + 2 * settings.concurrency
        )
        self.aborted: str | None = None
        self.stopping = False
        self._wait = RetryWait(settings.retry_wait, settings.max_wait)
        self.first_read = True
        """No request has gone to Close yet: its answer shows whether it is Close at all."""
        self._batches = 0  # batches whose reads the feeder began

    def stop(self) -> None:
        self.stopping = True
        self.halt.set()

    def abort(self, reason: str) -> None:
        if self.aborted is None:
            self.aborted = reason
            self.halt.set()

    @property
    def halted(self) -> bool:
        return self.stopping or self.aborted is not None

    @property
    def halt_reason(self) -> str:
        return self.aborted or "the run was interrupted"

    async def execute(self, updates: Iterable[Update] | AsyncIterable[Update | None]) -> RunReport:
        feeder = asyncio.create_task(self._feed(_aiter(updates)))
        workers = [asyncio.create_task(self._work()) for _ in range(self.settings.concurrency)]
        try:
            await asyncio.gather(feeder, *workers)
        finally:
            for task in (feeder, *workers):
                task.cancel()
        return RunReport(aborted=self.aborted, stopped=self.stopping)

    async def _feed(self, updates: AsyncIterator[Update | None]) -> None:
        """Pass the updates to the workers, read back in batches first when needed; None in
        `updates` asks to pass on the rows held so far. Once the run halts, the rest are
        `not_attempted`, so that every row still gets its result."""
        batch: list[Update] = []
        reads: deque[_Read] = deque()
        if not self.settings.preflight:
            batch = await self._probe_with_first(updates)
        try:
            async for update in updates:
                if update is None:
                    await self._pass_on(reads, batch, ahead=0)
                    batch = []
                    continue
                if self.halted:
                    self._not_started(update)
                    continue
                batch.append(update)
                if len(batch) == PREFLIGHT_BATCH:
                    await self._pass_on(reads, batch, PREFLIGHT_AHEAD)
                    batch = []
            await self._pass_on(reads, batch, ahead=0)
        finally:
            for _, read in reads:
                read.cancel()
        for _ in range(self.settings.concurrency):
            await self.queue.put(None)

    async def _probe_with_first(self, updates: AsyncIterator[Update | None]) -> list[Update]:
        """Without a preflight, one read before the first PUT still stops a wrong key or an
        unreachable Close at once instead of failing every row. Returns the update it took."""
        async for first in updates:
            if first is not None:
                self.first_read = False
                async with self.pacer.turn(group=LIST):
                    refused = await probe_access(
                        self.client, first.activity_id, self.settings.retry_wait
                    )
                if refused is not None:
                    self.abort(refused)
                return [first]
        return []

    async def _pass_on(self, reads: deque[_Read], batch: list[Update], ahead: int) -> None:
        """Start reading `batch`, then pass on the batches read, in input order, until at most
        `ahead` are still being read."""
        if batch:
            reads.append((batch, self._read(batch)))
        while len(reads) > ahead:
            batch, read = reads.popleft()
            await self._hand_over(batch, await read)

    def _read(self, batch: list[Update]) -> asyncio.Future[dict[int, Verdict | str]]:
        """The states of a batch's rows, being read (twice for the batches READ_TWICE covers)."""
        self._batches += 1
        read = asyncio.ensure_future(self._states(batch))
        if 1 < self._batches <= 1 + READ_TWICE:
            again = asyncio.ensure_future(self._states(batch))
            read = asyncio.ensure_future(_first_of(read, again))
        return read

    async def _states(self, batch: list[Update]) -> dict[int, Verdict | str]:
        checked = [u for u in batch if self.settings.preflight or u.uncertain or self._unknown(u)]
        return await self._read_states(checked) if checked and not self.halted else {}

    async def _hand_over(self, batch: list[Update], verdicts: dict[int, Verdict | str]) -> None:
        for update in batch:
            if self.halted:
                self._not_started(update)
                continue
            verdict = verdicts.get(update.index)
            activity = verdict.activity if isinstance(verdict, Verdict) else None
            if recipient := recipient_of(update, activity):
                update = replace(update, recipient=recipient)
            result = self._preflight_result(update, verdict)
            if result is None and activity is not None:
                # Close shows the SMS open to this update: whatever an earlier run did, it did
                # not send it.
                update = replace(update, uncertain=False)
            if result is None:
                result = self._held_back(update)
            elif result.outcome is Outcome.UPDATED:
                self._claim(update)  # sent before this run: the person has this message
            if result is not None:
                self._report(update, result)
                continue
            if activity is not None:
                self.on_before(update, activity)  # the state that an undo puts back
            await self.queue.put(update)

    def _unknown(self, update: Update) -> bool:
        """A sending row whose recipient only Close knows: read even without a preflight."""
        return self.recipients is not None and update.sends and sheet_recipient(update) is None

    def _held_back(self, update: Update) -> RowResult | None:
        """The row's result when an earlier row claimed its number, None to send it."""
        earlier = self._claim(update)
        return None if earlier is None else held_back(update, earlier, update.recipient)

    def _claim(self, update: Update) -> int | None:
        """Claim the row's number, in input order: the earlier row that has it, or None."""
        if self.recipients is None or not update.recipient:
            return None
        earlier = self.recipients.claim(update.recipient, update.number)
        if earlier is None:
            self.on_claim(update)
        return earlier

    def _preflight_result(self, update: Update, verdict: Verdict | str | None) -> RowResult | None:
        """The row's result when its current state in Close settles it, None to send it."""
        if isinstance(verdict, str):
            if not (update.sends or update.uncertain):
                return None
            return RowResult(
                update.index,
                Outcome.FAILED,
                error_message=f"not sent: could not read its state from Close first ({verdict})",
            )
        if verdict is None or verdict.state is State.OPEN:
            return None
        shown = RowResult.from_activity(update.index, verdict.activity, None, 0)
        if verdict.state is State.APPLIED:
            message = (
                verdict.note or f"already applied before this run: Close shows it {verdict.shown}"
            )
            return replace(shown, error_message=message, evidence=Evidence.BEFORE_RUN)
        message = verdict.note or f"not sent: Close shows it {verdict.shown}, no longer a draft"
        return replace(
            shown, outcome=Outcome.SKIPPED, error_message=message, evidence=Evidence.BEFORE_RUN
        )

    async def _read_states(self, batch: list[Update]) -> dict[int, Verdict | str]:
        """Each row's verdict, or why its SMS could not be read; rows that Close does not list
        get no entry, and their PUT will tell (404)."""
        first, self.first_read = self.first_read, False
        try:
            ids = [u.activity_id for u in batch]
            found = await self._paced_read(LIST, self.client.list_sms, ids)
        except WaitTooLong as error:
            self.abort(str(error))
            return {}
        except BadAnswer as error:
            if first:
                self.abort(not_close_api(self.client.base_url, error))
            return {u.index: f"not a valid answer from Close: {error}" for u in batch}
        except CloseAPIError as error:
            self._abort_on_credentials(error)
            if first and error.status_code in WRONG_ADDRESS_STATUSES:
                self.abort(wrong_address(self.client.base_url, error))
            return {u.index: f"Close answered {error.status_code}: {error.message}" for u in batch}
        except httpx.TransportError as error:
            # Close cannot be reached even for reads after retries: sending would be futile.
            detail = describe_transport_error(error)
            self.abort(f"could not reach Close at {self.client.base_url} ({detail})")
            return {}
        by_id = {str(item.get("id")): item for item in found}
        return {u.index: judge(u, by_id[u.activity_id]) for u in batch if u.activity_id in by_id}

    async def _paced_read(self, group: str, read: Callable[..., Any], *args: Any) -> Any:
        """A GET, safe to repeat: retried on 429, 5xx and network errors."""
        return await paced_read(
            self.pacer,
            group,
            lambda: read(*args, READ_FIELDS),
            max_retries=self.settings.max_retries,
            wait=self._wait,
            most_wait=self.settings.max_server_wait,
            should_stop=lambda: self.halted,
        )

    async def read_sms(self, activity_ids: list[str]) -> list[dict[str, Any]]:
        """The SMS as Close shows them now (at most PREFLIGHT_BATCH), paced and retried like
        the preflight's reads."""
        found: list[dict[str, Any]] = await self._paced_read(
            LIST, self.client.list_sms, activity_ids
        )
        return found

    async def _sleep(self, seconds: float) -> None:
        await sleep_unless(self.halt, seconds)

    async def _work(self) -> None:
        while (update := await self.queue.get()) is not None:
            if self.halted:
                self._not_started(update)
                continue
            self._report(update, await self._send(update))

    async def _send(self, update: Update) -> RowResult:
        attempts = 0

        async def attempt() -> RowResult:
            nonlocal attempts
            if self.halted:
                raise _NotStarted
            try:
                async with self.pacer.turn(self.halt, PUT_ONE) as ticket:
                    if attempts == 0 and update.sends:
                        self.on_start(update)
                    attempts += 1
                    reply = await self._put(update, ticket)
            except Halted:
                raise _NotStarted from None
            return outcomes.confirmed(update, reply, attempts)

        async def attempt_and_check() -> RowResult:
            try:
                return await attempt()
            except (CloseError, httpx.TransportError) as error:
                if not update.sends:
                    raise
                if outcomes.outcome_unknown(error):
                    await self._read_back(update, error, attempts)
                    raise _StillDraft(error) from error
                if attempts > 1 and getattr(error, "status_code", None) == 400:
                    # A slow earlier attempt may have landed after its read-back: Close then
                    # refuses the repeat (only drafts can change), and shows the send.
                    await self._read_back(update, error, attempts)
                raise

        counter = _Attempts(self.settings)
        retrying = AsyncRetrying(
            stop=counter.exhausted,
            wait=self._wait,
            retry=retry_if_exception(lambda error: self._should_retry(update, error)),
            before_sleep=counter.count,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return await retrying(attempt_and_check)
        except _NotStarted:
            if attempts:
                return outcomes.halted_between_attempts(update, self.halt_reason, attempts)
            return outcomes.not_attempted(update.index, f"not attempted: {self.halt_reason}")
        except _Settled as settled:
            return settled.result
        except _StillDraft as still_draft:
            return self._failure(update, still_draft.cause, attempts, read_back=True)
        except (CloseError, httpx.TransportError) as error:
            return self._failure(update, error, attempts, read_back=False)

    async def _put(self, update: Update, ticket: Ticket) -> Reply:
        try:
            if update.cancel_first:
                await self.client.update_sms(update.activity_id, {"status": "draft"})
            reply = await self.client.update_sms(update.activity_id, update.body)
        except CloseAPIError as error:
            try:
                note_refusal(self.pacer, ticket, error, self.settings.max_server_wait)
            except WaitTooLong as too_long:
                self.abort(str(too_long))
            raise
        note_success(self.pacer, ticket, reply.rate_limit)
        return reply

    async def _read_back(self, update: Update, error: Exception, attempts: int) -> None:
        """The answer to a send was lost. Returns when Close shows the SMS still a draft, so
        that the PUT may be repeated; raises _Settled otherwise."""
        lost = outcomes.unclear_answer(error)
        try:
            reply = await self._paced_read(GET_ONE, _get_one, self.client, update.activity_id)
        except (CloseError, httpx.TransportError, WaitTooLong) as read_error:
            if isinstance(read_error, WaitTooLong):
                self.abort(str(read_error))
                read_error = read_error.error
            message = (
                f"{lost}, and reading it back failed "
                f"({describe_error(read_error)}); {messages.MAY_HAVE_BEEN_SENT}"
            )
            unknown = outcomes.failed(update, message, attempts, Evidence.UNKNOWN)
            raise _Settled(unknown) from None
        verdict = judge(update, reply.activity)
        if verdict.state is State.APPLIED:
            result = RowResult.from_activity(update.index, reply.activity, 200, attempts)
            note = f"{lost}; read back: Close shows it {verdict.shown}"
            raise _Settled(replace(result, error_message=note, evidence=Evidence.READ_BACK))
        if verdict.state is State.CLOSED:
            message = f"{lost}; Close now shows it {verdict.shown}"
            raise _Settled(outcomes.failed(update, message, attempts, Evidence.READ_BACK))

    def _should_retry(self, update: Update, error: BaseException) -> bool:
        if self.halted:
            return False
        if isinstance(error, _StillDraft):
            return True
        if isinstance(error, CloseAPIError):
            return error.status_code in RETRY_STATUSES
        return isinstance(error, httpx.TransportError)

    def _abort_on_credentials(self, error: CloseAPIError) -> None:
        if error.status_code in CREDENTIAL_STATUSES:
            self.abort(f"Close answered {error.status_code} to the credentials: {error.message}")

    def _failure(
        self, update: Update, error: Exception, attempts: int, read_back: bool
    ) -> RowResult:
        if isinstance(error, BadAnswer):
            return outcomes.bad_answer_failure(update, error, attempts, read_back)
        if isinstance(error, CloseAPIError):
            self._abort_on_credentials(error)
            message = outcomes.api_error_message(update, error, attempts)
            if read_back:
                message += " (read back each time: still a draft, nothing sent)"
            return RowResult(
                update.index,
                Outcome.FAILED,
                error_message=message,
                http_status=error.status_code,
                attempts=attempts,
                evidence=Evidence.READ_BACK if read_back else Evidence.NONE,
            )
        assert isinstance(error, httpx.TransportError)
        return outcomes.transport_failure(update, error, attempts, read_back)

    def _not_started(self, update: Update) -> None:
        self._report(
            update, outcomes.not_attempted(update.index, f"not attempted: {self.halt_reason}")
        )

    def _report(self, update: Update, result: RowResult) -> None:
        if update.uncertain and result.evidence is Evidence.NONE:
            # Close was not read for this row, so what an earlier run may have sent stays
            # unknown, and the next run reads it back before sending it.
            result = replace(
                result,
                error_message=f"{result.error_message}; {messages.EARLIER_RUN_MAY_HAVE_SENT}",
                evidence=Evidence.UNKNOWN,
            )
        self.on_result(replace(result, segments=update.segments, recipient_e164=update.recipient))


class _Attempts:
    """Counts a row's attempts: 429s against their own budget, the rest against the retries."""

    def __init__(self, settings: SendOptions) -> None:
        self.settings = settings
        self.rate_limited = 0
        self.other = 0

    def count(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, CloseAPIError) and error.status_code == 429:
            self.rate_limited += 1
        else:
            self.other += 1

    def exhausted(self, state: RetryCallState) -> bool:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, CloseAPIError) and error.status_code == 429:
            return self.rate_limited >= self.settings.max_rate_limited
        return self.other >= self.settings.max_retries


async def _aiter(
    updates: Iterable[Update] | AsyncIterable[Update | None],
) -> AsyncIterator[Update | None]:
    if isinstance(updates, AsyncIterable):
        async for update in updates:
            yield update
    else:
        for update in updates:
            yield update


async def _get_one(client: CloseClient, activity_id: str, fields: tuple[str, ...]) -> Reply:
    return await client.get_sms(activity_id)


async def _first_of(*reads: asyncio.Future[_T]) -> _T:
    """The answer of whichever read ends first; the others are cancelled."""
    try:
        done, _ = await asyncio.wait(reads, return_when=asyncio.FIRST_COMPLETED)
        return next(iter(done)).result()
    finally:
        for read in reads:
            read.cancel()
