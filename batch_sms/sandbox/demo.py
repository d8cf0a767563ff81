"""A made-up organization's SMS for trying `export` and `run` without a Close account.

The same `count` and `seed` give the same SMS every time (ids, leads, texts, creation times),
so that a file exported from one sandbox names SMS that the next sandbox has too. Varied on
purpose: several users, leads with several SMS, every status, creation times spread over weeks,
and batches created in the same instant (as a sequence does), which is what makes paging by
creation time hard.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from batch_sms.sandbox.config import SandboxOptions
from batch_sms.sandbox.model import SandboxModel
from batch_sms.sandbox.server import Sandbox

DEMO_SEED = 7
DEMO_SMS = 240  # what `--sandbox` seeds
FIRST_CREATED = datetime(2025, 10, 6, 8, 0, tzinfo=UTC)
SCHEDULED_FROM = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)  # far ahead: they stay scheduled

USERS = (
    ("Ana Lopez", 5),
    ("Ben Okafor", 3),
    ("Chloé Martin", 2),
    ("Dev Patel", 1),
)
STATUSES = (("draft", 55), ("scheduled", 10), ("sent", 25), ("error", 5), ("inbox", 5))
FIRST_NAMES = ("Maria", "James", "Li", "Fatima", "Oliver", "Sofia", "Noah", "Aiko", "Lucas")
LAST_NAMES = ("Smith", "Garcia", "Chen", "Müller", "Kowalski", "Dubois", "Brown", "Rossi")
TEXTS = (
    "Hi {name}, your renewal is due on Friday. Reply YES to keep your plan.",
    "Hi {name}, thanks for your order! It ships tomorrow.",
    "Hello {name}, can we move our call to 3pm? – {user}",
    "{name}, your appointment is confirmed for Tuesday 9:00.",
    "Hi {name}, a quick reminder: your trial ends in 3 days.",
    "Hi {name}, here is the quote we discussed: https://example.com/q/{number}",
)
_ALPHABET = string.ascii_letters + string.digits
_PHONES = (("+1415555", 4), ("+4420794600", 2), ("+49301234", 4))


@dataclass
class _Lead:
    lead_id: str
    contacts: list[tuple[str, str, str]]  # (contact id, first name, phone)


class _Demo:
    def __init__(self, model: SandboxModel, seed: int) -> None:
        self.model = model
        self.rng = random.Random(seed)
        self.users = [(self.id("user"), name, weight) for name, weight in USERS]
        self.leads: list[_Lead] = []
        self.created = FIRST_CREATED
        self.made: list[str] = []

    def id(self, prefix: str) -> str:
        return f"{prefix}_" + "".join(self.rng.choice(_ALPHABET) for _ in range(20))

    def phone(self) -> str:
        """A number of the ranges kept for drama and tests: US 555, London 7946 0, Berlin."""
        prefix, digits = self.rng.choices(_PHONES, [6, 2, 1])[0]
        return prefix + "".join(self.rng.choice(string.digits) for _ in range(digits))

    def lead(self) -> _Lead:
        if self.leads and self.rng.random() < 0.55:
            return self.rng.choice(self.leads)
        contacts = [
            (self.id("cont"), self.rng.choice(FIRST_NAMES), self.phone())
            for _ in range(self.rng.choice((1, 1, 2)))
        ]
        lead = _Lead(self.id("lead"), contacts)
        self.leads.append(lead)
        return lead

    def add(self, count: int) -> None:
        """One SMS, or a batch created in one instant; at most `count` in all."""
        if self.rng.random() < 0.025:
            self.created += timedelta(minutes=self.rng.randint(5, 90))
            size = self.rng.randint(5, 30)
            user = self.user()
            for _ in range(min(size, count - len(self.made))):
                self.sms(user, status="draft")
            return
        self.created += timedelta(seconds=self.rng.randint(20, 3600))
        status = self.rng.choices([s for s, _ in STATUSES], [w for _, w in STATUSES])[0]
        self.sms(self.user(), status)

    def user(self) -> tuple[str, str, int]:
        return self.rng.choices(self.users, [weight for _, _, weight in self.users])[0]

    def sms(self, user: tuple[str, str, int], status: str) -> None:
        lead = self.lead()
        contact_id, name, phone = self.rng.choice(lead.contacts)
        user_id, user_name, _ = user
        text = self.rng.choice(TEXTS).format(
            name=name, user=user_name.split()[0], number=self.rng.randint(1000, 9999)
        )
        activity_id = self.id("acti")
        fields: dict[str, Any] = {
            "lead_id": lead.lead_id,
            "contact_id": contact_id,
            "remote_phone": phone,
            "local_phone": self.model.config.org_phones[len(self.made) % 2],
            "user_id": user_id,
            "user_name": user_name,
            "created_by": user_id,
            "created_by_name": user_name,
            "users": [user_id],
            "text": text,
            "date_created": self.created,
            "date_updated": self.created,
            "activity_at": self.created,
            "status": status,
        }
        self.model.add_activity(activity_id, **fields, **self.status_fields(status))
        self.made.append(activity_id)

    def status_fields(self, status: str) -> dict[str, Any]:
        if status == "scheduled":
            later = timedelta(days=self.rng.randint(0, 30), hours=self.rng.randint(0, 8))
            return {"date_scheduled": SCHEDULED_FROM + later}
        if status == "sent":
            return {"date_sent": self.created + timedelta(seconds=self.rng.randint(1, 600))}
        if status == "error":
            return {"error_message": "The carrier rejected the message."}
        if status == "inbox":
            return {"direction": "inbound"}
        return {}


def demo_sandbox(count: int = DEMO_SMS) -> Sandbox:
    """The sandbox that `--sandbox` starts (not yet started): the made-up SMS, and every other
    id a draft, so that a file exported from one such sandbox runs in the next as it stands."""
    sandbox = Sandbox(SandboxOptions(any_id=True))
    seed_demo(sandbox.model, count)
    return sandbox


def seed_demo(model: SandboxModel, count: int = DEMO_SMS, seed: int = DEMO_SEED) -> list[str]:
    """Add `count` made-up SMS to `model`; returns their ids, oldest first."""
    demo = _Demo(model, seed)
    while len(demo.made) < count:
        demo.add(count)
    return demo.made
