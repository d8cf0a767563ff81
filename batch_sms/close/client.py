"""The Close API client: one request at a time, one answer or one error. Retries and pacing are
the runner's job, so that every decision to repeat a request is made in one place."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

DEFAULT_BASE_URL = "https://api.close.com/api/v1/"
USER_AGENT = "batch-sms"


@dataclass(frozen=True)
class Credentials:
    """An API key (HTTP Basic, key as user name) or an OAuth token (Bearer). The secret never
    appears in repr, so it cannot leak into a log or a traceback."""

    api_key: str | None = None
    oauth_token: str | None = None

    def __post_init__(self) -> None:
        if bool(self.api_key) == bool(self.oauth_token):
            raise ValueError("give exactly one of api_key and oauth_token")

    def __repr__(self) -> str:
        kind = "api_key" if self.api_key else "oauth_token"
        return f"Credentials({kind}=***)"

    def auth(self) -> httpx.Auth:
        if self.api_key:
            return httpx.BasicAuth(self.api_key, "")
        return _BearerAuth(self.oauth_token or "")


class _BearerAuth(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request


@dataclass(frozen=True)
class RateLimit:
    """Close's `RateLimit: limit=100, remaining=50, reset=5` header."""

    limit: int
    remaining: int
    reset: float


_RATE_LIMIT_PART = re.compile(r"\s*(limit|remaining|reset)\s*=\s*([0-9]+(?:\.[0-9]+)?)\s*$")


def parse_rate_limit(header: str | None) -> RateLimit | None:
    """Parse the RateLimit header; commas and semicolons both separate its parts. A malformed
    header is ignored (None) rather than trusted in part."""
    if not header:
        return None
    values: dict[str, float] = {}
    for part in re.split(r"[,;]", header):
        match = _RATE_LIMIT_PART.match(part)
        if match is None:
            return None
        values[match.group(1)] = float(match.group(2))
    if values.keys() != {"limit", "remaining", "reset"}:
        return None
    return RateLimit(int(values["limit"]), int(values["remaining"]), values["reset"])


