"""A server on loopback that answers as Close would not: web pages, other activities' ids,
endless or trickled bodies, absurd headers, deep JSON, escape sequences. Raw sockets, so that
it can break HTTP itself where a test needs it.

Each request is passed to a `Behaviour`, which returns the `Answer` to write: `close_like`
answers as Close would, and the tests wrap it to misbehave where they choose.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

MAX_HEAD = 65_536


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names in lower case
    body: bytes

    @property
    def activity_id(self) -> str | None:
        """The id of a one-SMS path (`.../activity/sms/ID/`), None for the list."""
        tail = self.path.rstrip("/").rsplit("/", 1)[-1]
        return None if tail == "sms" else tail

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass(frozen=True)
class Answer:
    """Bytes to write, each part after its pause (seconds); `endless` keeps writing its last
    part until the client hangs up."""

    parts: tuple[tuple[float, bytes], ...]
    endless: bool = False


Behaviour = Callable[[Request], Answer]


def head(status: int, headers: dict[str, str], reason: str = "Whatever") -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def answer(
    status: int,
    body: bytes = b"",
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> Answer:
    fields = {"Content-Type": content_type, "Content-Length": str(len(body)), **(headers or {})}
    return Answer(((0.0, head(status, fields) + body),))


def json_answer(status: int, payload: Any, headers: dict[str, str] | None = None) -> Answer:
    return answer(status, json.dumps(payload).encode(), headers=headers)


HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Welcome to the guest Wi-Fi</title></head>"
    b"<body><h1>Please accept our terms</h1><form>...</form></body></html>"
)


def html_page(status: int = 200) -> Answer:
    return answer(status, HTML_PAGE, "text/html; charset=utf-8")


def endless(chunk: bytes = b"[" * 65_536) -> Answer:
    """A chunked body that never ends."""
    fields = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    piece = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    return Answer(((0.0, head(200, fields)), (0.0, piece)), endless=True)


def trickle(body: bytes, every: float) -> Answer:
    """A body sent one byte at a time, `every` seconds apart: never a read timeout."""
    fields = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    drops = tuple((every, body[i : i + 1]) for i in range(len(body)))
    return Answer(((0.0, head(200, fields)), *drops))


def raw(data: bytes) -> Answer:
    return Answer(((0.0, data),))


@dataclass
class CloseLike:
    """Answers as Close would, keeping each SMS's state (a draft at first): the default
    behaviour that the tests override request by request."""

    states: dict[str, dict[str, Any]] = field(default_factory=dict)

    def state(self, activity_id: str) -> dict[str, Any]:
        draft = {"id": activity_id, "status": "draft", "text": "old", "error_message": None}
        return self.states.setdefault(activity_id, draft)

    def __call__(self, request: Request) -> Answer:
        if request.activity_id is None:
            ids = request.query.get("id__in", "").split(",")
            return json_answer(200, {"data": [self.state(i) for i in ids], "has_more": False})
        if request.method == "PUT":
            return json_answer(200, self.apply(request.activity_id, request.json))
        return json_answer(200, self.state(request.activity_id))

    def apply(self, activity_id: str, body: dict[str, Any]) -> dict[str, Any]:
        state = self.state(activity_id)
        state.update(body)
        if body.get("status") == "outbox":
            state["status"] = "sent"
        return state


class HostileServer:
    """Serves `behaviour` on 127.0.0.1 in background threads; records every request."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.requests: list[Request] = []
        self.stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.hostile = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/v1/"

    def puts(self) -> list[Request]:
        return [r for r in self.requests if r.method == "PUT"]

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    hostile: HostileServer


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        connection: socket.socket = self.request
        connection.settimeout(5)
        request = _read_request(connection)
        if request is None:
            return
        hostile = self.server.hostile
        hostile.requests.append(request)
        try:
            for data in _parts(hostile.behaviour(request), hostile.stopping):
                connection.sendall(data)
        except OSError:
            pass  # the client hung up, which is what a cut-off answer comes to


def _parts(answer: Answer, stopping: threading.Event) -> Iterator[bytes]:
    for pause, data in answer.parts:
        if pause and stopping.wait(pause):
            return
        yield data
    while answer.endless and not stopping.is_set():
        yield answer.parts[-1][1]


def _read_request(connection: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65_536)
        if not chunk or len(data) > MAX_HEAD:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    deadline = time.monotonic() + 5
    while len(body) < length and time.monotonic() < deadline:
        body += connection.recv(65_536)
    url = urlsplit(target)
    return Request(method, url.path, dict(parse_qsl(url.query)), headers, body)
