"""The Close API client: one request at a time, one answer or one error. Retries and pacing are
the runner's job, so that every decision to repeat a request is made in one place.

Nothing that comes back is trusted: an answer counts only when it is shaped as Close's (a JSON
object with the id asked for, or a `data` list), bodies are read up to a cap, every request has
a deadline for its whole answer, and a reply that cannot be parsed is a `BadAnswer`, never a
crash. Server text that ends up in a message is escaped and cut to a sane length.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import math
import re
import time
import zlib
from collections.abc import Callable, Generator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from batch_sms.close.pool import pooled_transport
from batch_sms.output.safe_text import MAX_MESSAGE, clip, for_terminal

DEFAULT_BASE_URL = "https://api.close.com/api/v1/"
USER_AGENT = "batch-sms"
# Called once a request is written whole, for whoever set it in the task sending it (the
# pacer: Close counts a request when it has it, which can be a good while after it was allowed
# to start when the event loop is busy with a burst of answers; headers and body are written
# in turns with other tasks, so the end of the body is the moment). Its argument says whether
# the request opened its connection: the server may take a while to accept a new one, so such
# a request can reach it after others that left later.
request_leaving: ContextVar[Callable[[bool], None] | None] = ContextVar(
    "request_leaving", default=None
)
_LEAVING = frozenset({"http11.send_request_body.complete", "http2.send_request_body.complete"})
_CONNECTING = "connection.connect_tcp.started"
# Close's answers are a few kB (a page of 100 SMS with a few fields); anything near this is
# not Close, and reading it whole would let a server fill the memory.
MAX_BODY_BYTES = 1_000_000
# No Close field is longer than an SMS text (1,000 characters): longer strings are cut, so
# that a server cannot fill a results cell or a message.
MAX_FIELD_CHARS = 2_000
# A wait that Close asks for (429's reset, Retry-After) is seconds; beyond this it is no rate
# limit but an outage or nonsense, and the runner stops instead of waiting.
MAX_SERVER_WAIT = 300.0
# How much of an unexpected body a message quotes.
SAMPLE_CHARS = 80
# Close's answers nest 3 deep (an activity, its attachments, each attachment). Anything much
# deeper is not Close, and str() or repr() of it could exhaust the stack later on.
MAX_JSON_DEPTH = 32


def check_base_url(url: str) -> str:
    """`url` if the API key may travel to it: https, or http to this machine only (loopback),
    and no user name or password inside. ValueError with a message for the user otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"'{shown_url(url)}' is not an http(s) URL, like {DEFAULT_BASE_URL}")
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            f"'{shown_url(url)}' holds a user name or password before the host: Close takes "
            "the key with --api-key (or --api-key-file), never in the URL"
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(
            f"'{shown_url(url)}' is plain http: the API key would travel unencrypted. Use "
            "https (http is accepted for this machine only: localhost, 127.0.0.1, ::1)"
        )
    return url


def is_loopback(host: str) -> bool:
    """True for names and addresses that never leave this machine."""
    host = host.lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def shown_url(url: str) -> str:
    """The URL as it may be printed: without any user name or password, escaped, cut."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return for_terminal(urlunsplit(parts._replace(netloc=netloc)), MAX_MESSAGE)


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


# Digits are capped: a 400-digit number is no rate limit, and int() of float("1" * 400) fails.
_RATE_LIMIT_PART = re.compile(r"\s*(limit|remaining|reset)\s*=\s*([0-9]{1,9}(?:\.[0-9]{1,9})?)\s*$")


def parse_rate_limit(header: str | None) -> RateLimit | None:
    """Parse the RateLimit header; commas and semicolons both separate its parts. A malformed
    header is ignored (None) rather than trusted in part, and so is one whose reset lies
    further ahead than MAX_SERVER_WAIT: no rate-limit window lasts that long."""
    if not header or len(header) > 200:
        return None
    values: dict[str, float] = {}
    for part in re.split(r"[,;]", header):
        match = _RATE_LIMIT_PART.match(part)
        if match is None:
            return None
        values[match.group(1)] = float(match.group(2))
    if values.keys() != {"limit", "remaining", "reset"} or values["reset"] > MAX_SERVER_WAIT:
        return None
    return RateLimit(int(values["limit"]), int(values["remaining"]), values["reset"])


def parse_retry_after(header: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not header or len(header) > 100:
        return None
    header = header.strip()
    seconds: float | None
    try:
        seconds = float(header)
    except ValueError:
        seconds = _seconds_until_http_date(header, now)
    return _finite_wait(seconds)


def _finite_wait(seconds: float | None) -> float | None:
    if seconds is None or not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def _seconds_until_http_date(header: str, now: float | None) -> float | None:
    try:
        moment = parsedate_to_datetime(header)
    except (TypeError, ValueError, OverflowError):
        return None
    if moment.tzinfo is None:
        return None
    return moment.timestamp() - (time.time() if now is None else now)


class CloseError(Exception):
    """An answer came from the server at the base URL, and it is not a success."""


class CloseAPIError(CloseError):
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
        """The wait the server asks for, finite and not negative; it may be very long (the
        runner decides what is too long)."""
        self.rate_limit = rate_limit


class BadAnswer(CloseError):
    """An answer came, but not one Close gives: a web page, another activity, a body too big or
    unreadable, a redirect. Whether the request was acted on is unknown."""

    def __init__(self, what: str, detail: str, status_code: int | None = None) -> None:
        super().__init__(f"{what} ({detail})")
        self.what = what
        """What came back, in a few words: `an HTML page`, `a redirect to https://...`."""
        self.detail = detail
        """The answer's status, type, size and first characters, escaped."""
        self.status_code = status_code


