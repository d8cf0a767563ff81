from __future__ import annotations

import pytest

from batch_sms.checks.phones import PhoneError, parse_region, time_zone_of, to_e164

NO_COUNTRY_CODE = (
    "has no country code; write it in E.164 format, like +14155550100, or give "
    "--default-region (e.g. US) to read national numbers"
)
SCIENTIFIC = (
    "is a phone number that a spreadsheet turned into scientific notation (digits are lost); "
    "format the column as text and type the number again"
)


@pytest.mark.parametrize(
    ("value", "region", "e164"),
    [
        ("+14155550100", None, "+14155550100"),
        ("+1 (415) 555-0100", None, "+14155550100"),
        ("+44 20 7183 8750", None, "+442071838750"),
        ("+49 151 12345678", None, "+4915112345678"),
        ("(415) 555-0100", "US", "+14155550100"),
        ("415.555.0100", "US", "+14155550100"),
        ("415-555-0100", "US", "+14155550100"),
        ("1 415 555 0100", "US", "+14155550100"),
        ("020 7183 8750", "GB", "+442071838750"),
        ("07400 123456", "GB", "+447400123456"),
        ("030 1234567", "DE", "+49301234567"),
        ("0151 12345678", "DE", "+4915112345678"),
        ("03-1234-5678", "JP", "+81312345678"),
        # An international number is read as such whatever the default region.
        ("+44 20 7183 8750", "US", "+442071838750"),
        ("011 44 20 7183 8750", "US", "+442071838750"),
    ],
)
def test_numbers_become_e164(value: str, region: str | None, e164: str) -> None:
    assert to_e164(value, region) == e164


TOO_SHORT = "is not a valid phone number: it is too short"


@pytest.mark.parametrize(
    ("value", "region", "message"),
    [
        ("(415) 555-0100", None, NO_COUNTRY_CODE),
        ("14155550100", None, NO_COUNTRY_CODE),
        ("020 7183 8750", None, NO_COUNTRY_CODE),
        ("1.4155550100E+10", None, SCIENTIFIC),
        ("1.4155550100E+10", "US", SCIENTIFIC),
        ("4.4207E+11", "GB", SCIENTIFIC),
        ("(415) 555-01", "US", TOO_SHORT),
        ("555-0100", "US", f"{TOO_SHORT} (no area code?)"),
        ("+1 415 555 0100 1234", None, "is not a valid phone number: it is too long"),
        ("+1 415 123 4567", None, "is not a valid number for US"),
        ("(415) 123-4567", "US", "is not a valid number for US"),
        ("+44 20 7183 875", None, "is not a valid number for GB"),
        ("+999 123456", None, "is not a phone number: its country code does not exist"),
        ("call me", "US", "is not a phone number: it does not look like a phone number"),
    ],
)
def test_numbers_that_cannot_be_sent(value: str, region: str | None, message: str) -> None:
    with pytest.raises(PhoneError) as raised:
        to_e164(value, region)
    assert str(raised.value) == f"'{value}' {message}"


@pytest.mark.parametrize(("value", "region"), [("US", "US"), ("gb", "GB"), (" de ", "DE")])
def test_parse_region(value: str, region: str) -> None:
    assert parse_region(value) == region


@pytest.mark.parametrize("value", ["USA", "XX", "", "United States"])
def test_parse_region_refuses_unknown_codes(value: str) -> None:
    with pytest.raises(ValueError, match="is not a two-letter region code"):
        parse_region(value)


@pytest.mark.parametrize(
    ("e164", "zone"),
    [
        ("+14155550100", "America/Los_Angeles"),
        ("+16465552000", "America/New_York"),
        ("+4915112345678", "Europe/Berlin"),
        ("+442071838750", "Europe/London"),
        ("+81312345678", "Asia/Tokyo"),
        # Toll-free numbers span the whole North American plan: no single zone.
        ("+18005550100", None),
    ],
)
def test_time_zone_of_a_number(e164: str, zone: str | None) -> None:
    assert time_zone_of(e164) == zone
