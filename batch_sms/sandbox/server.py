"""A stand-in for Close's SMS activity endpoints, served over real HTTP on loopback.

`batch-sms run --sandbox`, the end-to-end tests and the benchmarks talk to it exactly as they
would talk to api.close.com: same routes, auth, rate-limit headers, error shapes and rules
(see the shared notes on Close's API). It can also misbehave on purpose (`Fault`), because the
hard part of a bulk sender is what happens when an answer is lost.

It uses only the standard library (and Close's limits from `rules`), so it ships with the tool.
"""

from __future__ import annotations

import base64
import copy
import enum
import hmac
import json
import math
import random
import re
import socket
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from batch_sms.rules import (
    ATTACHMENT_CONTENT_TYPES,
    E164,
    MAX_ATTACHMENTS,
    MAX_SEND_IN_SECONDS,
    MAX_TEXT_LENGTH,
    SENDING_STATUSES,
    STATUSES,
    UPDATE_STATUSES,
)

UNLIMITED = 1_000_000  # the limit reported when rate limiting is off
UPDATE_FIELDS = frozenset(
    """
    activity_at attachments contact_id lead_id local_phone remote_phone status template_id text
    user_id date_scheduled send_in
    """.split()
)

_ONE = re.compile(r"/api/v1/activity/sms/([^/]+)/?")
_LIST = re.compile(r"/api/v1/activity/sms/?")
_COUNTRIES = (("+1", "US"), ("+44", "GB"), ("+49", "DE"), ("+33", "FR"), ("+61", "AU"))
_USER = ("user_sandbox", "Sandbox User")
STATS_PATH = "/_sandbox/stats"  # outside /api/v1/: the benchmarks read it, clients never do
_POLL_SECONDS = 0.01  # how long stop() may wait for the accept loop to notice


class Fault(enum.Enum):
    """A misbehaviour to inject; see `Sandbox.inject`."""

    UNAVAILABLE = "unavailable"  # 503 {"error": ...}, no Retry-After, nothing applied
    BAD_GATEWAY = "bad_gateway"  # 502, nothing applied
    RATE_LIMITED = "rate_limited"  # 429 with RateLimit + Retry-After, nothing applied
    DROP_AFTER_APPLY = "drop_after_apply"  # apply, then close the connection without answering
    SLOW = "slow"  # apply, then wait config.slow_ms before answering
    HTML_PAGE = "html_page"  # 200 with a web page, as a captive portal or a wrong URL gives


_REFUSALS = (Fault.UNAVAILABLE, Fault.BAD_GATEWAY, Fault.RATE_LIMITED, Fault.HTML_PAGE)
_HTML_PAGE = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Wi-Fi</body></html>"


@dataclass(frozen=True)
class SandboxConfig:
    api_key: str = "sandbox_api_key"  # HTTP Basic: the key as user name, empty password
    oauth_token: str = "sandbox_oauth_token"  # Authorization: Bearer <token>
    rate_limit: int | None = None  # per window, endpoint group and credential; None: unlimited
    rate_window: float = 1.0  # seconds
    latency_ms: float = 0.0  # added to every answer
    fail_rate: float = 0.0  # share of requests answered 503 before anything is applied
    drop_rate: float = 0.0  # share of PUTs applied, then dropped without an answer
    slow_rate: float = 0.0  # share of answers delayed by slow_ms
    slow_ms: float = 0.0
    seed: int | None = None  # for the random faults above
    org_phones: tuple[str, ...] = ("+14155550100", "+14155550101", "+442071838750")
    keep_log: bool = True
    # Every id not containing "missing" exists as a draft, without seeding: a run of a
    # million rows needs no million-id set-up, and untouched ids cost no memory.
    any_id: bool = False
    fault: Fault | None = None  # every request gets this fault (`batch-sms sandbox --fault`)

    def __post_init__(self) -> None:
        rates = (self.fail_rate, self.drop_rate, self.slow_rate)
        if not all(0.0 <= rate <= 1.0 for rate in rates):
            raise ValueError("fail_rate, drop_rate and slow_rate must be between 0 and 1")
        if self.rate_limit is not None and self.rate_limit < 1:
            raise ValueError("rate_limit must be at least 1, or None for no limit")
        if self.rate_window <= 0 or self.latency_ms < 0 or self.slow_ms < 0:
            raise ValueError("rate_window must be positive, latency_ms and slow_ms not negative")
        if not self.org_phones:
            raise ValueError("org_phones needs at least one number to send from")


