"""The sandbox model behind an `httpx.MockTransport`: the same answers as over HTTP, in-process,
for fast tests of code that takes a transport (like `CloseClient(..., transport=...)`).

A dropped answer (`Fault.DROP_AFTER_APPLY`) raises `httpx.RemoteProtocolError`, as a closed
connection does; a delayed one (`Fault.SLOW`, `latency_ms`) raises `httpx.ReadTimeout` when the
delay is longer than the request's read timeout, and otherwise comes at once.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import httpx

from batch_sms.sandbox.messages import Reply, Request, json_object
from batch_sms.sandbox.model import SandboxModel


def mock_transport(model: SandboxModel) -> httpx.MockTransport:
    """A transport for httpx.Client or httpx.AsyncClient that answers from `model`."""

    def answer(request: httpx.Request) -> httpx.Response:
        reply = model.handle(_request(request))  # its delay holds the answer time
        return _response(request, reply)

    return httpx.MockTransport(answer)


def _request(request: httpx.Request) -> Request:
    # The URL as it goes on the wire, read the way the HTTP server reads it.
    url = urlsplit(str(request.url))
    headers = {name.lower(): value for name, value in request.headers.items()}
    query = dict(parse_qsl(url.query))
    return Request(request.method, url.path, query, headers, json_object(request.read()))


def _response(request: httpx.Request, reply: Reply) -> httpx.Response:
    read_timeout = request.extensions.get("timeout", {}).get("read")
    if read_timeout is not None and reply.delay > read_timeout:
        raise httpx.ReadTimeout("the sandbox answered after the read timeout", request=request)
    if reply.status is None:
        raise httpx.RemoteProtocolError(
            "Server disconnected without sending a response.", request=request
        )
    given = any(name == "Content-Type" for name, _ in reply.headers)
    headers = [*([] if given else [("Content-Type", "application/json")]), *reply.headers]
    return httpx.Response(reply.status, headers=headers, content=reply.body)
