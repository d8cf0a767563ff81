"""One read before anything is sent, so that a wrong key, a wrong address or an unreachable
Close stops a run at once instead of failing every row."""

from __future__ import annotations

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from batch_sms.close.client import BadAnswer, CloseAPIError, CloseClient
from batch_sms.close.describe import describe_transport_error, not_close_api, wrong_address
from batch_sms.close.paced import CREDENTIAL_STATUSES

# Close's list endpoint always exists and takes GET: these answers to it come from elsewhere.
WRONG_ADDRESS_STATUSES = frozenset({404, 405})


async def probe_access(client: CloseClient, activity_id: str, retry_wait: float) -> str | None:
    """Ask Close about one SMS of the run before sending anything, so that a wrong key, a
    wrong address or an unreachable Close stops the run at once instead of failing every row.
    Returns why Close cannot be used, or None: Close's list, or an error Close could give
    (429, 5xx, 400...), shows that the key and address work."""
    retrying = AsyncRetrying(
        stop=stop_after_attempt(3),
        wait=wait_exponential_jitter(multiplier=retry_wait, jitter=retry_wait),
        retry=retry_if_exception_type(httpx.TransportError),
        reraise=True,
    )
    try:
        await retrying(client.list_sms, [activity_id], ["id"])
    except BadAnswer as error:
        return not_close_api(client.base_url, error)
    except CloseAPIError as error:
        if error.status_code in CREDENTIAL_STATUSES:
            return f"Close answered {error.status_code} to the credentials: {error.message}"
        if error.status_code in WRONG_ADDRESS_STATUSES:
            return wrong_address(client.base_url, error)
    except httpx.TransportError as error:
        return f"could not reach Close at {client.base_url} ({describe_transport_error(error)})"
    return None
