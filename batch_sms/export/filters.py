"""Which SMS an export asks Close for, checked before any request is made.

Close's SMS list filters by lead, contact, user and creation time, but not by status
(docs/close-api.md): statuses are kept on our side, from every SMS the filters list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from batch_sms import rules
from batch_sms.checks.times import TimeError, place

# Several ids go in one `lead_id` filter, comma-separated; a batch this size keeps the address
# short (about 2.5 KB) and the walks few. 1 asks one lead per request.
LEADS_PER_REQUEST = 50
# The id filters of the SMS list, and the id prefix each takes.
ID_FILTERS = {"lead_id": "lead_", "contact_id": "cont_", "user_id": "user_"}
_ID = re.compile(r"^[a-z]+_[0-9A-Za-z]{4,64}$")


@dataclass(frozen=True)
class ExportFilters:
    """What to export. Ids and times are checked when the filters are made."""

    statuses: tuple[str, ...] = ("draft",)
    lead_ids: tuple[str, ...] = ()
    contact_ids: tuple[str, ...] = ()
    user_ids: tuple[str, ...] = ()
    created_after: datetime | None = None
    created_before: datetime | None = None

    def __post_init__(self) -> None:
        unknown = [status for status in self.statuses if status not in rules.STATUSES]
        if unknown or not self.statuses:
            raise ValueError(f"statuses must be some of {', '.join(rules.STATUSES)}")
        for name, ids in (
            ("lead_id", self.lead_ids),
            ("contact_id", self.contact_ids),
            ("user_id", self.user_ids),
        ):
            for value in ids:
                check_id(name, value)
        after, before = self.created_after, self.created_before
        if after is not None and before is not None and after >= before:
            raise ValueError(
                f"the creation window is empty: {after.isoformat()} is not before "
                f"{before.isoformat()}"
            )

    def queries(self) -> Iterator[dict[str, str]]:
        """The list queries that together cover the filters: one, or one per batch of leads."""
        base = self._base()
        if not self.lead_ids:
            yield base
            return
        leads = list(dict.fromkeys(self.lead_ids))
        for start in range(0, len(leads), LEADS_PER_REQUEST):
            yield base | {"lead_id": ",".join(leads[start : start + LEADS_PER_REQUEST])}

    def _base(self) -> dict[str, str]:
        query = {}
        if self.contact_ids:
            query["contact_id"] = ",".join(dict.fromkeys(self.contact_ids))
        if self.user_ids:
            query["user_id"] = ",".join(dict.fromkeys(self.user_ids))
        if self.created_after is not None:
            query["date_created__gt"] = self.created_after.astimezone(UTC).isoformat()
        if self.created_before is not None:
            query["date_created__lt"] = self.created_before.astimezone(UTC).isoformat()
        return query


def check_id(filter_name: str, value: str) -> str:
    """`value` when it is an id of the kind the filter takes; ValueError naming the kind."""
    prefix = ID_FILTERS[filter_name]
    if not (_ID.match(value) and value.startswith(prefix)):
        raise ValueError(f"'{value}' is not a Close {filter_name[:-3]} id ({prefix}...)")
    return value


def parse_when(value: str, zone: tzinfo | None) -> datetime:
    """A --created-after/--created-before value: an ISO 8601 date (its midnight) or date and
    time; without a UTC offset it is read in `zone`. ValueError says what is wrong."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"'{value}' is not an ISO 8601 date, or date and time, like 2026-01-31 or "
            "2026-01-31T09:00:00-05:00"
        ) from None
    if moment.tzinfo is not None:
        return moment
    if zone is None:
        raise ValueError(
            f"'{value}' has no UTC offset: in which time zone? Pass --timezone (e.g. "
            f"Europe/Berlin), or write it with its offset, like {moment:%Y-%m-%dT%H:%M}Z"
        )
    try:
        return place(moment, zone, value)
    except TimeError as error:
        raise ValueError(str(error)) from None


def unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))