@dataclass(frozen=True)
class LogEntry:
    method: str
    path: str  # without the query string
    activity_id: str | None
    body: dict[str, Any] | None  # the JSON body when it was an object
    status_code: int | None  # None when the connection was dropped without an answer
    applied: bool  # the update changed the stored activity
    fault: Fault | None
    at: float  # time.monotonic() when the request arrived


@dataclass(frozen=True)
class SandboxStats:
    """What the sandbox answered, for benchmarks: also served as JSON at STATS_PATH."""

    requests: int  # requests to the API, whatever the answer (STATS_PATH not counted)
    by_status: Mapping[int, int]  # status code -> requests; 0 for dropped connections
    first_at: float | None  # time.time() when the first request arrived
    last_at: float | None  # ... and the last one

    def as_json(self) -> dict[str, Any]:
        statuses = {str(code): count for code, count in sorted(self.by_status.items())}
        return {
            "requests": self.requests,
            "by_status": statuses,
            "first_at": self.first_at,
            "last_at": self.last_at,
        }


_DEFAULT_CONFIG = SandboxConfig()


# --- Plain data passed between the HTTP layer and the model --------------------------------


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # names in lower case
    data: dict[str, Any] | None  # the body, when it is a JSON object


@dataclass(frozen=True)
class _Reply:
    status: int | None  # None: close the connection without answering
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0  # seconds to wait before answering


@dataclass(frozen=True)
class _Result:
    status: int
    payload: Any
    applied: bool = False


@dataclass(frozen=True)
class _Route:
    group: str  # the rate-limit bucket, e.g. "PUT one"
    kind: str | None  # "one", "list", or None for an unknown path
    activity_id: str | None = None
    allowed: bool = False  # the method is served on this path


@dataclass(frozen=True)
class _Context:
    now: datetime
    tz_offset: str | None  # the X-TZ-Offset header
    org_phones: tuple[str, ...]


def _route(method: str, path: str) -> _Route:
    if match := _ONE.fullmatch(path):
        return _Route(f"{method} one", "one", unquote(match[1]), method in ("GET", "PUT"))
    if _LIST.fullmatch(path):
        return _Route(f"{method} list", "list", None, method == "GET")
    return _Route("other", None)


# --- Rate limiting ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Quota:
    limit: int
    remaining: int
    reset: float  # seconds until the window resets
    window: float
    allowed: bool

    def headers(self) -> tuple[tuple[str, str], ...]:
        value = f"limit={self.limit}, remaining={self.remaining}, reset={_seconds(self.reset)}"
        return (("RateLimit", value),)


class _RateLimiter:
    """Fixed windows per (credential, endpoint group); not thread-safe, the caller locks."""

    def __init__(self, limit: int | None, window: float) -> None:
        self._limit = UNLIMITED if limit is None else limit
        self._window = window
        self._windows: dict[tuple[str | None, str], tuple[float, int]] = {}

    def hit(self, key: tuple[str | None, str], now: float) -> _Quota:
        start, count = self._windows.get(key, (now, 0))
        if now - start >= self._window:
            start, count = now, 0
        self._windows[key] = (start, count + 1)
        remaining = max(self._limit - count - 1, 0)
        reset = max(start + self._window - now, 0.0)
        return _Quota(self._limit, remaining, reset, self._window, count < self._limit)


def _seconds(value: float) -> str:
    return f"{round(value, 3):g}"


# --- Answers that are the same whatever the activity -------------------------------------------


