"""Benchmarks of batch-sms against the sandbox in its own process: see run.py."""