def parse_retry_after(header: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not header:
        return None
    header = header.strip()
    seconds: float | None
    try:
        seconds = float(header)
    except ValueError:
        seconds = _seconds_until_http_date(header, now)
    if seconds is None or math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(seconds, 0.0)


def _seconds_until_http_date(header: str, now: float | None) -> float | None:
    try:
        moment = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return moment.timestamp() - (time.time() if now is None else now)


class CloseAPIError(Exception):
    """Close answered with an error status."""

    def __init__(
        self,
        status_code: int,
        message: str,
        retry_after: float | None,
        rate_limit: RateLimit | None,
    ) -> None:
        super().__init__(f"{status_code}: {message}")
        self.status_code = status_code
        self.message = message
        self.retry_after = retry_after
        self.rate_limit = rate_limit


@dataclass(frozen=True)
class Reply:
    """A successful answer: the activity as Close now has it, and the rate-limit state."""

    status_code: int
    activity: dict[str, Any]
    rate_limit: RateLimit | None


@dataclass(frozen=True)
class ListPage:
    """One page of a list: its SMS, whether more follow, and the rate-limit state."""

    data: list[dict[str, Any]]
    has_more: bool
    rate_limit: RateLimit | None


class UnexpectedAnswer(Exception):
    """A successful answer that is not what the endpoint gives: most likely the base URL is
    not Close's API (a web page, a proxy's error page)."""


def error_message(response: httpx.Response) -> str:
    """Close's error body flattened to one line: `field: message; other: message`."""
    try:
        body = response.json()
    except ValueError:
        body = None
    parts: list[str] = []
    if isinstance(body, dict):
        parts.extend(_flatten_errors(body))
    if not parts:
        reason = response.reason_phrase or "error"
        text = response.text.strip()[:200] if response.text else ""
        parts.append(f"{reason}: {text}" if text and not text.startswith("<") else reason)
    return "; ".join(parts)


def _flatten_errors(body: dict[str, Any]) -> list[str]:
    parts: list[str] = []
    error = body.get("error")
    if isinstance(error, str) and error:
        parts.append(error)
    elif isinstance(error, dict) and error.get("message"):
        parts.append(str(error["message"]))
    errors = body.get("errors")
    if isinstance(errors, list):
        parts.extend(str(item) for item in errors if item)
    field_errors = body.get("field-errors")
    if isinstance(field_errors, dict):
        parts.extend(f"{name}: {_as_text(message)}" for name, message in field_errors.items())
    return parts


def _as_text(message: Any) -> str:
    if isinstance(message, list):
        return " ".join(str(item) for item in message)
    return str(message)


def _legacy_rate_reset(response: httpx.Response) -> float | None:
    """The deprecated `{"error": {"rate_reset": N}}` body of a 429: the last resort."""
    try:
        error = response.json().get("error")
        return float(error["rate_reset"]) if isinstance(error, dict) else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def server_wait(response: httpx.Response, rate_limit: RateLimit | None) -> float | None:
    """How long the server asks us to wait before trying again, if it says so."""
    if response.status_code == 429 and rate_limit is not None:
        return rate_limit.reset
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if retry_after is not None:
        return retry_after
    if response.status_code == 429:
        return _legacy_rate_reset(response)
    return None


class CloseClient:
    """An async client for Close's SMS activity endpoints."""

    def __init__(
        self,
        credentials: Credentials,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 30.0,
        max_connections: int = 8,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url if base_url.endswith("/") else base_url + "/",
            auth=credentials.auth(),
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            transport=transport,
        )

    @property
    def base_url(self) -> str:
        return str(self._http.base_url)

    async def __aenter__(self) -> CloseClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def update_sms(self, activity_id: str, fields: dict[str, Any]) -> Reply:
        """PUT the changed fields of one SMS activity. Raises CloseAPIError for an error
        answer, and httpx.TransportError when no answer came."""
        response = await self._http.put(f"activity/sms/{activity_id}/", json=fields)
        return _reply(response)

    async def get_sms(self, activity_id: str) -> Reply:
        response = await self._http.get(f"activity/sms/{activity_id}/")
        return _reply(response)

    async def list_sms(self, activity_ids: list[str], fields: list[str]) -> list[dict[str, Any]]:
        """The SMS among `activity_ids` that Close knows (one page, up to 100 ids)."""
        params = {
            "id__in": ",".join(activity_ids),
            "_fields": ",".join(fields),
            "_limit": str(len(activity_ids)),
        }
        reply = _reply(await self._http.get("activity/sms/", params=params))
        data = reply.activity.get("data")
        return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []

    async def list_page(self, params: Mapping[str, str]) -> ListPage:
        """One page of `GET activity/sms/` with these query parameters (filters, `_fields`,
        `_limit`, `_skip`). Raises CloseAPIError for an error answer, UnexpectedAnswer for a
        successful one that is not a list page, httpx.TransportError when no answer came."""
        response = await self._http.get("activity/sms/", params=dict(params))
        reply = _reply(response)
        data, has_more = reply.activity.get("data"), reply.activity.get("has_more")
        if not isinstance(data, list) or not isinstance(has_more, bool):
            raise UnexpectedAnswer(_not_a_list(response))
        if not all(isinstance(item, dict) for item in data):
            raise UnexpectedAnswer(_not_a_list(response))
        return ListPage(data, has_more, reply.rate_limit)


def _not_a_list(response: httpx.Response) -> str:
    kind = response.headers.get("Content-Type", "no content type").split(";")[0]
    return (
        f"{response.request.url.copy_with(query=None)} answered {response.status_code} "
        f"({kind}) without a list of "
        'SMS in {"data": [...], "has_more": ...}: is the base URL Close\'s API?'
    )


def _reply(response: httpx.Response) -> Reply:
    rate_limit = parse_rate_limit(response.headers.get("RateLimit"))
    if response.is_success:
        try:
            activity = response.json()
        except ValueError:
            activity = {}
        return Reply(
            response.status_code, activity if isinstance(activity, dict) else {}, rate_limit
        )
    raise CloseAPIError(
        response.status_code,
        error_message(response),
        server_wait(response, rate_limit),
        rate_limit,
    )
