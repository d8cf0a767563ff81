"""Every SMS of a list query, each exactly once, however long the list: paged by creation
time, not by a growing `_skip`, which Close caps.

Relies on one thing (docs/close-api.md, "How export lists every SMS exactly once"): Close lists
SMS newest first by `date_created`, those created in the same instant in the same order each
time. Every page is checked for it; a page out of order stops the walk (ListingError) rather
than let an SMS be missed or written twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from batch_sms.close.client import CloseAPIError, ListPage

Fetch = Callable[[Mapping[str, str]], Awaitable[ListPage]]
Sms = dict[str, Any]

# The walk owns these: the user's creation window goes into the first request only, and every
# later bound lies inside it.
_UPPER = ("date_created__lt", "date_created__lte")
_LOWER = ("date_created__gt", "date_created__gte")


class ListingError(Exception):
    """Close's list broke a rule the export relies on; the message says which."""


@dataclass
class _Boundary:
    """The oldest creation time reached so far, as Close wrote it, and the SMS seen at it."""

    raw: str
    moment: datetime
    seen: set[str] = field(default_factory=set)


async def walk(fetch: Fetch, query: Mapping[str, str], page_size: int) -> AsyncIterator[Sms]:
    """Every SMS that `query` matches, newest first, each once."""
    boundary: _Boundary | None = None
    params = dict(query)
    while True:
        page = await fetch(params | {"_limit": str(page_size)})
        created = _check_page(page, boundary)
        for sms, moment in zip(page.data, created, strict=True):
            if boundary is None or moment != boundary.moment or sms["id"] not in boundary.seen:
                yield sms
        if not page.has_more:
            return
        boundary = _next_boundary(page, created, boundary)
        if all(moment == boundary.moment for moment in created):
            # A whole page created in one instant: page through that instant on its own.
            async for sms in _instant(fetch, query, boundary, page_size):
                yield sms
            params = _without(query, _UPPER) | {"date_created__lt": boundary.raw}
            boundary = None
        else:
            params = _without(query, _UPPER) | {"date_created__lte": boundary.raw}


def _next_boundary(
    page: ListPage, created: list[datetime], boundary: _Boundary | None
) -> _Boundary:
    oldest = created[-1]
    raw = str(page.data[-1]["date_created"])
    seen = boundary.seen if boundary is not None and boundary.moment == oldest else set()
    seen |= {sms["id"] for sms, moment in zip(page.data, created, strict=True) if moment == oldest}
    return _Boundary(raw, oldest, seen)


async def _instant(
    fetch: Fetch, query: Mapping[str, str], boundary: _Boundary, page_size: int
) -> AsyncIterator[Sms]:
    """The SMS created in the boundary's instant and not seen yet, with `_skip` within it."""
    params = _without(query, _UPPER + _LOWER) | {
        "date_created__gte": boundary.raw,
        "date_created__lte": boundary.raw,
    }
    skip = 0
    while True:
        page = await _fetch_skipping(fetch, params | {"_limit": str(page_size)}, skip, boundary)
        for sms, moment in zip(page.data, _check_page(page, None), strict=True):
            if moment != boundary.moment:
                raise ListingError(
                    f"asked for the SMS created at {boundary.raw}, Close listed {sms['id']} "
                    f"created at {sms['date_created']}"
                )
            if sms["id"] not in boundary.seen:
                boundary.seen.add(sms["id"])
                yield sms
        if not page.has_more:
            return
        skip += len(page.data)


async def _fetch_skipping(
    fetch: Fetch, params: dict[str, str], skip: int, boundary: _Boundary
) -> ListPage:
    try:
        return await fetch(params | ({"_skip": str(skip)} if skip else {}))
    except CloseAPIError as error:
        if error.status_code != 400 or not skip:
            raise
        raise ListingError(
            f"more than {skip:,} SMS were created in the same instant ({boundary.raw}), and "
            f"Close refuses to skip further ({error.message}); they cannot all be listed"
        ) from None


def _check_page(page: ListPage, boundary: _Boundary | None) -> list[datetime]:
    """Each SMS's creation time, after checking that the page is newest first and starts no
    later than the boundary; ListingError otherwise."""
    created = [_created(sms) for sms in page.data]
    if page.has_more and not created:
        raise ListingError("Close answered an empty page that says more follow")
    if boundary is not None and created and created[0] > boundary.moment:
        raise ListingError(
            f"asked for SMS created at {boundary.raw} or before, Close listed "
            f"{page.data[0]['id']} created at {page.data[0]['date_created']}"
        )
    for before, after, sms in zip(created, created[1:], page.data[1:], strict=False):
        if after > before:
            raise ListingError(
                f"Close did not list the SMS newest first ({sms['id']}, created at "
                f"{sms['date_created']}, came after one created at {before.isoformat()})"
            )
    return created


def _created(sms: Mapping[str, Any]) -> datetime:
    value, activity_id = sms.get("date_created"), sms.get("id")
    if not isinstance(activity_id, str) or not isinstance(value, str):
        raise ListingError(f"Close listed an SMS without an id or a date_created: {sms!r:.200}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ListingError(f"{activity_id} has date_created {value!r}, not a date") from None
    if moment.tzinfo is None:
        raise ListingError(f"{activity_id} has date_created {value!r}, without a UTC offset")
    return moment


def _without(query: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    return {name: value for name, value in query.items() if name not in names}