class AnswerTooSlow(httpx.ReadTimeout):
    """The whole answer did not arrive within the request's deadline (a body trickled byte by
    byte never trips the timeout between two reads)."""


@dataclass(frozen=True)
class ListPage:
    """One page of a list: its SMS, whether more follow, and the rate-limit state."""

    data: list[dict[str, Any]]
    has_more: bool
    rate_limit: RateLimit | None


@dataclass(frozen=True)
class Reply:
    """A successful answer: the activity as Close now has it, and the rate-limit state."""

    status_code: int
    activity: dict[str, Any]
    rate_limit: RateLimit | None


@dataclass(frozen=True)
class _Answer:
    """A response whose body was read, within the cap and the deadline."""

    response: httpx.Response
    body: bytes

    @property
    def status_code(self) -> int:
        return self.response.status_code

    @property
    def content_type(self) -> str:
        return str(self.response.headers.get("Content-Type", "")).split(";")[0].strip().lower()

    def describe(self) -> str:
        """`a 200 answer, text/html, 1,234 bytes: '<!DOCTYPE html>…'`, escaped."""
        kind = for_terminal(self.content_type, 60) or "no content type"
        sample = self.body[: SAMPLE_CHARS * 4].decode("utf-8", "replace")
        shown = for_terminal(sample.strip(), SAMPLE_CHARS)
        quoted = f": '{shown}'" if shown else ", empty"
        return f"a {self.status_code} answer, {kind}, {len(self.body):,} bytes{quoted}"

    def bad(self, what: str) -> BadAnswer:
        return BadAnswer(what, self.describe(), self.status_code)

    def json(self) -> Any:
        """The body parsed as JSON; BadAnswer if it is none, however it fails."""
        try:
            return _parse_json(self.body)
        except (RecursionError, _TooDeep):
            raise self.bad("JSON nested too deep to be Close's") from None
        except ValueError:
            raise self.bad(_not_json(self)) from None


class _TooDeep(ValueError):
    pass


def _parse_json(body: bytes) -> Any:
    """JSON without NaN or Infinity, nested at most MAX_JSON_DEPTH deep. Raises ValueError
    (_TooDeep for nesting) or RecursionError (nesting too deep for the parser itself)."""
    value = json.loads(body, parse_constant=_refuse_constant)
    if _deeper_than(value, MAX_JSON_DEPTH):
        raise _TooDeep(f"JSON nested more than {MAX_JSON_DEPTH} deep")
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether containers nest more than `limit` deep; walked without recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _not_json(answer: _Answer) -> str:
    if "html" in answer.content_type or answer.body.lstrip()[:1] == b"<":
        return "an HTML page"
    return "an empty answer" if not answer.body.strip() else "an answer that is not JSON"


def error_message(response: httpx.Response, body: bytes | None = None) -> str:
    """Close's error body flattened to one line: `field: message; other: message`. Escaped and
    cut: the text is the server's."""
    raw = response.content if body is None else body
    try:
        parsed = _parse_json(raw) if raw else None
    except (ValueError, RecursionError):
        parsed = None
    parts: list[str] = []
    if isinstance(parsed, dict):
        parts.extend(_flatten_errors(parsed))
    if not parts:
        reason = response.reason_phrase or "error"
        text = raw[: MAX_MESSAGE * 4].decode("utf-8", "replace").strip()
        parts.append(f"{reason}: {text}" if text and not text.startswith("<") else reason)
    return for_terminal("; ".join(parts), MAX_MESSAGE)


