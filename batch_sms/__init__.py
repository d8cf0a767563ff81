"""Update SMS activities in Close CRM in bulk from a spreadsheet.

The Python API (see `batch_sms.api`):

    import batch_sms
    summary = batch_sms.run_file("campaign.csv", api_key="api_...")
"""

from batch_sms.api import arun_file, arun_undo, run_file, undo_file
from batch_sms.checks.validation import CheckOptions
from batch_sms.errors import (
    BatchSmsError,
    InputError,
    LedgerError,
    OptionError,
    RunInterrupted,
    RunRefused,
)
from batch_sms.files.rows import ReadOptions
from batch_sms.job.campaign import Campaign, RunOptions, RunSummary
from batch_sms.job.canary import CanaryOptions, CanaryReport
from batch_sms.job.halt import HaltRule
from batch_sms.job.plan import Plan
from batch_sms.job.sender import SendOptions
from batch_sms.job.stream import Connection
from batch_sms.job.undo import Undo
from batch_sms.models import Evidence, Outcome, RowResult
from batch_sms.version import __version__

__all__ = [
    "BatchSmsError",
    "Campaign",
    "CanaryReport",
    "CanaryOptions",
    "Connection",
    "Evidence",
    "HaltRule",
    "InputError",
    "LedgerError",
    "OptionError",
    "Outcome",
    "Plan",
    "ReadOptions",
    "RowResult",
    "RunInterrupted",
    "RunOptions",
    "RunRefused",
    "SendOptions",
    "RunSummary",
    "Undo",
    "CheckOptions",
    "__version__",
    "arun_file",
    "arun_undo",
    "run_file",
    "undo_file",
]
