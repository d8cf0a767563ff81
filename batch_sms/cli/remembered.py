"""A run remembers how it was run: the options that shape it go into its ledger, and `rerun`
of its results or `--resume` of it use them unless the command line says otherwise.

An option given again with another value applies to the rows not yet done: rows that an
earlier run settled are kept as they are whatever the options say now, so nothing done is
planned again differently. The command says so in one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from batch_sms.errors import LedgerError
from batch_sms.job.ledger import Ledger

# Where `parsed` callbacks keep an option's value as typed, before the library parsed it.
RAW = "batch_sms.raw"
# Options that do not shape a run: secrets, where its results go, how it talks to the user.
NOT_RECORDED = frozenset(
    {
        "api_key",
        "oauth_token",
        "api_key_file",
        "out_path",
        "report_path",
        "overwrite",
        "resume",
        "dry_run",
        "yes",
        "quiet",
    }
)
# How the input file is laid out: a rerun reads a results file, which is batch-sms's own
# layout (header in row 1, the mapped names, UTF-8), so these stay with the first run.
INPUT_LAYOUT = frozenset({"sheet", "encoding", "column_map", "header_row"})


def remember(context: click.Context, param: click.Parameter, raw: Any) -> None:
    """Keep an option's value as typed (called by the parsing callbacks)."""
    context.meta.setdefault(RAW, {})[param.name] = raw


def recorded(context: click.Context) -> dict[str, Any]:
    """The options in force that shape this run, as typed, leaving out secrets and options at
    their built-in default: what the ledger keeps."""
    raw = context.meta.get(RAW, {})
    found: dict[str, Any] = {}
    for param in _options(context):
        name = param.name
        if name is None or name in NOT_RECORDED:
            continue
        if context.get_parameter_source(name) is ParameterSource.DEFAULT:
            continue
        found[name] = _plain(raw.get(name, context.params.get(name)))
    return found


def earlier_options(ledger: Path) -> Mapping[str, Any]:
    """The options recorded in an earlier run's ledger; none when there is no ledger."""
    if not ledger.exists():
        return {}
    try:
        earlier = Ledger.read(ledger)
    except LedgerError:
        return {}
    try:
        return earlier.info.options
    finally:
        earlier.close()


def apply_earlier(
    context: click.Context, params: dict[str, Any], earlier: Mapping[str, Any], rerun: bool
) -> tuple[list[str], list[str]]:
    """Take the earlier run's options where the command line does not give them. Returns the
    options taken and those given again with another value, as arguments for a message."""
    by_name = {param.name: param for param in _options(context)}
    raw_now = context.meta.get(RAW, {})
    taken: list[str] = []
    changed: list[str] = []
    for name, value in earlier.items():
        param = by_name.get(name)
        if param is None or name in NOT_RECORDED or (rerun and name in INPUT_LAYOUT):
            continue
        if context.get_parameter_source(name) is ParameterSource.COMMANDLINE:
            if _plain(raw_now.get(name, params.get(name))) != value:
                changed.extend(arguments(param, _plain(raw_now.get(name, params.get(name)))))
            continue
        params[name] = param.process_value(context, _clickable(value))
        context.meta.setdefault(RAW, {})[name] = _clickable(value)
        taken.extend(arguments(param, value))
    return taken, changed


def arguments(param: click.Option, value: Any) -> list[str]:
    """An option and its value as they would be typed: `--map "A=id"` once per value."""
    flag = next((opt for opt in param.opts if opt.startswith("--")), param.opts[0])
    if param.is_flag:
        return [flag] if value else []
    values = value if isinstance(value, list | tuple) else [value]
    return [part for item in values for part in (flag, str(item))]


def _options(context: click.Context) -> list[click.Option]:
    return [param for param in context.command.params if isinstance(param, click.Option)]


def _plain(value: Any) -> Any:
    """A value as JSON keeps it: tuples as lists, paths and the like as text."""
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _clickable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