def _encode(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def _unauthorized(quota: _Quota) -> _Reply:
    challenge = ("WWW-Authenticate", 'Basic realm="Close API", Bearer realm="Close API"')
    body = _encode({"error": "Unauthorized: invalid or missing API key or OAuth token."})
    return _Reply(401, body, (*quota.headers(), challenge))


def _too_many(quota: _Quota) -> _Reply:
    quota = replace(quota, remaining=0)
    error = {
        "message": "API call count exceeded for this period",
        "rate_reset": round(quota.reset, 3),
        "rate_limit": quota.limit,
        "rate_window": quota.window,
    }
    retry_after = ("Retry-After", str(max(1, math.ceil(quota.reset))))
    return _Reply(429, _encode({"error": error}), (*quota.headers(), retry_after))


def _refusal(fault: Fault, quota: _Quota) -> _Reply:
    if fault is Fault.HTML_PAGE:
        return _Reply(200, _HTML_PAGE, (("Content-Type", "text/html; charset=utf-8"),))
    if fault is Fault.RATE_LIMITED:
        return _too_many(quota)
    if fault is Fault.UNAVAILABLE:
        return _Reply(503, _encode({"error": "Service temporarily unavailable."}), quota.headers())
    return _Reply(502, _encode({"error": "Bad gateway."}), quota.headers())


def _with_fault(reply: _Reply, fault: Fault | None, slow_ms: float) -> _Reply:
    if fault is Fault.DROP_AFTER_APPLY:
        return replace(reply, status=None, body=b"")
    if fault is Fault.SLOW:
        return replace(reply, delay=slow_ms / 1000)
    return reply


# --- Body rules: each check returns an error message or None ---------------------------------


def _check_text(value: Any, ctx: _Context) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        return "Must be a string."
    if len(value) > MAX_TEXT_LENGTH:
        return f"Must be at most {MAX_TEXT_LENGTH} characters long (this one has {len(value)})."
    return None


def _check_phone(value: Any, ctx: _Context) -> str | None:
    if isinstance(value, str) and E164.fullmatch(value):
        return None
    return "Must be a phone number in E.164 format, like +14155550100."


def _check_local_phone(value: Any, ctx: _Context) -> str | None:
    if error := _check_phone(value, ctx):
        return error
    if value not in ctx.org_phones:
        return f"{value} is not one of your organization's SMS-enabled numbers."
    return None


def _check_attachments(value: Any, ctx: _Context) -> str | None:
    if value is None:
        return None
    if not isinstance(value, list):
        return "Must be a list of attachments."
    if len(value) > MAX_ATTACHMENTS:
        return f"At most {MAX_ATTACHMENTS} attachments are allowed (got {len(value)})."
    errors = (_attachment_error(item) for item in value)
    return next((f"Attachment {i}: {e}" for i, e in enumerate(errors) if e), None)


def _attachment_error(item: Any) -> str | None:
    if not isinstance(item, dict):
        return "must be an object with content_type, filename and url."
    missing = [
        key for key in ("content_type", "filename", "url") if not isinstance(item.get(key), str)
    ]
    if missing:
        return f"{', '.join(missing)} must be given as strings."
    if item["content_type"] not in ATTACHMENT_CONTENT_TYPES:
        return f"content type {item['content_type']!r} is not supported for MMS."
    return None


def _check_template(value: Any, ctx: _Context) -> str | None:
    if value is None or (isinstance(value, str) and value.startswith("tmpl_")):
        return None
    return "No SMS template with this id."


def _check_optional_str(value: Any, ctx: _Context) -> str | None:
    return None if value is None or isinstance(value, str) else "Must be a string or null."


def _check_activity_at(value: Any, ctx: _Context) -> str | None:
    if value is None:
        return None
    try:
        _parse_iso(value)
    except ValueError as exc:
        return str(exc)
    return None


_FIELD_CHECKS: dict[str, Callable[[Any, _Context], str | None]] = {
    "activity_at": _check_activity_at,
    "attachments": _check_attachments,
    "contact_id": _check_optional_str,
    "lead_id": _check_optional_str,
    "user_id": _check_optional_str,
    "local_phone": _check_local_phone,
    "remote_phone": _check_phone,
    "template_id": _check_template,
    "text": _check_text,
}


def _check_status(value: Any) -> str | None:
    if not isinstance(value, str) or value not in STATUSES:
        return f"Not a valid choice; use one of {', '.join(STATUSES)}."
    if value not in UPDATE_STATUSES:
        return f"Can't set status {value!r} with an update; use draft, scheduled or outbox."
    return None


def _check_schedule(body: Mapping[str, Any], ctx: _Context) -> str | None:
    if body.get("status") != "scheduled":
        return "Only allowed together with status 'scheduled'."
    try:
        when = _schedule_time(body.get("date_scheduled"), ctx.tz_offset)
    except ValueError as exc:
        return str(exc)
    return None if when > ctx.now else "Must be in the future."


def _check_send_in(body: Mapping[str, Any]) -> str | None:
    if body.get("status") != "outbox":
        return "Only allowed together with status 'outbox'."
    value = body["send_in"]
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 0 <= value <= MAX_SEND_IN_SECONDS
    ):
        return f"Must be a whole number of seconds from 0 to {MAX_SEND_IN_SECONDS}."
    return None


