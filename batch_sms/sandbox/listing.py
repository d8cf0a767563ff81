"""GET /activity/sms/: which SMS a list request matches, in which order, and which page.

As Close does (docs/close-api.md): newest first by `date_created` (SMS created in the same
instant in the order they were stored, the same for every request), filters on ids, leads,
contacts, users and creation dates, `_limit` and `_skip` each with a cap, and no filter on
status.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from batch_sms.sandbox.activities import project
from batch_sms.sandbox.config import SandboxOptions

Lookup = Callable[[str], "dict[str, Any] | None"]

# Filters that take a comma-separated list of ids, and the field each one matches.
_ID_FILTERS = {"lead_id": "lead_id", "contact_id": "contact_id", "user_id": "user_id"}
_DATE_FILTERS = ("date_created__gt", "date_created__gte", "date_created__lt", "date_created__lte")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DEFAULT_LIMIT = 100


@dataclass(frozen=True)
class Page:
    status: int
    payload: dict[str, Any]


class BadQuery(ValueError):
    """A list request Close would answer 400; the message is Close's error."""


@dataclass(frozen=True)
class ListQuery:
    limit: int
    skip: int
    fields: str | None
    ids: tuple[str, ...] | None
    matches: Mapping[str, frozenset[str]]  # field -> the values it may have
    after: tuple[datetime, bool] | None  # (moment, inclusive)
    before: tuple[datetime, bool] | None

    def wants(self, activity: Mapping[str, Any]) -> bool:
        return all(activity.get(key) in values for key, values in self.matches.items())

    def too_old(self, created: datetime) -> bool:
        if self.after is None:
            return False
        moment, inclusive = self.after
        return created < moment or (created == moment and not inclusive)

    def too_new(self, created: datetime) -> bool:
        if self.before is None:
            return False
        moment, inclusive = self.before
        return created > moment or (created == moment and not inclusive)


def parse_query(query: Mapping[str, str], config: SandboxOptions) -> ListQuery:
    """The list request's parameters, checked as Close checks them; BadQuery otherwise."""
    limit = _whole(query, "_limit", min(DEFAULT_LIMIT, config.max_limit))
    skip = _whole(query, "_skip", 0)
    if limit < 1 or skip < 0:
        raise BadQuery("_limit must be at least 1 and _skip at least 0.")
    if limit > config.max_limit:
        raise BadQuery(f"_limit must be at most {config.max_limit}.")
    if config.max_skip is not None and skip > config.max_skip:
        raise BadQuery(
            f"_skip must be at most {config.max_skip}. To go through a long list, narrow it "
            "down with date_created ranges instead."
        )
    dates = {name: _moment(name, query[name]) for name in _DATE_FILTERS if name in query}
    return ListQuery(
        limit=limit,
        skip=skip,
        fields=query.get("_fields") or None,
        ids=tuple(dict.fromkeys(query["id__in"].split(","))) if "id__in" in query else None,
        matches={
            field: frozenset(query[name].split(","))
            for name, field in _ID_FILTERS.items()
            if name in query
        },
        after=_bound(dates, "date_created__gt", "date_created__gte", max),
        before=_bound(dates, "date_created__lt", "date_created__lte", min),
    )


def _whole(query: Mapping[str, str], name: str, default: int) -> int:
    try:
        return int(query.get(name, default))
    except ValueError:
        raise BadQuery("_limit must be at least 1 and _skip at least 0.") from None


def _moment(name: str, value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadQuery(f"{name}: {value!r} is not a date or an ISO 8601 datetime.") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _bound(
    dates: dict[str, datetime], strict: str, inclusive: str, tighter: Callable[..., Any]
) -> tuple[datetime, bool] | None:
    """The tighter of a strict and an inclusive bound on the same side, if any is given."""
    given = [(dates[strict], False)] if strict in dates else []
    given += [(dates[inclusive], True)] if inclusive in dates else []
    if not given:
        return None
    moment = tighter(moment for moment, _ in given)
    # At the same moment, the strict bound is the tighter one.
    return moment, all(inclusive for at, inclusive in given if at == moment)


class ListIndex:
    """Stored SMS ids, newest first by date_created, for lists that need not scan them all."""

    def __init__(self) -> None:
        self._created: dict[str, datetime] = {}
        self._ids: list[str] = []
        self._keys: list[int] = []  # minus each creation time: ascending for bisect
        self._stale = False

    def add(self, activity_id: str, created: datetime) -> None:
        self._created.pop(activity_id, None)  # overwritten: stored again, after the others
        self._created[activity_id] = created
        self._stale = True

    def created(self, activity_id: str) -> datetime | None:
        return self._created.get(activity_id)

    def newest_first(self, query: ListQuery) -> Iterator[str]:
        """Ids from the newest allowed by the query's upper date bound, newest first."""
        self._refresh()
        start = 0
        if query.before is not None:
            moment, inclusive = query.before
            key = -_microseconds(moment)
            find = bisect.bisect_left if inclusive else bisect.bisect_right
            start = find(self._keys, key)
        return iter(self._ids[start:])

    def _refresh(self) -> None:
        if not self._stale:
            return
        # A stable sort: SMS created in the same instant stay in the order they were stored.
        ordered = sorted(self._created.items(), key=lambda item: -_microseconds(item[1]))
        self._ids = [activity_id for activity_id, _ in ordered]
        self._keys = [-_microseconds(created) for _, created in ordered]
        self._stale = False


def _microseconds(moment: datetime) -> int:
    """An exact sort key: floats would merge SMS created a microsecond apart."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def list_page(
    query: Mapping[str, str], index: ListIndex, lookup: Lookup, config: SandboxOptions
) -> Page:
    """The page a list request asks for, or Close's 400 for a request it refuses."""
    try:
        parsed = parse_query(query, config)
    except BadQuery as error:
        return Page(400, {"error": str(error)})
    wanted = parsed.skip + parsed.limit
    found = []
    for activity in _matching(parsed, index, lookup):
        found.append(activity)
        if len(found) > wanted:
            break
    page = [project(a, parsed.fields) for a in found[parsed.skip : wanted]]
    return Page(200, {"data": page, "has_more": len(found) > wanted})


def _matching(query: ListQuery, index: ListIndex, lookup: Lookup) -> Iterator[dict[str, Any]]:
    if query.ids is not None:
        yield from _by_ids(query, index, lookup)
        return
    for activity_id in index.newest_first(query):
        created = index.created(activity_id)
        assert created is not None
        if query.too_old(created):
            return  # newest first: every later one is older still
        activity = lookup(activity_id)
        if activity is not None and query.wants(activity):
            yield activity


def _by_ids(query: ListQuery, index: ListIndex, lookup: Lookup) -> Iterator[dict[str, Any]]:
    """The SMS asked for by id that exist, newest first (in the order asked when created in
    the same instant)."""
    assert query.ids is not None
    found = [a for a in map(lookup, query.ids) if a is not None]
    found.sort(key=lambda activity: -_microseconds(_created(activity)))
    for activity in found:
        created = _created(activity)
        if query.wants(activity) and not (query.too_old(created) or query.too_new(created)):
            yield activity


def _created(activity: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(activity["date_created"])
