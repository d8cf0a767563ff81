"""A row's result from Close's answer, or from the error that took its place: the words, and
the evidence that decisions read."""

from __future__ import annotations

from dataclasses import replace

import httpx

from batch_sms.close.client import BadAnswer, CloseAPIError, Reply
from batch_sms.close.describe import describe_error, describe_transport_error
from batch_sms.close.paced import RETRY_STATUSES
from batch_sms.close.readback import differing_fields, unconfirmed
from batch_sms.models import Evidence, Outcome, RowResult, Update

# Errors raised before a single byte of the request reached Close.
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class Unconfirmed(BadAnswer):
    """Close answered an update with success, but shows another status or date_scheduled than
    the row asked for: the answer does not confirm the update."""

    def __init__(self, reply: Reply, shows: str) -> None:
        super().__init__(shows, f"Close answered {reply.status_code}", reply.status_code)
        self.reply = reply


def outcome_unknown(error: Exception) -> bool:
    """Close may have acted on the request: it went out and no clear answer came back. Only a
    4xx (429 included) is a refusal; a 500 may come after the update was applied, and a status
    Close does not use says nothing."""
    if isinstance(error, BadAnswer):
        return True
    if isinstance(error, CloseAPIError):
        return not 400 <= error.status_code < 500
    return not isinstance(error, NEVER_SENT)


def not_attempted(index: int, message: str) -> RowResult:
    return RowResult(index, Outcome.NOT_ATTEMPTED, error_message=message)


def failed(
    update: Update, message: str, attempts: int, evidence: Evidence = Evidence.NONE
) -> RowResult:
    return RowResult(
        update.index, Outcome.FAILED, error_message=message, attempts=attempts, evidence=evidence
    )


def halted_between_attempts(update: Update, reason: str, attempts: int) -> RowResult:
    """Stopped while waiting to retry: the earlier attempts did not go through (or a read-back
    showed the SMS still a draft), so the row is safe to run again."""
    return failed(update, f"stopped before a retry: {reason}; rerunning it is safe", attempts)


def unclear_answer(error: Exception) -> str:
    """How the answer to a send left its outcome unknown, to lead a read-back's message."""
    if isinstance(error, Unconfirmed):
        return f"Close answered the send ({error.status_code}) but {error.what}"
    if isinstance(error, BadAnswer):
        return f"no valid answer to the send ({error})"
    return f"no answer to the send ({describe_error(error)})"


def confirmed(update: Update, reply: Reply, attempts: int) -> RowResult:
    """The row's result from Close's answer to its update: `updated` only when the answer shows
    the status and date_scheduled asked for (raises Unconfirmed otherwise), with a note naming
    any other field that Close shows otherwise."""
    shows = unconfirmed(update, reply.activity)
    if shows is not None:
        raise Unconfirmed(reply, shows)
    result = RowResult.from_activity(update.index, reply.activity, reply.status_code, attempts)
    fields = differing_fields(update, reply.activity)
    if not fields:
        return result
    note = f"updated, but Close's answer shows another value than the row for: {', '.join(fields)}"
    return replace(result, error_message=note)


def bad_answer_failure(
    update: Update, error: BadAnswer, attempts: int, read_back: bool
) -> RowResult:
    checked = f" in {attempts} attempts; read back each time: still a draft, nothing sent"
    suffix = checked if read_back else ""
    if isinstance(error, Unconfirmed):
        shown = RowResult.from_activity(update.index, error.reply.activity, None, attempts)
        message = f"Close answered {error.status_code} but {error.what}: not updated{suffix}"
        return replace(
            shown,
            outcome=Outcome.FAILED,
            error_message=message,
            http_status=error.status_code,
            evidence=Evidence.READ_BACK if read_back else Evidence.ANSWER,
        )
    return RowResult(
        update.index,
        Outcome.FAILED,
        error_message=f"not a valid answer from Close: {error}{suffix}",
        http_status=error.status_code,
        attempts=attempts,
        evidence=Evidence.READ_BACK if read_back else Evidence.NONE,
    )


def api_error_message(update: Update, error: CloseAPIError, attempts: int) -> str:
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
    if status == 429:
        return f"Close turned the request away (429) {attempts} times: {error.message}"
    if status in RETRY_STATUSES:
        return f"Close answered {status} ({error.message}) to all {attempts} attempts"
    return f"Close answered {status}: {error.message}"


def transport_failure(
    update: Update, error: httpx.TransportError, attempts: int, read_back: bool
) -> RowResult:
    detail = describe_transport_error(error)
    if isinstance(error, NEVER_SENT):
        message = f"could not reach Close ({detail}) in {attempts} attempts"
    elif read_back:
        message = (
            f"no answer from Close ({detail}) in {attempts} attempts; read back each time: "
            "still a draft, nothing sent"
        )
    else:
        message = f"no answer from Close ({detail}) in {attempts} attempts"
    evidence = Evidence.READ_BACK if read_back else Evidence.NONE
    return failed(update, message, attempts, evidence)
