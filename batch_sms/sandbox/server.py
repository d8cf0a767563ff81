"""The sandbox over real HTTP on loopback: a ThreadingHTTPServer in front of a `SandboxModel`.

`batch-sms run --sandbox`, the end-to-end tests and the benchmarks talk to it exactly as they
would talk to api.close.com (see docs/close-api.md). This module only carries bytes: it turns
each HTTP request into a `Request`, asks the model, and plays back its `Reply`, waiting when
the reply says so and hanging up when it has no answer. It uses only the standard library.
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from batch_sms.sandbox.config import Fault, SandboxOptions
from batch_sms.sandbox.messages import Reply, Request, json_object
from batch_sms.sandbox.model import LogEntry, SandboxModel, SandboxStats, utc_now

_POLL_SECONDS = 0.01  # how long stop() may wait for the accept loop to notice
_DEFAULT_CONFIG = SandboxOptions()


class Sandbox:
    """Close's SMS endpoints on 127.0.0.1, in a background thread.

    Example: `with Sandbox() as sb: sb.seed_drafts(["acti_1"])`, then point the client at
    `sb.base_url` with `sb.config.api_key` as the API key. The state and its set-up live in
    `sb.model`; the set-up methods are repeated here for convenience.
    """

    def __init__(
        self,
        config: SandboxOptions = _DEFAULT_CONFIG,
        port: int = 0,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.model = SandboxModel(config, clock=clock)
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    @property
    def config(self) -> SandboxOptions:
        return self.model.config

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

    # The model's set-up and inspection, for convenience

    def add_activity(self, activity_id: str, **fields: Any) -> dict[str, Any]:
        """Create or overwrite one SMS activity: a draft unless `fields` say otherwise."""
        return self.model.add_activity(activity_id, **fields)

    def seed_drafts(self, activity_ids: Iterable[str]) -> int:
        """Add drafts, except ids that stand for missing ones, which stay unknown (404)."""
        return self.model.seed_drafts(activity_ids)

    def activity(self, activity_id: str) -> dict[str, Any] | None:
        return self.model.activity(activity_id)

    def inject(self, activity_id: str, *faults: Fault) -> None:
        """Queue faults: each next request for this id (any method) consumes one, in order."""
        self.model.inject(activity_id, *faults)

    def inject_list(self, *faults: Fault | None) -> None:
        """Queue faults for the list endpoint; None lets a list request through."""
        self.model.inject_list(*faults)

    def revoke_credentials_after(self, requests: int) -> None:
        """After this many more authenticated requests, refuse every credential with 401."""
        self.model.revoke_credentials_after(requests)

    @property
    def log(self) -> list[LogEntry]:
        return self.model.log

    def sends(self, activity_id: str) -> int:
        """How many applied PUTs moved this activity to outbox or scheduled."""
        return self.model.sends(activity_id)

    def stats(self) -> SandboxStats:
        return self.model.stats()

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


def _shut(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed by its own thread


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
        with sandbox.model.answering():
            reply = sandbox.model.handle(request)  # its delay holds the answer time
            if not sandbox._pause(reply.delay) or reply.status is None:
                self.close_connection = True  # no answer at all: the client sees a disconnect
                return
            self._send(reply)

    def _request(self) -> Request | None:
        body = self._read_body()
        if body is None:
            return None
        url = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        query = dict(parse_qsl(url.query))
        return Request(self.command, url.path, query, headers, json_object(body))

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

    def _send(self, reply: Reply) -> None:
        assert reply.status is not None
        self.send_response(reply.status)
        if not any(name == "Content-Type" for name, _ in reply.headers):
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)
