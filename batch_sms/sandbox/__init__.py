"""The built-in stand-in for Close's SMS API.

- `config.py`: SandboxOptions, Fault, and which ids stand for missing SMS;
- `update_rules.py`: a PUT body checked against Close's rules (its own code, Close's facts);
- `activities.py`: an SMS as Close shows it, and what an update does to it;
- `listing.py`: the list endpoint's filters and pages;
- `access.py`: credentials and rate-limit windows;
- `model.py`: SandboxModel.handle(Request) -> Reply, with the state, faults and log;
- `demo.py`: seed_demo(model), a made-up organization's SMS, the same every time;
- `server.py`: Sandbox, the model over HTTP on 127.0.0.1;
- `transport.py`: mock_transport(model), the model behind an httpx.MockTransport.
"""

from batch_sms.sandbox.config import Fault, SandboxOptions, stands_for_missing
from batch_sms.sandbox.demo import DEMO_SMS, demo_sandbox, seed_demo
from batch_sms.sandbox.messages import Reply, Request
from batch_sms.sandbox.model import LogEntry, SandboxModel, SandboxStats
from batch_sms.sandbox.server import Sandbox
from batch_sms.sandbox.transport import mock_transport

__all__ = [
    "DEMO_SMS",
    "Fault",
    "LogEntry",
    "Reply",
    "Request",
    "Sandbox",
    "SandboxOptions",
    "SandboxModel",
    "SandboxStats",
    "demo_sandbox",
    "mock_transport",
    "seed_demo",
    "stands_for_missing",
]
