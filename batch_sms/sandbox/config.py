"""How a sandbox is set up: its credentials, limits and faults, and the ids it stands for."""

from __future__ import annotations

import enum
from dataclasses import dataclass

# An id containing this word is unknown to the sandbox (404) however it is set up, so that a
# file can show what happens to an SMS that Close does not have.
MISSING_MARK = "missing"


def stands_for_missing(activity_id: str) -> bool:
    """True for an id that the sandbox never knows: it contains MISSING_MARK, in any case."""
    return MISSING_MARK in activity_id.lower()


class Fault(enum.Enum):
    """A misbehaviour to inject; see `SandboxModel.inject`."""

    UNAVAILABLE = "unavailable"  # 503 {"error": ...}, no Retry-After, nothing applied
    BAD_GATEWAY = "bad_gateway"  # 502, nothing applied
    RATE_LIMITED = "rate_limited"  # 429 with RateLimit + Retry-After, nothing applied
    DROP_AFTER_APPLY = "drop_after_apply"  # apply, then close the connection without answering
    SLOW = "slow"  # apply, then wait config.slow_ms before answering
    SEND_ERROR = "send_error"  # apply; the send then ends in status error (the carrier refused)
    HTML_PAGE = "html_page"  # 200 with a web page, as a captive portal or a wrong URL gives


REFUSALS = (Fault.UNAVAILABLE, Fault.BAD_GATEWAY, Fault.RATE_LIMITED, Fault.HTML_PAGE)


@dataclass(frozen=True)
class SandboxOptions:
    api_key: str = "sandbox_api_key"  # HTTP Basic: the key as user name, empty password
    oauth_token: str = "sandbox_oauth_token"  # Authorization: Bearer <token>
    rate_limit: int | None = None  # per window, endpoint group and credential; None: unlimited
    rate_window: float = 1.0  # seconds
    latency_ms: float = 0.0  # added to every answer
    # Close-like answer times: each one drawn log-normally with mean latency_ms and this shape
    # (sigma); 0 keeps every answer at exactly latency_ms.
    latency_spread: float = 0.0
    # (seconds after the first request, latency_ms from then on), in order: Close slowing
    # down at a busy hour, and recovering.
    latency_steps: tuple[tuple[float, float], ...] = ()
    rate_limit_headers: bool = True  # False: no RateLimit header at all, 429s still come
    fail_rate: float = 0.0  # share of requests answered 503 before anything is applied
    drop_rate: float = 0.0  # share of PUTs applied, then dropped without an answer
    slow_rate: float = 0.0  # share of answers delayed by slow_ms
    slow_ms: float = 0.0
    seed: int | None = None  # for the random faults above
    org_phones: tuple[str, ...] = ("+14155550100", "+14155550101", "+442071838750")
    keep_log: bool = True
    # Every id that does not stand for a missing one exists as a draft, without seeding: a
    # run of a million rows needs no million-id set-up, and untouched ids cost no memory.
    any_id: bool = False
    fault: Fault | None = None  # every request gets this fault (`batch-sms sandbox --fault`)
    # The deepest `_skip` the list endpoint accepts; past it, 400, as Close caps it per resource
    # and asks for date_created ranges instead. None: no cap.
    max_skip: int | None = 10_000
    max_limit: int = 100  # the biggest `_limit` the list endpoint accepts

    def __post_init__(self) -> None:
        rates = (self.fail_rate, self.drop_rate, self.slow_rate)
        if not all(0.0 <= rate <= 1.0 for rate in rates):
            raise ValueError("fail_rate, drop_rate and slow_rate must be between 0 and 1")
        if self.rate_limit is not None and self.rate_limit < 1:
            raise ValueError("rate_limit must be at least 1, or None for no limit")
        if self.rate_window <= 0 or self.latency_ms < 0 or self.slow_ms < 0:
            raise ValueError("rate_window must be positive, latency_ms and slow_ms not negative")
        steps = [after for after, _ in self.latency_steps]
        if self.latency_spread < 0 or steps != sorted(steps):
            raise ValueError("latency_spread must not be negative, latency_steps in time order")
        if any(after < 0 or ms < 0 for after, ms in self.latency_steps):
            raise ValueError("latency_steps take seconds and milliseconds, neither negative")
        if not self.org_phones:
            raise ValueError("org_phones needs at least one number to send from")
        if (self.max_skip is not None and self.max_skip < 0) or self.max_limit < 1:
            raise ValueError("max_skip must not be negative, max_limit must be at least 1")
