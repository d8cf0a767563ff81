"""What Close allows on an SMS activity, shared by the validator and the sandbox that mimics Close.

Sources: ../shared/close-api/ (Close's endpoint page, its OpenAPI description and known facts).
"""

from __future__ import annotations

import re

STATUSES = ("inbox", "draft", "scheduled", "outbox", "sent", "error")

# The moves an update may make: drafts can be edited, scheduled (send later) or put in the
# outbox (send now); a scheduled or not yet sent SMS can be put back to draft.
UPDATE_STATUSES = ("draft", "scheduled", "outbox")

# Statuses whose update makes Close send the SMS: these are the rows that must never be sent
# twice.
SENDING_STATUSES = ("scheduled", "outbox")

MAX_TEXT_LENGTH = 1000
MAX_ATTACHMENTS = 10
MAX_SEND_IN_SECONDS = 59

E164 = re.compile(r"^\+[1-9]\d{6,14}$")

ATTACHMENT_CONTENT_TYPES = frozenset(
    {
        "application/pdf",
        "application/vcard",
        "audio/3gpp",
        "audio/3gpp2",
        "audio/L24",
        "audio/ac3",
        "audio/amr",
        "audio/amr-nb",
        "audio/basic",
        "audio/mp4",
        "audio/mpeg",
        "audio/ogg",
        "audio/vnd.rn-realaudio",
        "audio/vnd.wave",
        "audio/webm",
        "image/bmp",
        "image/gif",
        "image/jpeg",
        "image/jpg",
        "image/png",
        "image/tiff",
        "text/calendar",
        "text/csv",
        "text/directory",
        "text/richtext",
        "text/rtf",
        "text/vcard",
        "text/x-vcard",
        "video/3gpp",
        "video/3gpp-tt",
        "video/3gpp2",
        "video/H261",
        "video/H263",
        "video/H263-1998",
        "video/H263-2000",
        "video/H264",
        "video/mp4",
        "video/mpeg",
        "video/quicktime",
        "video/webm",
    }
)