def _status_errors(body: Mapping[str, Any], ctx: _Context) -> dict[str, str]:
    errors = {}
    if "status" in body and (error := _check_status(body["status"])):
        errors["status"] = error
    if ("date_scheduled" in body or body.get("status") == "scheduled") and (
        error := _check_schedule(body, ctx)
    ):
        errors["date_scheduled"] = error
    if "send_in" in body and (error := _check_send_in(body)):
        errors["send_in"] = error
    return errors


def _unknown_fields(body: Mapping[str, Any]) -> dict[str, str]:
    return {key: "Unknown field." for key in body if key not in UPDATE_FIELDS}


def _draft_errors(body: Mapping[str, Any], ctx: _Context) -> dict[str, str]:
    errors = _unknown_fields(body)
    for key, check in _FIELD_CHECKS.items():
        if key in body and (error := check(body[key], ctx)):
            errors[key] = error
    return errors | _status_errors(body, ctx)


def _update_errors(status: str, body: Mapping[str, Any], ctx: _Context) -> dict[str, str]:
    if status == "draft":
        return _draft_errors(body, ctx)
    if status in SENDING_STATUSES and body == {"status": "draft"}:
        return {}  # cancelling a send that has not happened yet
    refusal = f"This SMS is {status!r}; only drafts can be modified."
    return _unknown_fields(body) | {"status": refusal}


# --- Dates ------------------------------------------------------------------------------------


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _parse_iso(value: Any) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError("Not a valid ISO 8601 datetime.") from None


def _tz_from_header(header: str) -> timezone:
    try:
        hours = float(header)
    except ValueError:
        hours = math.nan
    if not -14 <= hours <= 14:  # also refuses nan
        raise ValueError("The X-TZ-Offset header must be hours from UTC, like -4 or 5.5.")
    return timezone(timedelta(hours=hours))


def _schedule_time(value: Any, tz_offset: str | None) -> datetime:
    if value is None:
        raise ValueError("Required when status is 'scheduled'.")
    when = _parse_iso(value)
    if when.tzinfo is not None:
        return when
    if tz_offset is None:
        # Close would guess; the sandbox refuses so that a client relying on it is caught.
        raise ValueError("No UTC offset in this time and no X-TZ-Offset header to place it.")
    return when.replace(tzinfo=_tz_from_header(tz_offset))


# --- Activities -------------------------------------------------------------------------------


def _phone_fields(side: str, phone: Any) -> dict[str, Any]:
    text = phone if isinstance(phone, str) else ""
    country = next((iso for prefix, iso in _COUNTRIES if text.startswith(prefix)), None)
    return {
        f"{side}_phone": phone,
        f"{side}_phone_formatted": phone,
        f"{side}_country_iso": country,
    }


