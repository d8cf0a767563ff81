"""`batch-sms export`: SMS from Close to a spreadsheet that `run` takes back as it stands.

- `filters.py`: which SMS to ask for, checked before any request;
- `leads.py`: lead ids from a CSV file or a spreadsheet (`--leads`);
- `pages.py`: every SMS of a list exactly once, paged by creation time;
- `sheet.py`: the file's columns: what Close has today beside the cells to fill in;
- `job.py`: export_sms(), the export itself: paced requests, rows written as they come.
"""

from batch_sms.export.filters import ExportFilters
from batch_sms.export.job import ExportAborted, ExportOptions, ExportReport, export_sms

__all__ = ["ExportAborted", "ExportFilters", "ExportReport", "ExportOptions", "export_sms"]
