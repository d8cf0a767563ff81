"""Reading a report page the way a test needs: the counts it shows, and its text."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from tests.conftest import read_csv


@dataclass
class PageFacts:
    outcomes: dict[str, int] = field(default_factory=dict)
    """Outcome -> the count on its tile."""
    counts: dict[str, int] = field(default_factory=dict)
    """Element id -> its data-count, e.g. sent-now, scheduled, segments-total."""
    text: str = ""
    tags: Counter[str] = field(default_factory=Counter)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.facts = PageFacts()
        self._tile: str | None = None
        self._in_count = False
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.facts.tags[tag] += 1
        found = dict(attrs)
        if found.get("data-outcome") is not None:
            self._tile = found["data-outcome"]
        if self._tile is not None and found.get("class") == "count":
            self._in_count = True
        if found.get("id") and found.get("data-count") is not None:
            self.facts.counts[str(found["id"])] = int(str(found["data-count"]))

    def handle_data(self, data: str) -> None:
        self._text.append(data)
        if self._in_count and self._tile is not None:
            self.facts.outcomes[self._tile] = int(data.replace(",", ""))
            self._in_count = False
            self._tile = None

    def close(self) -> None:
        super().close()
        self.facts.text = " ".join(" ".join(self._text).split())


def read_page(html: str) -> PageFacts:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader.facts


def outcome_counts(results: Path) -> dict[str, int]:
    """What the results file says, counted here independently of the report."""
    return dict(Counter(row["outcome"] for row in read_csv(results)))
