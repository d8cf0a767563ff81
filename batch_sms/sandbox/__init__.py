"""The built-in stand-in for Close's SMS API: `Sandbox` serves it over HTTP on loopback."""

from batch_sms.sandbox.server import Fault, LogEntry, Sandbox, SandboxConfig, SandboxStats

__all__ = ["Fault", "LogEntry", "Sandbox", "SandboxConfig", "SandboxStats"]