def _new_activity(activity_id: str, local_phone: str, now: datetime) -> dict[str, Any]:
    stamp = _iso(now)
    user_id, user_name = _USER
    return {
        "_type": "SMS",
        "id": activity_id,
        "organization_id": "orga_sandbox",
        "lead_id": f"lead_{activity_id}",
        "contact_id": f"cont_{activity_id}",
        "status": "draft",
        "direction": "outbound",
        "source": "Close.io",
        "text": "Hi, this is a draft SMS in the Close sandbox.",
        "template_id": None,
        "attachments": [],
        "activity_at": stamp,
        "date_created": stamp,
        "date_updated": stamp,
        "date_scheduled": None,
        "date_sent": None,
        "error_message": None,
        "cost": None,
        **_phone_fields("local", local_phone),
        **_phone_fields("remote", "+14155550123"),
        **dict.fromkeys(("user_id", "created_by", "updated_by"), user_id),
        **dict.fromkeys(("user_name", "created_by_name", "updated_by_name"), user_name),
        "users": [user_id],
        **dict.fromkeys(("sequence_id", "sequence_name", "sequence_subscription_id"), None),
        **dict.fromkeys(("agent_action_reason", "agent_config_id"), None),
    }


def _changes(body: Mapping[str, Any], ctx: _Context) -> dict[str, Any]:
    """What a valid update body does to the stored activity."""
    plain = ("activity_at", "contact_id", "lead_id", "user_id", "text", "template_id")
    changes = {key: body[key] for key in plain if key in body}
    for side in ("local", "remote"):
        if f"{side}_phone" in body:
            changes |= _phone_fields(side, body[f"{side}_phone"])
    if "attachments" in body:
        changes["attachments"] = copy.deepcopy(body["attachments"] or [])
    if body.get("template_id"):  # Close renders the template in place of any given text
        changes["text"] = f"Rendered template {body['template_id']}"
    return changes | _status_changes(body, ctx)


def _status_changes(body: Mapping[str, Any], ctx: _Context) -> dict[str, Any]:
    status = body.get("status")
    if status == "draft":
        return {"status": "draft", "date_scheduled": None}
    if status == "scheduled":
        when = _schedule_time(body["date_scheduled"], ctx.tz_offset)
        return {"status": "scheduled", "date_scheduled": _iso(when)}
    if status == "outbox" and "send_in" in body:
        return {"status": "outbox"}  # sent later, see _send_time
    if status == "outbox":
        return {"status": "sent", "date_sent": _iso(ctx.now)}
    return {}


def _send_time(body: Mapping[str, Any], ctx: _Context) -> datetime | None:
    """When a scheduled or delayed send happens, so reads can resolve it lazily."""
    if body.get("status") == "scheduled":
        return _schedule_time(body["date_scheduled"], ctx.tz_offset)
    if body.get("status") == "outbox" and "send_in" in body:
        return ctx.now + timedelta(seconds=body["send_in"])
    return None


def _project(activity: dict[str, Any], fields: str | None) -> dict[str, Any]:
    if not fields:
        return activity
    return {key: activity[key] for key in fields.split(",") if key in activity}


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(raw) if raw else None
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


# --- The sandbox ------------------------------------------------------------------------------


