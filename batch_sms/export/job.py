"""An export, without a terminal: list the SMS the filters ask for and write each one that has
a wanted status to the file as it arrives, so that memory stays flat however many there are.

Every request goes through one pacer and is retried like the reads of a run. The file appears
whole at its path or not at all: a refused key, an unreachable or non-Close server, or a list
that breaks Close's own order stops the export (ExportAborted) and leaves no file behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from batch_sms import rules
from batch_sms.close.client import DEFAULT_BASE_URL, BadAnswer, CloseAPIError, CloseClient, ListPage
from batch_sms.close.describe import describe_transport_error
from batch_sms.close.paced import CREDENTIAL_STATUSES, RetryWait, paced_read
from batch_sms.close.pacing import Pacer, RateCap
from batch_sms.export import sheet
from batch_sms.export.filters import ID_FILTERS, ExportFilters
from batch_sms.export.pages import ListingError, walk
from batch_sms.files.tables import XLSX_SUFFIX, open_table_writer
from batch_sms.job.stream import Connection

LIST = "GET activity/sms/"  # the endpoint group, as the sender names it
# Until Close has answered once, a request is tried this many more times at most: a wrong
# address or a server that is down should not keep the user waiting for the whole backoff.
FIRST_RETRIES = 2
Progress = Callable[[int, int], None]  # (SMS written, SMS listed) since the last call


@dataclass(frozen=True)
class ExportOptions:
    rate_cap: RateCap | None = None
    max_retries: int = 5
    """Retries of a list request after a 429, a 502-504 or a network error."""
    retry_wait: float = 0.5
    max_wait: float = 60.0
    page_size: int = rules.LIST_PAGE_SIZE


@dataclass(frozen=True)
class ExportReport:
    written: int
    """SMS written to the file: those with a wanted status."""
    listed: int
    """SMS that Close listed for the filters, whatever their status."""
    requests: int


class ExportAborted(Exception):
    """Close cannot be used for this export; nothing was written. The message says why."""


def export_sms(
    connection: Connection,
    filters: ExportFilters,
    out_path: Path,
    settings: ExportOptions = ExportOptions(),  # noqa: B008
    on_progress: Progress | None = None,
) -> ExportReport:
    """Write every SMS that `filters` select to `out_path` (CSV, or .xlsx by its name)."""
    return asyncio.run(export_sms_async(connection, filters, out_path, settings, on_progress))


async def export_sms_async(
    connection: Connection,
    filters: ExportFilters,
    out_path: Path,
    settings: ExportOptions = ExportOptions(),  # noqa: B008
    on_progress: Progress | None = None,
) -> ExportReport:
    """`export_sms` for code that runs in an event loop already."""
    client = CloseClient(
        connection.credentials,
        base_url=connection.base_url,
        timeout=connection.timeout,
        max_connections=1,  # one walk, one request at a time
        transport=connection.transport,
    )
    async with client:
        run = _Export(client, filters, settings, on_progress or (lambda written, listed: None))
        csv_file = out_path.suffix.lower() != XLSX_SUFFIX
        try:
            with open_table_writer(out_path, sheet.HEADER, links=sheet.LINKS) as writer:
                async for sms in run.matching():
                    writer.write_row(sheet.row(sms, quote_formulas=csv_file))
                    run.written += 1
        except CloseAPIError as error:
            raise ExportAborted(_refusal(error)) from None
        except httpx.TransportError as error:
            detail = describe_transport_error(error)
            raise ExportAborted(f"could not reach Close at {client.base_url} ({detail})") from None
        except BadAnswer as error:
            raise ExportAborted(_not_close(client, error)) from None
        except ListingError as error:
            raise ExportAborted(f"Close's list cannot be followed safely: {error}") from None
    return ExportReport(run.written, run.listed, run.requests)


@dataclass
class _Export:
    client: CloseClient
    filters: ExportFilters
    settings: ExportOptions
    on_progress: Progress
    written: int = 0
    listed: int = 0
    requests: int = 0
    answered: bool = False
    pacer: Pacer = field(init=False)
    wait: RetryWait = field(init=False)

    def __post_init__(self) -> None:
        self.pacer = Pacer(max_in_flight=1, cap=self.settings.rate_cap)
        self.wait = RetryWait(self.settings.retry_wait, self.settings.max_wait)

    async def matching(self) -> AsyncIterator[dict[str, Any]]:
        """Every listed SMS with a wanted status, query by query."""
        wanted = set(self.filters.statuses)
        for query in self.filters.queries():
            async for sms in self._listed(query | {"_fields": ",".join(sheet.FIELDS)}):
                self.listed += 1
                found = sms.get("status") in wanted
                if found:
                    yield sms
                self.on_progress(int(found), 1)

    async def _listed(self, query: dict[str, str]) -> AsyncIterator[dict[str, Any]]:
        """Every SMS of one query. A 400 to its first request, when a filter names several
        ids, is taken for a Close that wants one id per filter: the ids are asked one by one."""
        started = False
        asked = {name: set(query[name].split(",")) for name in ID_FILTERS if name in query}
        try:
            async for sms in walk(self._fetch, query, self.settings.page_size):
                started = True
                _check_filters(sms, asked)
                yield sms
        except CloseAPIError as error:
            if started or error.status_code != 400 or not _several_ids(query):
                raise
            for single in _one_id_each(query):
                async for sms in self._listed(single):
                    yield sms

    async def _fetch(self, params: Mapping[str, str]) -> ListPage:
        async def read() -> ListPage:
            self.requests += 1
            return await self.client.list_page(params)

        retries = self.settings.max_retries
        if not self.answered:
            retries = min(retries, FIRST_RETRIES)
        page = await paced_read(self.pacer, LIST, read, max_retries=retries, wait=self.wait)
        self.answered = True
        return page


def _check_filters(sms: Mapping[str, Any], asked: Mapping[str, set[str]]) -> None:
    """An SMS of another lead, contact or user than asked: Close ignored a filter, and the
    export would hold SMS nobody asked for (or, worse, miss some)."""
    for name, ids in asked.items():
        if sms.get(name) not in ids:
            shown = ", ".join(sorted(ids)[:3]) + (", ..." if len(ids) > 3 else "")
            raise ListingError(
                f"asked for the SMS of {name} {shown}, Close listed {sms.get('id')} "
                f"of {name} {sms.get(name)}: it did not apply the filter"
            )


def _several_ids(query: Mapping[str, str]) -> bool:
    return any("," in query[name] for name in ID_FILTERS if name in query)


def _one_id_each(query: dict[str, str]) -> list[dict[str, str]]:
    """The query split so that no id filter names more than one id."""
    queries = [query]
    for name in ID_FILTERS:
        if name in query:
            ids = query[name].split(",")
            queries = [q | {name: one} for q in queries for one in ids]
    return queries


def _refusal(error: CloseAPIError) -> str:
    if error.status_code in CREDENTIAL_STATUSES:
        return f"Close refused the credentials ({error.status_code}): {error.message}"
    return f"Close answered {error.status_code} to a list request: {error.message}"


def _not_close(client: CloseClient, error: BadAnswer) -> str:
    return (
        f"{client.base_url} answered with {error.what}, not Close's list of SMS: is --base-url "
        f"{DEFAULT_BASE_URL}? ({error.detail})"
    )
