"""GET /activity/sms/: which SMS a list request matches, and which page of them it gets."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from batch_sms.sandbox.activities import project

Lookup = Callable[[str], "dict[str, Any] | None"]


@dataclass(frozen=True)
class Page:
    status: int
    payload: dict[str, Any]


def list_page(query: Mapping[str, str], stored: Iterable[str], lookup: Lookup) -> Page:
    """The page a list request asks for: the `id__in` ids (else every stored SMS) that exist,
    cut by `_skip` and `_limit`, with only the `_fields` asked for."""
    try:
        limit, skip = int(query.get("_limit", 100)), int(query.get("_skip", 0))
    except ValueError:
        limit = skip = -1
    if limit < 1 or skip < 0:
        return Page(400, {"error": "_limit must be at least 1 and _skip at least 0."})
    wanted = query["id__in"].split(",") if "id__in" in query else list(stored)
    found = [a for a in map(lookup, dict.fromkeys(wanted)) if a is not None]
    page = [project(a, query.get("_fields")) for a in found[skip : skip + limit]]
    return Page(200, {"data": page, "has_more": skip + limit < len(found)})
