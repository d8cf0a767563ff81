"""Update SMS activities in Close CRM in bulk from a spreadsheet."""

__version__ = "0.1.0"
