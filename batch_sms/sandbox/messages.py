"""The plain data a sandbox model takes and gives: a request in, a reply out, no sockets.

The HTTP server and the in-process mock transport both turn their requests into `Request` and
play back the `Reply`, so that the two serve exactly the same answers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the query string, like /api/v1/activity/sms/acti_1/
    query: Mapping[str, str]
    headers: Mapping[str, str]  # names in lower case
    data: dict[str, Any] | None  # the body, when it is a JSON object


@dataclass(frozen=True)
class Reply:
    status: int | None  # None: close the connection without answering
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0  # seconds to wait before answering

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def encode(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def json_object(raw: bytes) -> dict[str, Any] | None:
    """A request body as a JSON object, or None when it is empty, not JSON or not an object."""
    try:
        data = json.loads(raw) if raw else None
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None