def _flatten_errors(body: dict[str, Any]) -> list[str]:
    parts: list[str] = []
    error = body.get("error")
    if isinstance(error, str) and error:
        parts.append(error)
    elif isinstance(error, dict) and error.get("message"):
        parts.append(_as_text(error["message"]))
    errors = body.get("errors")
    if isinstance(errors, list):
        parts.extend(_as_text(item) for item in errors[:20] if item)
    field_errors = body.get("field-errors")
    if isinstance(field_errors, dict):
        parts.extend(
            f"{_as_text(name)}: {_as_text(message)}"
            for name, message in list(field_errors.items())[:20]
        )
    return parts


def _as_text(message: Any) -> str:
    if isinstance(message, list):
        return " ".join(_scalar_text(item) for item in message[:20])
    return _scalar_text(message)


def _scalar_text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return "(an object)" if isinstance(value, dict) else "(a list)"
    return clip(value if isinstance(value, str) else json.dumps(value), MAX_MESSAGE)


def _legacy_rate_reset(body: bytes) -> float | None:
    """The deprecated `{"error": {"rate_reset": N}}` body of a 429: the last resort."""
    try:
        error = _parse_json(body).get("error")
        return _finite_wait(float(error["rate_reset"])) if isinstance(error, dict) else None
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError, OverflowError):
        return None


def server_wait(
    response: httpx.Response, rate_limit: RateLimit | None, body: bytes | None = None
) -> float | None:
    """How long the server asks us to wait before trying again, if it says so: finite and not
    negative, never trusted beyond that (the runner refuses waits longer than it will wait)."""
    if response.status_code == 429 and rate_limit is not None:
        return rate_limit.reset
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if retry_after is not None:
        return retry_after
    if response.status_code == 429:
        return _legacy_rate_reset(response.content if body is None else body)
    return None


