"""Halting a run whose rows keep failing: once N rows have failed (or P% of the rows
attempted, after at least MIN_ATTEMPTED), no new row starts and the run stops in order, saying
which failure dominated. A local_phone that is not the organization's, or an expired template,
fails every row the same way: the run stops after a handful instead of grinding through
thousands of identical errors.

Only rows that Close refused or that got no answer count (`failed`); invalid rows are known
before the run and shown in its plan.
"""

from __future__ import annotations

from dataclasses import dataclass

from batch_sms.models import Outcome, RowResult
from batch_sms.output.failures import FailureTally

MIN_ATTEMPTED = 20
"""A share of failures means nothing on the first few rows."""


@dataclass(frozen=True)
class HaltRule:
    """Stop after `failures` failed rows, or once `percent` of the rows attempted failed."""

    failures: int | None = None
    percent: float | None = None

    def __post_init__(self) -> None:
        if (self.failures is None) == (self.percent is None):
            raise ValueError("a halt rule is a number of failures or a percentage, not both")
        if self.failures is not None and self.failures < 1:
            raise ValueError("the number of failures must be at least 1")
        if self.percent is not None and not 0 < self.percent <= 100:
            raise ValueError("the percentage must be above 0 and at most 100")

    def __str__(self) -> str:
        if self.failures is not None:
            return str(self.failures)
        return f"{self.percent:g}%"

    def tripped(self, failed: int, attempted: int) -> bool:
        if self.failures is not None:
            return failed >= self.failures
        assert self.percent is not None
        return attempted >= MIN_ATTEMPTED and failed * 100 >= self.percent * attempted


DEFAULT_HALT = HaltRule(percent=50)
"""Generous on purpose: scattered failures (a deleted SMS here, an opted-out number there)
never reach half of the rows, a failure that hits every row gets there within the first 20."""


def parse_halt_rule(text: str) -> HaltRule | None:
    """`25` -> after 25 failed rows; `10%` -> once 10% of the rows attempted failed (after at
    least 20); `off` -> None. ValueError with a message for the user otherwise."""
    value = text.strip().lower()
    if value == "off":
        return None
    share = value.endswith("%")
    try:
        amount = float(value[:-1]) if share else int(value)
    except ValueError:
        raise ValueError(
            f"'{text}' is not a number of failed rows (25), a percentage (10%) or off"
        ) from None
    return HaltRule(percent=amount) if share else HaltRule(failures=int(amount))


class FailureWatch:
    """Counts the rows a run attempted and those that failed; says when the rule trips."""

    def __init__(self, rule: HaltRule) -> None:
        self.rule = rule
        self.attempted = 0
        self.failed = 0
        self.reasons = FailureTally(rows_kept=3)
        self.tripped = False

    def observe(self, number: int, result: RowResult) -> str | None:
        """Why the run must halt, the first time this result makes the rule trip; else None."""
        if result.outcome not in (Outcome.UPDATED, Outcome.FAILED):
            return None
        self.attempted += 1
        if result.outcome is Outcome.FAILED:
            self.failed += 1
            self.reasons.add(number, result)
        if self.tripped or not self.rule.tripped(self.failed, self.attempted):
            return None
        self.tripped = True
        return self.reason()

    def reason(self) -> str:
        dominant = self.reasons.largest()
        cause = f"; most of them ({dominant.count:,}): {dominant.message}" if dominant else ""
        return (
            f"halted after {self.failed:,} of {self.attempted:,} rows attempted failed "
            f"(--halt-on-failures {self.rule}){cause}"
        )
