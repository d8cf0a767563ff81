"""What Close allows on an SMS activity, shared by the validator and the sandbox that mimics Close.

Facts only: each side keeps its own checking code, so that the sandbox still checks the
validator. Where each fact comes from, and which are unconfirmed: docs/close-api.md.
"""

from __future__ import annotations

import re

STATUSES = ("inbox", "draft", "scheduled", "outbox", "sent", "error")

# The fields a PUT may carry; every other key is refused. Close's request schema lists all
# but `date_scheduled` and `send_in`, which its endpoint descriptions ask for.
UPDATE_FIELDS = (
    "text",
    "status",
    "date_scheduled",
    "template_id",
    "local_phone",
    "remote_phone",
    "contact_id",
    "lead_id",
    "user_id",
    "activity_at",
    "attachments",
    "send_in",
)

# Fields that belong to one status: `date_scheduled` says when a `scheduled` SMS goes out,
# `send_in` delays an `outbox` send so that it can still be undone.
FIELD_NEEDS_STATUS = {"date_scheduled": "scheduled", "send_in": "outbox"}
# ... and the field a status cannot do without: a scheduled SMS needs its time.
STATUS_NEEDS_FIELD = {"scheduled": "date_scheduled"}

# The moves an update may make: drafts can be edited, scheduled (send later) or put in the
# outbox (send now); a scheduled or not yet sent SMS can be put back to draft.
UPDATE_STATUSES = ("draft", "scheduled", "outbox")

# Statuses whose update makes Close send the SMS: these are the rows that must never be sent
# twice.
SENDING_STATUSES = ("scheduled", "outbox")

MAX_TEXT_LENGTH = 1000
MAX_ATTACHMENTS = 10
ATTACHMENT_KEYS = ("content_type", "filename", "url")
MAX_SEND_IN_SECONDS = 59

# The list endpoint's page: `_limit` defaults to 100, and a bigger one is not promised.
LIST_PAGE_SIZE = 100

# Where a person sees a lead in Close's web app.
LEAD_URL = "https://app.close.com/lead/{lead_id}/"

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
