"""Phone numbers as people type them, turned into the E.164 form that Close expects.

National numbers like `(415) 555-0100` are read in a default region given by the user; without
one, only international numbers (leading +) are accepted, since a guess could text a stranger.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult
from phonenumbers import timezone as number_timezones

_SCIENTIFIC = re.compile(r"^[+-]?\d(\.\d+)?[eE]\+?\d+$")
_EXAMPLE = "+14155550100"

_IMPOSSIBLE = {
    ValidationResult.INVALID_COUNTRY_CODE: "its country code does not exist",
    ValidationResult.TOO_SHORT: "it is too short",
    ValidationResult.TOO_LONG: "it is too long",
    ValidationResult.INVALID_LENGTH: "it has a length no number there has",
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "it is too short (no area code?)",
}
_UNPARSABLE = {
    NumberParseException.INVALID_COUNTRY_CODE: "its country code does not exist",
    NumberParseException.NOT_A_NUMBER: "it does not look like a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "it is too short",
    NumberParseException.TOO_SHORT_NSN: "it is too short",
    NumberParseException.TOO_LONG: "it is too long",
}


class PhoneError(ValueError):
    """A phone cell that cannot be sent; the message says why and how to write it."""


def parse_region(value: str) -> str:
    """A --default-region value, like `us` -> `US`; ValueError names what is wrong."""
    region = value.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(
            f"'{value}' is not a two-letter region code that phone numbers know, like US, GB or DE"
        )
    return region


# A file holds the same sender number on every row: parsing it once saves most of the time
# (about 60 µs per number, measured).
@lru_cache(maxsize=4096)
def to_e164(value: str, region: str | None) -> str:
    """The number in E.164 form, or PhoneError saying why it cannot be sent."""
    if _SCIENTIFIC.match(value):
        raise PhoneError(
            f"'{value}' is a phone number that a spreadsheet turned into scientific notation "
            "(digits are lost); format the column as text and type the number again"
        )
    if region is None and not value.startswith("+"):
        raise PhoneError(
            f"'{value}' has no country code; write it in E.164 format, like {_EXAMPLE}, "
            "or give --default-region (e.g. US) to read national numbers"
        )
    try:
        number = phonenumbers.parse(value, region)
    except NumberParseException as error:
        raise PhoneError(
            f"'{value}' is not a phone number: {_UNPARSABLE[error.error_type]}"
        ) from None
    _check_valid(value, number)
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def _check_valid(value: str, number: phonenumbers.PhoneNumber) -> None:
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason in _IMPOSSIBLE:
        raise PhoneError(f"'{value}' is not a valid phone number: {_IMPOSSIBLE[reason]}")
    if not phonenumbers.is_valid_number(number):
        where = phonenumbers.region_code_for_country_code(number.country_code or 0)
        raise PhoneError(f"'{value}' is not a valid number for {where}")


@lru_cache(maxsize=4096)
def time_zone_of(e164: str) -> str | None:
    """The IANA time zone of a number when its numbering plan names exactly one, else None."""
    zones = number_timezones.time_zones_for_number(phonenumbers.parse(e164))
    if len(zones) != 1 or zones[0] == number_timezones.UNKNOWN_TIMEZONE:
        return None
    return str(zones[0])
