from __future__ import annotations

import pytest

from batch_sms.checks.segments import GSM7, UCS2, SegmentTally, count_segments, ucs2_warning
from batch_sms.models import Update

EMOJI = "\N{GRINNING FACE}"  # outside the BMP: two UTF-16 code units


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", GSM7, 0, 1),
        ("Hello", GSM7, 5, 1),
        ("a" * 160, GSM7, 160, 1),
        ("a" * 161, GSM7, 161, 2),
        ("a" * 306, GSM7, 306, 2),
        ("a" * 307, GSM7, 307, 3),
        # The GSM alphabet has these accented letters and Greek capitals: still GSM-7.
        ("Ihr Termin ist bestätigt. Ñandu à Ç ΔΦΓ", GSM7, 39, 1),
        ("line\nbreak\r", GSM7, 11, 1),
        # Extension characters are sent as escape + character: two septets each.
        ("{}[]~\\^|€", GSM7, 18, 1),
        ("a" * 158 + "€", GSM7, 160, 1),
        ("a" * 159 + "€", GSM7, 161, 2),
        ("a" * 159 + "[", GSM7, 161, 2),
        ("é" * 70, GSM7, 70, 1),
        ("ж" * 70, UCS2, 70, 1),
        ("ж" * 71, UCS2, 71, 2),
        ("ж" * 134, UCS2, 134, 2),
        ("ж" * 135, UCS2, 135, 3),
        ("a" * 69 + "’", UCS2, 70, 1),
        ("a" * 70 + "’", UCS2, 71, 2),
        (EMOJI, UCS2, 2, 1),
        ("a" * 68 + EMOJI, UCS2, 70, 1),
        ("a" * 69 + EMOJI, UCS2, 71, 2),
    ],
)
def test_count_segments(text: str, encoding: str, units: int, segments: int) -> None:
    count = count_segments(text)
    assert (count.encoding, count.units, count.segments) == (encoding, units, segments)


@pytest.mark.parametrize(
    ("text", "warning"),
    [
        ("Hello", None),
        (
            "We’re open " + "a" * 100,
            "’ (RIGHT SINGLE QUOTATION MARK) makes this UCS-2: 2 segments instead of 1",
        ),
        ("We’re open", "’ (RIGHT SINGLE QUOTATION MARK) makes this UCS-2: 1 segment either way"),
        (
            "“Sale” " + EMOJI + " " + "a" * 70,
            "“ (LEFT DOUBLE QUOTATION MARK) and ” (RIGHT DOUBLE QUOTATION MARK) and "
            f"{EMOJI} (GRINNING FACE) make this UCS-2: 2 segments instead of 1",
        ),
        # Written in a script that GSM-7 lacks: naming characters would not help.
        ("Здравствуйте", None),
    ],
)
def test_ucs2_warning_names_the_characters_and_their_cost(text: str, warning: str | None) -> None:
    assert ucs2_warning(text) == warning


def test_a_character_without_a_unicode_name_is_shown_by_its_code_point() -> None:
    assert ucs2_warning("a\ue000b") == "\ue000 (U+E000) makes this UCS-2: 1 segment either way"


def update(text: str | None, segments: int | None) -> Update:
    body = {"text": text} if text is not None else {"template_id": "tmpl_abcd"}
    return Update(0, 2, "acti_x", body, segments=segments)


def test_the_tally_sums_segments_and_says_why_rows_are_ucs2() -> None:
    tally = SegmentTally()
    rows = [("a" * 200, 2), ("We’re open", 1), ("Здравствуйте", 1), ("Hi", 1), (None, None)]
    for text, segments in rows * 500:
        tally.add(update(text, segments))
    assert tally.describe() == [
        "2,500 SMS segments in all; 1,000 rows are UCS-2, 500 of them because of a single character"
    ]


def test_the_tally_of_gsm_only_rows_and_of_no_text() -> None:
    tally = SegmentTally()
    tally.add(update(None, None))
    assert tally.describe() == []
    tally.add(update("Hi", 1))
    assert tally.describe() == ["1 SMS segments in all"]
