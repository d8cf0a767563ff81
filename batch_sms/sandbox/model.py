"""Close's SMS endpoints as a model without sockets: `SandboxModel.handle(request) -> reply`.

The model holds the SMS, checks credentials and rate limits, injects faults, applies updates
and keeps a log. The HTTP server (`server.py`) and the mock transport (`transport.py`) only
carry requests to it and its replies back. It is thread-safe: one lock guards its state.
"""

from __future__ import annotations

import contextlib
import copy
import random
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from batch_sms.rules import SENDING_STATUSES
from batch_sms.sandbox import access
from batch_sms.sandbox.activities import (
    SEND_FAILED,
    USER,
    changes,
    new_activity,
    project,
    send_time,
    with_fields,
)
from batch_sms.sandbox.config import REFUSALS, Fault, SandboxOptions, stands_for_missing
from batch_sms.sandbox.listing import ListIndex, list_page
from batch_sms.sandbox.messages import Reply, Request, encode
from batch_sms.sandbox.update_rules import UpdateContext, iso, update_errors

STATS_PATH = "/_sandbox/stats"  # outside /api/v1/: the benchmarks read it, clients never do
_ONE = re.compile(r"/api/v1/activity/sms/([^/]+)/?")
_LIST = re.compile(r"/api/v1/activity/sms/?")


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
    query: Mapping[str, str] | None = None  # the query string's parameters, for list requests


@dataclass(frozen=True)
class SandboxStats:
    """What the sandbox answered, for benchmarks: also served as JSON at STATS_PATH."""

    requests: int  # requests to the API, whatever the answer (STATS_PATH not counted)
    by_status: Mapping[int, int]  # status code -> requests; 0 for dropped connections
    first_at: float | None  # time.time() when the first request arrived
    last_at: float | None  # ... and the last one
    # The same per rate-limit group ("PUT one", "GET list", ...): Close limits each on its own.
    groups: Mapping[str, SandboxStats] = field(default_factory=dict)
    # Per group: when its latest rate-limit window opened (time.time()), and its requests.
    window_at: float | None = None
    window_requests: int = 0
    peak_in_flight: int = 0  # the most requests being answered at once

    def as_json(self) -> dict[str, Any]:
        statuses = {str(code): count for code, count in sorted(self.by_status.items())}
        return {
            "requests": self.requests,
            "by_status": statuses,
            "first_at": self.first_at,
            "last_at": self.last_at,
            "groups": {name: stats.as_json() for name, stats in sorted(self.groups.items())},
            "window_at": self.window_at,
            "window_requests": self.window_requests,
            "peak_in_flight": self.peak_in_flight,
        }


@dataclass(frozen=True)
class _GroupCount:
    by_status: Counter[int]
    span: list[float]  # time.time() of the group's first request and of its last one
    window: list[float]  # time.time() its latest window opened, and its requests

    def count(self, status: int, wall: float, window: float) -> None:
        self.by_status[status] += 1
        self.span[1] = wall
        if wall - self.window[0] >= window:  # the rate limiter's rule, on the wall clock
            self.window[:] = [wall, 0]
        self.window[1] += 1

    def stats(self) -> SandboxStats:
        first, last = self.span
        requests = sum(self.by_status.values())
        at, count = self.window
        return SandboxStats(requests, dict(self.by_status), first, last, {}, at, int(count))


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


def _route(method: str, path: str) -> _Route:
    if match := _ONE.fullmatch(path):
        return _Route(f"{method} one", "one", unquote(match[1]), method in ("GET", "PUT"))
    if _LIST.fullmatch(path):
        return _Route(f"{method} list", "list", None, method == "GET")
    return _Route("other", None)


def utc_now() -> datetime:
    return datetime.now(UTC)


_DEFAULT_CONFIG = SandboxOptions()


