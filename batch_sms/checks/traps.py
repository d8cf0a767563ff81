"""Cell values that a spreadsheet leaves behind by mistake and that must never reach a phone:
Excel's error values, mail-merge placeholders nobody filled in, control characters.

Each check returns what it found (or None), for the validator to word as a problem.
"""

from __future__ import annotations

import re
import unicodedata

# What each of Excel's error values means, in the words a user can act on. LibreOffice shows
# the same codes (its own Err:5xx codes become these when saved as .xlsx or CSV).
EXCEL_ERRORS = {
    "#N/A": "what a failed lookup gives (VLOOKUP, XLOOKUP or MATCH found no match)",
    "#REF!": "what a formula gives when the cells it refers to were deleted",
    "#VALUE!": "what a formula gives when a cell holds the wrong kind of value, like text "
    "where a number is needed",
    "#DIV/0!": "what a formula gives when it divides by zero or by an empty cell",
    "#NAME?": "what a formula gives when it names a function or range that does not exist",
    "#NULL!": "what a formula gives when two ranges it intersects do not meet",
    "#NUM!": "what a formula gives when a number is out of range",
    "#SPILL!": "what a formula gives when its results cannot spill into cells that hold data",
    "#CALC!": "what a formula gives when it cannot calculate, like an empty array",
    "#GETTING_DATA": "what a cell shows while it still waits for external data",
}
_EXCEL_ERRORS_BY_UPPER = {code.upper(): code for code in EXCEL_ERRORS}

# Placeholders that mail-merge tools, templates and people leave in a text. Each alternative
# needs a letter right after its opening, so that a lone "{", a price or JSON does not match.
_PLACEHOLDER = re.compile(
    r"""
      \{\{[^{}\n]{0,80}\}\}                      # {{ first_name }}, {{ contact.first_name }}
    | \{%[^\n]{0,80}?%\}                         # {% if first_name %}
    | \$?\{[A-Za-z_][\w.\-]{0,40}(?:\ [\w.\-]{1,40}){0,3}\}
                                                 # {first_name}, ${name}, {First Name}
    | <<\s*[A-Za-z_][\w.\- ]{0,40}?\s*>>         # <<First Name>>
    | «\w*_\w*»                                  # «First_Name», a Word merge field (Word joins
                                                 # words with _, French quotes have none)
    | \*\|[A-Za-z][\w:]{0,40}\|\*                # *|FNAME|* (Mailchimp)
    | %%[A-Za-z_]\w{0,40}%%                      # %%first_name%%
    """,
    re.VERBOSE,
)

# [FIRST NAME]-style fields are told from ordinary brackets ("[sic]", "[1]", "[STOP]") by what
# they name: a field a mail merge fills in.
_BRACKETED = re.compile(r"\[\s*([A-Za-z][\w .]{0,40}?)\s*\]")
_FIELD_WORDS = frozenset(
    """name first last full surname company business email mail phone mobile number date time
    day address city state zip postcode contact lead customer client recipient your insert
    amount price total order link url code agent rep user sender title field placeholder""".split()
)

# Line breaks and tabs are text; every other control character is a mistake (a NUL from a
# broken export, a bell, an escape sequence) that a phone shows as garbage or not at all.
_ALLOWED_CONTROLS = frozenset("\n\r\t")


def excel_error(value: str) -> str | None:
    """The Excel error code a cell's text is (`#N/A`), or None."""
    return _EXCEL_ERRORS_BY_UPPER.get(value.strip().upper())


def placeholder(text: str) -> str | None:
    """The first mail-merge placeholder left in the text, or None."""
    found = _PLACEHOLDER.search(text)
    bracketed = next(
        (match for match in _BRACKETED.finditer(text) if _names_a_field(match.group(1))), None
    )
    candidates = [match for match in (found, bracketed) if match is not None]
    if not candidates:
        return None
    return min(candidates, key=lambda match: match.start()).group(0)


def _names_a_field(words: str) -> bool:
    return any(word in _FIELD_WORDS for word in re.split(r"[\W_]+", words.lower()))


def control_character(text: str) -> tuple[int, str] | None:
    """The 1-based position and the first control character that has no place in an SMS."""
    for position, char in enumerate(text, start=1):
        if char not in _ALLOWED_CONTROLS and unicodedata.category(char) == "Cc":
            return position, char
    return None
