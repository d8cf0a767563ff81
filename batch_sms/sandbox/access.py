"""Who may call the sandbox, and how often: credentials, and Close's rate-limit windows with
the answers that turn a request away (401, 429) or stand for a failure on purpose (502, 503)."""

from __future__ import annotations

import base64
import hmac
import math
from dataclasses import dataclass, replace

from batch_sms.sandbox.config import Fault, SandboxOptions
from batch_sms.sandbox.messages import Reply, encode

UNLIMITED = 1_000_000  # the limit reported when rate limiting is off


@dataclass(frozen=True)
class Quota:
    limit: int
    remaining: int
    reset: float  # seconds until the window resets
    window: float
    allowed: bool

    def headers(self) -> tuple[tuple[str, str], ...]:
        value = f"limit={self.limit}, remaining={self.remaining}, reset={_seconds(self.reset)}"
        return (("RateLimit", value),)


class RateLimiter:
    """Fixed windows per (credential, endpoint group); not thread-safe, the caller locks."""

    def __init__(self, limit: int | None, window: float) -> None:
        self._limit = UNLIMITED if limit is None else limit
        self._window = window
        self._windows: dict[tuple[str | None, str], tuple[float, int]] = {}

    def hit(self, key: tuple[str | None, str], now: float) -> Quota:
        start, count = self._windows.get(key, (now, 0))
        if now - start >= self._window:
            start, count = now, 0
        self._windows[key] = (start, count + 1)
        remaining = max(self._limit - count - 1, 0)
        reset = max(start + self._window - now, 0.0)
        return Quota(self._limit, remaining, reset, self._window, count < self._limit)


def _seconds(value: float) -> str:
    return f"{round(value, 3):g}"


def credential(header: str, config: SandboxOptions) -> str | None:
    """The name of the credential an Authorization header carries, None when it is wrong."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return "oauth_token" if _same(value.strip(), config.oauth_token) else None
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except ValueError:
        return None
    return "api_key" if _same(decoded, f"{config.api_key}:") else None


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def unauthorized(quota: Quota) -> Reply:
    challenge = ("WWW-Authenticate", 'Basic realm="Close API", Bearer realm="Close API"')
    body = encode({"error": "Unauthorized: invalid or missing API key or OAuth token."})
    return Reply(401, body, (*quota.headers(), challenge))


def too_many(quota: Quota) -> Reply:
    quota = replace(quota, remaining=0)
    error = {
        "message": "API call count exceeded for this period",
        "rate_reset": round(quota.reset, 3),
        "rate_limit": quota.limit,
        "rate_window": quota.window,
    }
    retry_after = ("Retry-After", str(max(1, math.ceil(quota.reset))))
    return Reply(429, encode({"error": error}), (*quota.headers(), retry_after))


HTML_PAGE = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Wi-Fi</body></html>"


def refusal(fault: Fault, quota: Quota) -> Reply:
    if fault is Fault.HTML_PAGE:
        return Reply(200, HTML_PAGE, (("Content-Type", "text/html; charset=utf-8"),))
    if fault is Fault.RATE_LIMITED:
        return too_many(quota)
    if fault is Fault.UNAVAILABLE:
        return Reply(503, encode({"error": "Service temporarily unavailable."}), quota.headers())
    return Reply(502, encode({"error": "Bad gateway."}), quota.headers())


def with_fault(reply: Reply, fault: Fault | None, slow_ms: float) -> Reply:
    """The answer as a fault changes it after the update was applied."""
    if fault is Fault.DROP_AFTER_APPLY:
        return replace(reply, status=None, body=b"")
    if fault is Fault.SLOW:
        return replace(reply, delay=slow_ms / 1000)
    return reply
