"""Close's errors and odd answers in words, for messages: what came back, and its likely cause."""

from __future__ import annotations

import httpx

from batch_sms.close.client import DEFAULT_BASE_URL, BadAnswer, CloseAPIError
from batch_sms.output.safe_text import MAX_MESSAGE, for_terminal


def describe_transport_error(error: httpx.TransportError) -> str:
    """`ConnectError: [Errno 111] Connection refused`, or the bare name when httpx gives no
    message (its timeouts often do not)."""
    return for_terminal(f"{type(error).__name__}: {error}".rstrip(": "), MAX_MESSAGE)


def describe_error(error: Exception) -> str:
    if isinstance(error, BadAnswer):
        return f"not a valid answer from Close: {error}"
    if isinstance(error, CloseAPIError):
        return f"Close answered {error.status_code}: {error.message}"
    assert isinstance(error, httpx.TransportError)
    return describe_transport_error(error)


def not_close_api(base_url: str, error: BadAnswer) -> str:
    """Why the run stops when the first answer is not Close's, with the likely cause."""
    if base_url == DEFAULT_BASE_URL:
        cause = "a proxy or captive portal on this network may be answering instead of Close"
    else:
        cause = f"is --base-url {DEFAULT_BASE_URL}?"
    return f"{base_url} answered with {error.what}, not Close's API: {cause} ({error.detail})"


def wrong_address(base_url: str, error: CloseAPIError) -> str:
    return (
        f"{base_url} answered {error.status_code} to a list of SMS, which Close's API always "
        f"serves: is --base-url {DEFAULT_BASE_URL}? ({error.message})"
    )
