"""Text from outside (Close's answers, a server posing as Close, a user's cells) made safe to
show: no control characters that a terminal would obey, no length that drowns the message, and
no leading character that makes a spreadsheet run a cell as a formula."""

from __future__ import annotations

import re

# C0 and C1 control characters and DEL, which terminals obey (ESC starts colour changes, title
# rewrites, cursor moves, even clipboard writes); a tab or a newline inside one message line
# would break the line as well.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Unicode's bidirectional overrides can make a terminal show text in another order than it is.
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

# A spreadsheet treats a cell starting with one of these as a formula (or, for tab and carriage
# return, strips them and then may).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")

# Long enough for any message Close writes, short enough for a terminal line or a cell.
MAX_MESSAGE = 300
ELLIPSIS = "…"


def escape_controls(text: str) -> str:
    """Control characters written as escapes (`\\x1b`, `\\n`): printable, and visibly there."""
    text = _CONTROL.sub(_escape, text)
    return _BIDI.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clip(text: str, limit: int = MAX_MESSAGE) -> str:
    """At most `limit` characters; a cut ends with an ellipsis and says how much was left out."""
    if len(text) <= limit:
        return text
    rest = f"{ELLIPSIS} ({len(text) - limit:,} more characters)"
    if len(rest) > limit // 2:
        return text[: limit - 1] + ELLIPSIS
    kept = limit - len(rest)
    return text[:kept] + f"{ELLIPSIS} ({len(text) - kept:,} more characters)"


def for_terminal(text: str, limit: int | None = None) -> str:
    """Foreign text as it may be printed: control characters escaped, then cut to `limit`."""
    safe = escape_controls(text)
    return safe if limit is None else clip(safe, limit)


# A number, like an E.164 phone (+14155550100) or a negative amount, is data to a spreadsheet,
# never a formula: left as it is, so that a rerun reads it back unchanged.
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")


def neutralise_formula(cell: str) -> str:
    """A cell that a spreadsheet would run as a formula (`=HYPERLINK(...)`, `+1+1`, `@SUM`),
    kept as text by a leading apostrophe, as OWASP advises; any other cell is left alone."""
    if cell.lstrip(" ").startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(cell):
        return "'" + cell
    return cell