class CloseClient:
    """An async client for Close's SMS activity endpoints.

    `timeout` bounds each step of a request (connecting, each read), and also the whole answer:
    a server that trickles its body, or sends one without end, is cut off."""

    def __init__(
        self,
        credentials: Credentials,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 30.0,
        max_connections: int = 8,
        transport: httpx.AsyncBaseTransport | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        check_base_url(base_url)
        self._deadline = timeout
        self._max_body = max_body_bytes
        self._http = httpx.AsyncClient(
            base_url=base_url if base_url.endswith("/") else base_url + "/",
            auth=credentials.auth(),
            timeout=httpx.Timeout(timeout),
            # Only the encodings that _read_body inflates under its cap.
            headers={
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
                "Accept-Encoding": "gzip, deflate",
            },
            transport=transport or pooled_transport(max_connections),
            # A redirect would carry the key to wherever it points: it is an answer, not a hop.
            follow_redirects=False,
            event_hooks={"request": [_trace_leaving]},
        )

    @property
    def base_url(self) -> str:
        """The base URL as it may be printed."""
        return shown_url(str(self._http.base_url))

    async def __aenter__(self) -> CloseClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def update_sms(self, activity_id: str, fields: dict[str, Any]) -> Reply:
        """PUT the changed fields of one SMS activity. Raises CloseAPIError for an error
        answer, BadAnswer for an answer that is not Close's, and httpx.TransportError when no
        answer came (AnswerTooSlow when it did not come whole in time)."""
        answer = await self._exchange("PUT", f"activity/sms/{activity_id}/", json=fields)
        return _one_sms(answer, activity_id)

    async def get_sms(self, activity_id: str) -> Reply:
        answer = await self._exchange("GET", f"activity/sms/{activity_id}/")
        return _one_sms(answer, activity_id)

    async def list_sms(
        self, activity_ids: Sequence[str], fields: Sequence[str]
    ) -> list[dict[str, Any]]:
        """The SMS among `activity_ids` that Close knows (one page, up to 100 ids)."""
        params = {
            "id__in": ",".join(activity_ids),
            "_fields": ",".join(fields),
            "_limit": str(len(activity_ids)),
        }
        answer = await self._exchange("GET", "activity/sms/", params=params)
        return _sms_list(answer, activity_ids)

    async def list_page(self, params: Mapping[str, str]) -> ListPage:
        """One page of `GET activity/sms/` with these query parameters (filters, `_fields`,
        `_limit`, `_skip`). Raises CloseAPIError for an error answer, BadAnswer for one that
        is not a list page, httpx.TransportError when no answer came."""
        answer = await self._exchange("GET", "activity/sms/", params=dict(params))
        body, rate_limit = _checked(answer)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or not isinstance(body.get("has_more"), bool):
            raise answer.bad("JSON without Close's `data` list and `has_more`")
        if not all(isinstance(item, dict) for item in data):
            raise answer.bad("a list whose items are not SMS activities")
        return ListPage([_bounded(item) for item in data], body["has_more"], rate_limit)

    async def _exchange(self, method: str, url: str, **options: Any) -> _Answer:
        """Send one request and read its answer whole, within the deadline and the size cap."""
        try:
            async with asyncio.timeout(self._deadline):
                async with self._http.stream(method, url, **options) as response:
                    body = await _read_body(response, self._max_body)
        except TimeoutError:
            raise AnswerTooSlow(f"no whole answer within {self._deadline:g} s") from None
        return _Answer(response, body)


async def _trace_leaving(request: httpx.Request) -> None:
    opened = False

    async def on_trace(event: str, info: dict[str, Any]) -> None:
        nonlocal opened
        if event == _CONNECTING:
            opened = True
        elif event in _LEAVING and (notify := request_leaving.get()) is not None:
            notify(opened)

    request.extensions["trace"] = on_trace


async def _read_body(response: httpx.Response, cap: int) -> bytes:
    """The body, decoded, up to `cap` bytes: a compressed body is inflated a piece at a time
    with the same cap, so that a small "gzip bomb" cannot fill the memory either."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and len(declared) < 20 and int(declared) > cap:
        raise _too_big(response, cap)
    if response.is_stream_consumed:
        # A body given whole, read and decoded already (httpx.MockTransport's answers).
        if len(response.content) > cap:
            raise _too_big(response, cap)
        return response.content
    decoder = _decoder(response)
    chunks: list[bytes] = []
    size = 0
    try:
        async for raw in response.aiter_raw():
            chunk = raw if decoder is None else decoder.decompress(raw, cap + 1 - size)
            size += len(chunk)
            if size > cap:
                raise _too_big(response, cap)
            chunks.append(chunk)
        if decoder is not None:
            chunks.append(decoder.flush())
    except zlib.error:
        raise _undecodable(response) from None
    return b"".join(chunks)


def _decoder(response: httpx.Response) -> Any:
    """A zlib decompressor for the body's Content-Encoding, None for none; BadAnswer for an
    encoding that was not asked for."""
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj()
    raise _undecodable(response)


def _undecodable(response: httpx.Response) -> BadAnswer:
    encoding = for_terminal(response.headers.get("Content-Encoding", ""), 60)
    detail = f"a {response.status_code} answer, Content-Encoding {encoding}"
    return BadAnswer("a body that cannot be decoded", detail, response.status_code)


def _too_big(response: httpx.Response, cap: int) -> BadAnswer:
    kind = for_terminal(response.headers.get("Content-Type", ""), 60) or "no content type"
    detail = f"a {response.status_code} answer, {kind}, not read past {cap:,} bytes"
    return BadAnswer(f"an answer bigger than {cap:,} bytes", detail, response.status_code)


def _checked(answer: _Answer) -> tuple[Any, RateLimit | None]:
    """The parsed body of a successful answer, and its rate-limit state; raises CloseAPIError
    for an error status and BadAnswer for anything that is neither."""
    response = answer.response
    rate_limit = parse_rate_limit(response.headers.get("RateLimit"))
    if 300 <= response.status_code < 400:
        location = shown_url(response.headers.get("Location", ""))
        raise answer.bad(f"a redirect to {location or 'nowhere'} (not followed)")
    if not response.is_success:
        raise CloseAPIError(
            response.status_code,
            error_message(response, answer.body),
            server_wait(response, rate_limit, answer.body),
            rate_limit,
        )
    return answer.json(), rate_limit


def _one_sms(answer: _Answer, activity_id: str) -> Reply:
    body, rate_limit = _checked(answer)
    if not isinstance(body, dict):
        raise answer.bad("JSON that is not an SMS activity")
    if body.get("id") != activity_id:
        if "id" not in body:
            raise answer.bad("JSON without the SMS's id")
        other = for_terminal(str(body["id"]), 60)
        raise answer.bad(f"an answer about another SMS ({other}) than {activity_id}")
    return Reply(answer.status_code, _bounded(body), rate_limit)


def _sms_list(answer: _Answer, activity_ids: Sequence[str]) -> list[dict[str, Any]]:
    body, _ = _checked(answer)
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list) or not isinstance(body.get("has_more"), bool):
        raise answer.bad("JSON without Close's `data` list and `has_more`")
    asked = set(activity_ids)
    if not all(isinstance(item, dict) and _id_in(item, asked) for item in data):
        raise answer.bad("a list holding other SMS than those asked for")
    return [_bounded(item) for item in data]


def _id_in(item: dict[str, Any], asked: set[str]) -> bool:
    activity_id = item.get("id")
    return isinstance(activity_id, str) and activity_id in asked


def _bounded(activity: dict[str, Any]) -> dict[str, Any]:
    """The activity with every string cut to MAX_FIELD_CHARS."""
    return {
        key: clip(value, MAX_FIELD_CHARS) if isinstance(value, str) else value
        for key, value in activity.items()
    }
