"""Quoting what a file says in a message: short, on one line, and harmless in a terminal."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

# Enough to recognize a value, short enough that a 4,000-character cell keeps the message whole.
QUOTE_LIMIT = 60
LIST_LIMIT = 10


def quote(value: str, limit: int = QUOTE_LIMIT) -> str:
    """`value` in single quotes, cut to `limit` characters with an ellipsis, with control
    characters shown as escapes: a header may hold a line break, or a terminal escape code."""
    shown = "".join(_visible(char) for char in value[: limit + 1])
    if len(value) > limit:
        shown = shown[: _cut(shown, limit)] + "…"
    return f"'{shown}'"


def quote_list(values: Sequence[str], limit: int = LIST_LIMIT) -> str:
    """The first values quoted and separated by commas, then how many more there are."""
    listed = ", ".join(quote(value) for value in values[:limit])
    if len(values) > limit:
        listed += f" and {len(values) - limit:,} more"
    return listed


def _visible(char: str) -> str:
    if unicodedata.category(char) != "Cc":
        return char
    return char.encode("unicode_escape").decode("ascii")


def _cut(shown: str, limit: int) -> int:
    """Where to cut the shown text: at `limit`, but not inside an escape like \\x07."""
    backslash = shown.rfind("\\", max(0, limit - 3), limit)
    return backslash if backslash != -1 else limit