class SandboxModel:
    """The state behind the sandbox's answers, and the rules that produce them."""

    def __init__(
        self,
        config: SandboxOptions = _DEFAULT_CONFIG,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.config = config
        self._clock = clock  # tests inject "now" to check scheduled and delayed sends
        self._lock = threading.Lock()
        self._activities: dict[str, dict[str, Any]] = {}
        self._index = ListIndex()  # the stored SMS, newest first, for the list endpoint
        self._born = clock()  # when the drafts that config.any_id stands for were created
        self._changed: dict[str, dict[str, Any]] = {}  # any_id drafts: fields that differ
        self._statuses: Counter[int] = Counter()
        self._first_at: float | None = None
        self._last_at: float | None = None
        self._group_stats: dict[str, _GroupCount] = {}
        self._in_flight = self._peak_in_flight = 0
        self._send_at: dict[str, datetime] = {}
        self._failing: set[str] = set()  # Fault.SEND_ERROR: sends due later that will fail
        self._sends: Counter[str] = Counter()
        self._faults: dict[str, deque[Fault]] = {}
        self._list_faults: deque[Fault | None] = deque()
        self._log: list[LogEntry] = []
        self._auth_budget: int | None = None
        self._limiter = access.RateLimiter(config.rate_limit, config.rate_window)
        self._rng = random.Random(config.seed)

    # Setting up and inspecting state

    def add_activity(self, activity_id: str, **fields: Any) -> dict[str, Any]:
        """Create or overwrite one SMS activity: a draft unless `fields` say otherwise."""
        with self._lock:
            draft = new_activity(activity_id, self.config.org_phones[0], self._clock())
            activity = with_fields(draft, fields)
            self._activities[activity_id] = activity
            self._index.add(activity_id, datetime.fromisoformat(activity["date_created"]))
            self._changed.pop(activity_id, None)
            self._send_at.pop(activity_id, None)
            return copy.deepcopy(activity)

    def seed_drafts(self, activity_ids: Iterable[str]) -> int:
        """Add drafts, except ids that stand for missing ones, which stay unknown (404)."""
        wanted = [i for i in activity_ids if not stands_for_missing(i)]
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

    def inject_list(self, *faults: Fault | None) -> None:
        """Queue faults for the list endpoint: each next list request consumes one, in order;
        None lets that request through as it is."""
        with self._lock:
            self._list_faults.extend(faults)

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
            groups = {name: count.stats() for name, count in self._group_stats.items()}
            total = sum(statuses.values())
            first, last, peak = self._first_at, self._last_at, self._peak_in_flight
            return SandboxStats(total, statuses, first, last, groups, peak_in_flight=peak)

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        """Counts the requests being answered at once (the server's part), for the stats."""
        with self._lock:
            self._in_flight += 1
            self._peak_in_flight = max(self._peak_in_flight, self._in_flight)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    # Answering requests (from any thread)

    def handle(self, request: Request) -> Reply:
        """The answer to one request, as Close would give it (faults included)."""
        if request.path == STATS_PATH and request.method == "GET":
            return Reply(200, encode(self.stats().as_json()))
        route = _route(request.method, request.path)
        arrived = time.monotonic()
        wall = time.time()
        with self._lock:
            reply, applied, fault = self._decide(request, route, arrived)
            self._count(reply.status, wall, route.group)
            reply = self._delayed(reply, wall)
            if self.config.keep_log:
                self._log.append(_entry(request, route, reply, applied, fault, arrived))
        return reply

    def _count(self, status: int | None, wall: float, group: str) -> None:
        self._statuses[status or 0] += 1
        if self._first_at is None:
            self._first_at = wall
        self._last_at = wall
        count = self._group_stats.setdefault(group, _GroupCount(Counter(), [wall, wall], [wall, 0]))
        count.count(status or 0, wall, self.config.rate_window)

    def _delayed(self, reply: Reply, wall: float) -> Reply:
        """The reply with this request's answer time added, and without its RateLimit header
        when the config says so."""
        config = self.config
        latency_ms = config.latency_ms
        elapsed = wall - (self._first_at or wall)
        for after, step_ms in config.latency_steps:
            if elapsed >= after:
                latency_ms = step_ms
        if config.latency_spread and latency_ms:
            spread = config.latency_spread
            latency_ms *= self._rng.lognormvariate(-spread * spread / 2, spread)  # same mean
        headers = reply.headers
        if not config.rate_limit_headers:
            headers = tuple((name, value) for name, value in headers if name != "RateLimit")
        return replace(reply, delay=reply.delay + latency_ms / 1000, headers=headers)

    def _decide(
        self, request: Request, route: _Route, now: float
    ) -> tuple[Reply, bool, Fault | None]:
        credential = self._authenticate(request.headers.get("authorization", ""))
        quota = self._limiter.hit((credential, route.group), now)
        if credential is None:
            return access.unauthorized(quota), False, None
        if not quota.allowed:
            return access.too_many(quota), False, None
        fault = self._next_fault(route, request.method)
        if fault in REFUSALS:
            return access.refusal(fault, quota), False, fault
        result = self._dispatch(request, route)
        if fault is Fault.SEND_ERROR and result.applied and route.activity_id is not None:
            result = replace(result, payload=self._fail_send(route.activity_id))
        reply = Reply(result.status, encode(result.payload), quota.headers())
        return access.with_fault(reply, fault, self.config.slow_ms), result.applied, fault

    def _authenticate(self, header: str) -> str | None:
        """The name of the credential used, or None when it must be refused."""
        credential = access.credential(header, self.config)
        if credential is None or self._auth_budget is None:
            return credential
        if self._auth_budget == 0:
            return None
        self._auth_budget -= 1
        return credential

    def _next_fault(self, route: _Route, method: str) -> Fault | None:
        if route.kind == "list" and self._list_faults:
            return self._list_faults.popleft()
        queue = self._faults.get(route.activity_id) if route.activity_id is not None else None
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

    def _dispatch(self, request: Request, route: _Route) -> _Result:
        if route.kind is None:
            return _Result(404, {"error": f"Not found: {request.method} {request.path}"})
        if not route.allowed:
            return _Result(405, {"error": f"Method {request.method} is not allowed here."})
        if route.activity_id is None:
            page = list_page(request.query, self._index, self._current, self.config)
            return _Result(page.status, page.payload)
        activity = self._current(route.activity_id)
        if activity is None:
            return _Result(404, {"error": "Object does not exist."})
        if request.method == "GET":
            return _Result(200, project(activity, request.query.get("_fields")))
        return self._update(route.activity_id, activity, request)

    def _update(self, activity_id: str, activity: dict[str, Any], request: Request) -> _Result:
        body = request.data
        if body is None:
            return _Result(400, {"error": "The request body must be a JSON object."})
        ctx = UpdateContext(
            self._clock(), request.headers.get("x-tz-offset"), self.config.org_phones
        )
        errors = update_errors(activity["status"], body, ctx)
        if errors:
            return _Result(400, {"errors": [], "field-errors": errors})
        applied = self._apply(activity_id, activity, body, ctx)
        return _Result(200, self._current(activity_id), applied)

    def _apply(
        self, activity_id: str, activity: dict[str, Any], body: dict[str, Any], ctx: UpdateContext
    ) -> bool:
        before = dict(activity)
        activity |= changes(body, ctx)
        if "status" in body:
            self._send_at.pop(activity_id, None)
            if (when := send_time(body, ctx)) is not None:
                self._send_at[activity_id] = when
        if body.get("status") in SENDING_STATUSES:
            self._sends[activity_id] += 1
        changed = activity != before
        if changed:
            activity |= {"date_updated": iso(ctx.now), "updated_by": USER[0]}
            self._keep(activity_id, activity)
        return changed

    def _fail_send(self, activity_id: str) -> dict[str, Any] | None:
        """Fault.SEND_ERROR: a send done now ends in error at once, one due later when due."""
        if activity_id in self._send_at:
            self._failing.add(activity_id)
        activity = self._current(activity_id)
        if activity is not None and activity["status"] == "sent":
            activity |= SEND_FAILED
            self._keep(activity_id, activity)
        return self._current(activity_id)

    def _current(self, activity_id: str) -> dict[str, Any] | None:
        """The stored activity, after any scheduled or delayed send that is now due."""
        activity = self._activities.get(activity_id)
        if activity is None:
            activity = self._implicit(activity_id)
        when = self._send_at.get(activity_id)
        if activity is not None and when is not None and when <= self._clock():
            failed = activity_id in self._failing
            self._failing.discard(activity_id)
            activity |= SEND_FAILED if failed else {"status": "sent", "date_sent": iso(when)}
            del self._send_at[activity_id]
            self._keep(activity_id, activity)
        return activity

    def _implicit(self, activity_id: str) -> dict[str, Any] | None:
        """With config.any_id, the draft this id stands for, with its changes so far."""
        if not self.config.any_id or stands_for_missing(activity_id):
            return None
        return self._draft(activity_id) | self._changed.get(activity_id, {})

    def _draft(self, activity_id: str) -> dict[str, Any]:
        return new_activity(activity_id, self.config.org_phones[0], self._born)

    def _keep(self, activity_id: str, activity: dict[str, Any]) -> None:
        """Store a changed activity; an implicit draft keeps only what differs (memory)."""
        if activity_id in self._activities:
            return  # changed in place
        draft = self._draft(activity_id)
        self._changed[activity_id] = {k: v for k, v in activity.items() if draft[k] != v}


def _entry(
    request: Request, route: _Route, reply: Reply, applied: bool, fault: Fault | None, at: float
) -> LogEntry:
    return LogEntry(
        method=request.method,
        path=request.path,
        activity_id=route.activity_id,
        body=request.data,
        status_code=reply.status,
        applied=applied,
        fault=fault,
        at=at,
        query=dict(request.query) if route.kind == "list" else None,
    )