class Sandbox:
    """Close's SMS endpoints on 127.0.0.1, in a background thread.

    Example: `with Sandbox() as sb: sb.seed_drafts(["acti_1"])`, then point the client at
    `sb.base_url` with `sb.config.api_key` as the API key.
    """

    def __init__(
        self,
        config: SandboxConfig = _DEFAULT_CONFIG,
        port: int = 0,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.config = config
        self._port = port
        self._clock = clock  # tests inject "now" to check scheduled and delayed sends
        self._lock = threading.Lock()
        self._activities: dict[str, dict[str, Any]] = {}
        self._born = clock()  # when the drafts that config.any_id stands for were created
        self._changed: dict[str, dict[str, Any]] = {}  # any_id drafts: fields that differ
        self._statuses: Counter[int] = Counter()
        self._first_at: float | None = None
        self._last_at: float | None = None
        self._send_at: dict[str, datetime] = {}
        self._sends: Counter[str] = Counter()
        self._faults: dict[str, deque[Fault]] = {}
        self._log: list[LogEntry] = []
        self._auth_budget: int | None = None
        self._limiter = _RateLimiter(config.rate_limit, config.rate_window)
        self._rng = random.Random(config.seed)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    # Lifecycle

    def start(self) -> Sandbox:
        if self._server is not None:
            raise RuntimeError("The sandbox is already running.")
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", self._port), self)
        self._port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(_POLL_SECONDS,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._server = self._thread = None
        with self._connections_lock:
            self._stopping.set()
            connections, self._connections = self._connections, set()
        server.shutdown()
        server.server_close()
        for connection in connections:  # wakes threads waiting on idle keep-alive connections
            _shut(connection)
        thread.join()

    def serve_forever(self) -> None:
        """Serve in the foreground until Ctrl-C (or `stop()` from another thread)."""
        if self._server is None:
            self.start()
        try:
            while (thread := self._thread) is not None and thread.is_alive():
                thread.join(0.2)  # a timeout keeps Ctrl-C responsive
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("The sandbox has no port until it is started.")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1/"

    # Setting up and inspecting state

    def add_activity(self, activity_id: str, **fields: Any) -> dict[str, Any]:
        """Create or overwrite one SMS activity: a draft unless `fields` say otherwise."""
        fields = {k: _iso(v) if isinstance(v, datetime) else v for k, v in fields.items()}
        with self._lock:
            activity = _new_activity(activity_id, self.config.org_phones[0], self._clock())
            activity |= fields
            for side in ("local", "remote"):
                if f"{side}_phone" in fields:
                    activity |= _phone_fields(side, fields[f"{side}_phone"])
            if activity["status"] == "sent" and activity["date_sent"] is None:
                activity["date_sent"] = activity["date_created"]
            self._activities[activity_id] = activity
            self._changed.pop(activity_id, None)
            self._send_at.pop(activity_id, None)
            return copy.deepcopy(activity)

    def seed_drafts(self, activity_ids: Iterable[str]) -> int:
        """Add drafts, except ids containing "missing", which stay unknown (404)."""
        wanted = [i for i in activity_ids if "missing" not in i.lower()]
        for activity_id in wanted:
            self.add_activity(activity_id)
        return len(wanted)

    def activity(self, activity_id: str) -> dict[str, Any] | None:
        with self._lock:
            return copy.deepcopy(self._current(activity_id))

    def inject(self, activity_id: str, *faults: Fault) -> None:
        """Queue faults: each next request for this id (any method) consumes one, in order."""
        with self._lock:
            self._faults.setdefault(activity_id, deque()).extend(faults)

    def revoke_credentials_after(self, requests: int) -> None:
        """After this many more authenticated requests, refuse every credential with 401."""
        if requests < 0:
            raise ValueError("requests must not be negative")
        with self._lock:
            self._auth_budget = requests

    @property
    def log(self) -> list[LogEntry]:
        with self._lock:
            return list(self._log)

    def sends(self, activity_id: str) -> int:
        """How many applied PUTs moved this activity to outbox or scheduled."""
        with self._lock:
            return self._sends[activity_id]

    def stats(self) -> SandboxStats:
        with self._lock:
            statuses = dict(self._statuses)
            return SandboxStats(sum(statuses.values()), statuses, self._first_at, self._last_at)

    # Answering requests (called from the handler threads)

    def _respond(self, request: _Request) -> _Reply:
        if request.path == STATS_PATH and request.method == "GET":
            return _Reply(200, _encode(self.stats().as_json()))
        route = _route(request.method, request.path)
        arrived = time.monotonic()
        wall = time.time()
        with self._lock:
            reply, applied, fault = self._decide(request, route, arrived)
            self._count(reply.status, wall)
            if self.config.keep_log:
                entry = LogEntry(
                    method=request.method,
                    path=request.path,
                    activity_id=route.activity_id,
                    body=request.data,
                    status_code=reply.status,
                    applied=applied,
                    fault=fault,
                    at=arrived,
                )
                self._log.append(entry)
        return reply

    def _count(self, status: int | None, wall: float) -> None:
        self._statuses[status or 0] += 1
        if self._first_at is None:
            self._first_at = wall
        self._last_at = wall

    def _decide(
        self, request: _Request, route: _Route, now: float
    ) -> tuple[_Reply, bool, Fault | None]:
        credential = self._authenticate(request.headers.get("authorization", ""))
        quota = self._limiter.hit((credential, route.group), now)
        if credential is None:
            return _unauthorized(quota), False, None
        if not quota.allowed:
            return _too_many(quota), False, None
        fault = self._next_fault(route.activity_id, request.method)
        if fault in _REFUSALS:
            return _refusal(fault, quota), False, fault
        result = self._dispatch(request, route)
        reply = _Reply(result.status, _encode(result.payload), quota.headers())
        return _with_fault(reply, fault, self.config.slow_ms), result.applied, fault

    def _authenticate(self, header: str) -> str | None:
        """The name of the credential used, or None when it must be refused."""
        credential = self._credential(header)
        if credential is None or self._auth_budget is None:
            return credential
        if self._auth_budget == 0:
            return None
        self._auth_budget -= 1
        return credential

    def _credential(self, header: str) -> str | None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return "oauth_token" if _same(value.strip(), self.config.oauth_token) else None
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except ValueError:
            return None
        return "api_key" if _same(decoded, f"{self.config.api_key}:") else None

    def _next_fault(self, activity_id: str | None, method: str) -> Fault | None:
        queue = self._faults.get(activity_id) if activity_id is not None else None
        if queue:
            return queue.popleft()
        config, draw = self.config, self._rng.random
        if config.fault is not None:
            return config.fault
        if config.fail_rate and draw() < config.fail_rate:
            return Fault.UNAVAILABLE
        if method == "PUT" and config.drop_rate and draw() < config.drop_rate:
            return Fault.DROP_AFTER_APPLY
        if config.slow_rate and draw() < config.slow_rate:
            return Fault.SLOW
        return None

    def _dispatch(self, request: _Request, route: _Route) -> _Result:
        if route.kind is None:
            return _Result(404, {"error": f"Not found: {request.method} {request.path}"})
        if not route.allowed:
            return _Result(405, {"error": f"Method {request.method} is not allowed here."})
        if route.activity_id is None:
            return self._list(request.query)
        activity = self._current(route.activity_id)
        if activity is None:
            return _Result(404, {"error": "Object does not exist."})
        if request.method == "GET":
            return _Result(200, _project(activity, request.query.get("_fields")))
        return self._update(route.activity_id, activity, request)

    def _list(self, query: Mapping[str, str]) -> _Result:
        try:
            limit, skip = int(query.get("_limit", 100)), int(query.get("_skip", 0))
        except ValueError:
            limit = skip = -1
        if limit < 1 or skip < 0:
            return _Result(400, {"error": "_limit must be at least 1 and _skip at least 0."})
        wanted = query["id__in"].split(",") if "id__in" in query else list(self._activities)
        found = [a for a in map(self._current, dict.fromkeys(wanted)) if a is not None]
        page = [_project(a, query.get("_fields")) for a in found[skip : skip + limit]]
        return _Result(200, {"data": page, "has_more": skip + limit < len(found)})

    def _update(self, activity_id: str, activity: dict[str, Any], request: _Request) -> _Result:
        body = request.data
        if body is None:
            return _Result(400, {"error": "The request body must be a JSON object."})
        ctx = _Context(self._clock(), request.headers.get("x-tz-offset"), self.config.org_phones)
        errors = _update_errors(activity["status"], body, ctx)
        if errors:
            return _Result(400, {"errors": [], "field-errors": errors})
        applied = self._apply(activity_id, activity, body, ctx)
        return _Result(200, self._current(activity_id), applied)

    def _apply(
        self, activity_id: str, activity: dict[str, Any], body: dict[str, Any], ctx: _Context
    ) -> bool:
        before = dict(activity)
        activity |= _changes(body, ctx)
        if "status" in body:
            self._send_at.pop(activity_id, None)
            if (when := _send_time(body, ctx)) is not None:
                self._send_at[activity_id] = when
        if body.get("status") in SENDING_STATUSES:
            self._sends[activity_id] += 1
        changed = activity != before
        if changed:
            activity |= {"date_updated": _iso(ctx.now), "updated_by": _USER[0]}
            self._keep(activity_id, activity)
        return changed

    def _current(self, activity_id: str) -> dict[str, Any] | None:
        """The stored activity, after any scheduled or delayed send that is now due."""
        activity = self._activities.get(activity_id)
        if activity is None:
            activity = self._implicit(activity_id)
        when = self._send_at.get(activity_id)
        if activity is not None and when is not None and when <= self._clock():
            activity |= {"status": "sent", "date_sent": _iso(when)}
            del self._send_at[activity_id]
            self._keep(activity_id, activity)
        return activity

    def _implicit(self, activity_id: str) -> dict[str, Any] | None:
        """With config.any_id, the draft this id stands for, with its changes so far."""
        if not self.config.any_id or "missing" in activity_id.lower():
            return None
        return self._draft(activity_id) | self._changed.get(activity_id, {})

    def _draft(self, activity_id: str) -> dict[str, Any]:
        return _new_activity(activity_id, self.config.org_phones[0], self._born)

    def _keep(self, activity_id: str, activity: dict[str, Any]) -> None:
        """Store a changed activity; an implicit draft keeps only what differs (memory)."""
        if activity_id in self._activities:
            return  # changed in place
        draft = self._draft(activity_id)
        self._changed[activity_id] = {k: v for k, v in activity.items() if draft[k] != v}

    # Connection bookkeeping, so that stop() can close idle keep-alive connections

    def _opened(self, connection: socket.socket) -> None:
        with self._connections_lock:
            if self._stopping.is_set():
                _shut(connection)
            else:
                self._connections.add(connection)

    def _closed(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def _pause(self, seconds: float) -> bool:
        """Wait before answering; False when the sandbox is stopping meanwhile."""
        if seconds <= 0:
            return not self._stopping.is_set()
        return not self._stopping.wait(seconds)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _shut(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed by its own thread


# --- HTTP -------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for clients to close keep-alive connections
    request_queue_size = 512  # benchmarks open many connections at once

    def __init__(self, address: tuple[str, int], sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can stall without DNS.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = self.socket.getsockname()[:2]

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client that went away is no error
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "CloseSandbox/1.0"
    disable_nagle_algorithm = True  # headers and body go out in two writes
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.sandbox._opened(self.connection)

    def finish(self) -> None:
        self.server.sandbox._closed(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # thousands of requests a second would drown the terminal

    def do_GET(self) -> None:
        self._serve()

    do_PUT = do_POST = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _serve(self) -> None:
        request = self._request()
        if request is None:  # the client went away before sending the whole body
            self.close_connection = True
            return
        sandbox = self.server.sandbox
        reply = sandbox._respond(request)
        pause = reply.delay + sandbox.config.latency_ms / 1000
        if not sandbox._pause(pause) or reply.status is None:
            self.close_connection = True  # no answer at all: the client sees a disconnect
            return
        self._send(reply)

    def _request(self) -> _Request | None:
        body = self._read_body()
        if body is None:
            return None
        url = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        query = dict(parse_qsl(url.query))
        return _Request(self.command, url.path, query, headers, _json_object(body))

    def _read_body(self) -> bytes | None:
        """The request body, or None when it cannot be read whole (bad length, client gone)."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None
        if length < 0:
            return None
        body = self.rfile.read(length) if length else b""
        return body if len(body) == length else None

    def _send(self, reply: _Reply) -> None:
        assert reply.status is not None
        self.send_response(reply.status)
        if not any(name == "Content-Type" for name, _ in reply.headers):
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)
