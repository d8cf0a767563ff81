"""An HTTP transport whose cost per request does not grow with the number of connections.

httpx hands each request to httpcore's connection pool, and httpcore 1.0 re-examines every
connection against every other one each time a request comes or goes, and polls every idle
socket as it does (encode/httpcore#1035, still open in 1.0.9). With the 8 connections of a
fixed --concurrency 8 that cost nothing; with the 200 that riding 200 requests a second at 1 s
an answer needs, it was 30 ms of CPU per request, twenty times the rest of the client's work.

`_LinearPool` does the same job in one pass: a request takes the least recently used idle
connection to its server (checked for a server-side close only then), else a new one while
under the limit, else the place of an idle one. Closed, expired and surplus idle connections
are swept at most once per SWEEP_EVERY seconds instead of on every request. Least recently
used, because runs send in bursts: connections left idle past httpx's keep-alive (5 s) would be
closed, then opened again for the next big burst, and a new connection takes the server a while
to accept. On HTTP/1.1 a connection handed to a request that has not started on it yet is not
handed to another: httpcore's pool does, the loser fails and goes round again, and with a
hundred requests arriving at once that was ten passes per request (as fixed in the httpx2
fork, pull request 1075). It only replaces the assignment method of the httpcore versions it
was written against; with any other, the stock pool is used.
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpcore
import httpx

SWEEP_EVERY = 1.0  # seconds between looks for closed, expired and surplus idle connections
_KNOWN_HTTPCORE = re.compile(r"1\.0\.\d+$")


def pooled_transport(max_connections: int) -> httpx.AsyncBaseTransport:
    """httpx's own transport, with up to `max_connections` kept alive, and the linear pool."""
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    transport = httpx.AsyncHTTPTransport(limits=limits)
    pool = getattr(transport, "_pool", None)
    if type(pool) is httpcore.AsyncConnectionPool and _KNOWN_HTTPCORE.match(httpcore.__version__):
        pool.__class__ = _LinearPool
    return transport


class _LinearPool(httpcore.AsyncConnectionPool):
    _swept_at = -SWEEP_EVERY

    def _assign_requests_to_connections(self) -> list[Any]:
        closing: list[Any] = []
        now = time.monotonic()
        if now - self._swept_at >= SWEEP_EVERY:
            self._swept_at = now
            self._sweep(closing)
        queued = [r for r in self._requests if r.connection is None]
        if not queued:
            return closing
        taken = set() if self._http2 else {id(r.connection) for r in self._requests}
        for pool_request in queued:
            origin = pool_request.request.url.origin
            connection = self._reusable(origin, closing, taken) or self._new(origin, closing, taken)
            if connection is None:
                break  # every connection is busy: the next answer frees one
            taken.add(id(connection))
            pool_request.assign_to_connection(connection)
        return closing

    def _sweep(self, closing: list[Any]) -> None:
        kept: list[Any] = []
        idle = 0
        for connection in self._connections:
            if connection.is_closed():
                continue
            if connection.has_expired():
                closing.append(connection)
                continue
            if connection.is_idle():
                idle += 1
                if idle > self._max_keepalive_connections:
                    closing.append(connection)
                    continue
            kept.append(connection)
        self._connections[:] = kept

    def _reusable(self, origin: httpcore.Origin, closing: list[Any], taken: set[int]) -> Any:
        while True:
            connection = next(
                (
                    c
                    for c in self._connections
                    if id(c) not in taken and c.can_handle_request(origin) and c.is_available()
                ),
                None,
            )
            if connection is None:
                return None
            if not connection.has_expired():
                self._connections.remove(connection)
                self._connections.append(connection)
                return connection
            self._connections.remove(connection)  # the server closed it while it was idle
            closing.append(connection)

    def _new(self, origin: httpcore.Origin, closing: list[Any], taken: set[int]) -> Any:
        if len(self._connections) >= self._max_connections:
            self._sweep(closing)
        if len(self._connections) >= self._max_connections:
            idle = next((c for c in self._connections if id(c) not in taken and c.is_idle()), None)
            if idle is None:
                return None
            self._connections.remove(idle)
            closing.append(idle)
        connection = self.create_connection(origin)
        self._connections.append(connection)
        return connection
