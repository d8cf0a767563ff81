"""Words the runner uses in more than one place. They are for people only: no decision reads
them (whether a row may have been sent is `RowResult.evidence`), so they may be reworded."""

MAY_HAVE_BEEN_SENT = "the SMS may have been sent: check it in Close before you run this row again"
EARLIER_RUN_MAY_HAVE_SENT = f"an earlier run reported that {MAY_HAVE_BEEN_SENT}"
