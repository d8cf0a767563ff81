"""How many SMS segments a text costs, and which characters make it cost more.

A text that only uses the GSM 03.38 alphabet travels as GSM-7: 160 septets fit in one SMS, and a
longer text is split in parts of 153 (each part carries a header). One character outside that
alphabet turns the whole text into UCS-2: 70 UTF-16 code units in one SMS, parts of 67. That is
why a single curly quote pasted from a word processor can double a campaign's cost.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from batch_sms.models import Update

GSM7 = "GSM-7"
UCS2 = "UCS-2"

# GSM 03.38 basic table (the escape character 0x1B left out: it is not a character of a text).
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each of these is sent as escape + character, so it counts 2 septets.
_GSM_EXTENSION = frozenset("\f^{}\\[~]|€")
_GSM = _GSM_BASIC | _GSM_EXTENSION

_SINGLE = {GSM7: 160, UCS2: 70}
_PART = {GSM7: 153, UCS2: 67}

# Up to this many distinct characters are worth naming in a warning: more than that, the text is
# written in a script that GSM-7 does not have, and naming characters would not help.
FEW_CHARACTERS = 3


@dataclass(frozen=True)
class SegmentCount:
    encoding: str
    units: int
    """Septets for GSM-7, UTF-16 code units for UCS-2."""
    segments: int
    outsiders: tuple[str, ...]
    """The distinct characters outside GSM-7, in order of first appearance."""


def count_segments(text: str) -> SegmentCount:
    outsiders = tuple(dict.fromkeys(c for c in text if c not in _GSM))
    if outsiders:
        units = len(text.encode("utf-16-le")) // 2
        return SegmentCount(UCS2, units, _segments(UCS2, units), outsiders)
    units = sum(2 if c in _GSM_EXTENSION else 1 for c in text)
    return SegmentCount(GSM7, units, _segments(GSM7, units), ())


def _segments(encoding: str, units: int) -> int:
    if units <= _SINGLE[encoding]:
        return 1
    return -(-units // _PART[encoding])


def ucs2_warning(text: str, count: SegmentCount | None = None) -> str | None:
    """A warning for a text that only a few characters push out of GSM-7, naming them and what
    they cost; None when the text is GSM-7 or written in another script altogether. `count`
    is the text's own count, when the caller has it already."""
    count = count or count_segments(text)
    if not count.outsiders or len(count.outsiders) > FEW_CHARACTERS:
        return None
    without = count_segments("".join(c for c in text if c not in count.outsiders))
    named = " and ".join(f"{c} ({_name(c)})" for c in count.outsiders)
    verb = "makes" if len(count.outsiders) == 1 else "make"
    if without.segments == count.segments:
        cost = f"{_plural(count.segments)} either way"
    else:
        cost = f"{_plural(count.segments)} instead of {without.segments}"
    return f"{named} {verb} this UCS-2: {cost}"


def _name(character: str) -> str:
    return unicodedata.name(character, f"U+{ord(character):04X}")


def _plural(segments: int) -> str:
    return f"{segments} segment" if segments == 1 else f"{segments} segments"


class SegmentTally:
    """Adds up the segments of the rows to send, for the plan's summary."""

    def __init__(self) -> None:
        self.segments = 0
        self.ucs2_rows = 0
        self.single_character_rows = 0

    def add(self, update: Update) -> None:
        text = update.body.get("text")
        if update.segments is None or not isinstance(text, str):
            return
        self.segments += update.segments
        count = count_segments(text)
        if count.encoding == UCS2:
            self.ucs2_rows += 1
            self.single_character_rows += len(count.outsiders) == 1

    def describe(self) -> list[str]:
        if not self.segments:
            return []
        line = f"{self.segments:,} SMS segments in all"
        if self.ucs2_rows:
            line += f"; {self.ucs2_rows:,} rows are UCS-2"
            if self.single_character_rows:
                line += f", {self.single_character_rows:,} of them because of a single character"
        return [line]
