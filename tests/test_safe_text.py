from __future__ import annotations

import pytest

from batch_sms.output.safe_text import clip, escape_controls, for_terminal, neutralise_formula


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain Grüße ✓", "plain Grüße ✓"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("\x1b]52;c;cGF5bG9hZA==\x07", "\\x1b]52;c;cGF5bG9hZA==\\x07"),
        ("two\nlines\r\tand tab", "two\\nlines\\r\\tand tab"),
        ("c1 \x9b31m and del \x7f", "c1 \\x9b31m and del \\x7f"),
        ("bidi \u202egnp.exe", "bidi \\u202egnp.exe"),
    ],
)
def test_control_characters_are_escaped(text: str, shown: str) -> None:
    assert escape_controls(text) == shown


def test_clip_says_how_much_it_left_out() -> None:
    clipped = clip("x" * 1000, 100)
    assert clipped == "x" * 77 + "… (923 more characters)"
    assert clip("short", 100) == "short"
    assert clip("x" * 30, 10) == "x" * 9 + "…"


def test_for_terminal_escapes_before_it_cuts() -> None:
    assert for_terminal("\x1b" * 100, 20) == "\\x1b" * 4 + "\\x1…"


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+1+1", "'+1+1"),
        ("-1-cmd", "'-1-cmd"),
        # A number is data, never a formula: an E.164 phone is read back unchanged by a rerun.
        ("+14155550100", "+14155550100"),
        ("-1", "-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("  =1", "'  =1"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("a=1", "a=1"),
        ("", ""),
        ("'=1", "'=1"),
    ],
)
def test_cells_a_spreadsheet_would_run_get_an_apostrophe(cell: str, safe: str) -> None:
    assert neutralise_formula(cell) == safe
