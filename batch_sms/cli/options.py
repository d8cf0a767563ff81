"""Options shared by commands, as decorators (sqlite-utils style), and the callbacks that
parse them with the library's parsers."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from batch_sms.checks.phones import parse_region
from batch_sms.checks.times import parse_date_format, parse_quiet_hours, parse_timezone
from batch_sms.cli.remembered import remember
from batch_sms.close.client import DEFAULT_BASE_URL, Credentials, check_base_url
from batch_sms.close.pacing import MAX_IN_FLIGHT, parse_rate_cap
from batch_sms.errors import InputError
from batch_sms.files.records import MAX_ROW_NUMBER
from batch_sms.files.rows import parse_map
from batch_sms.job.canary import DEFAULT_WAIT
from batch_sms.job.halt import DEFAULT_HALT, MIN_ATTEMPTED, parse_halt_rule
from batch_sms.sandbox.config import MISSING_MARK

F = TypeVar("F", bound=Callable[..., Any])


# An API key is a few dozen characters; a file much longer is not a key file.
MAX_KEY_FILE_CHARS = 4096


def base_url_option(context: click.Context, param: click.Parameter, value: str) -> str:
    """The --base-url, refused before any request (dry runs too) unless the key may travel to
    it: https, or http to this machine; no user name or password inside."""
    try:
        return check_base_url(value)
    except ValueError as error:
        raise click.BadParameter(f"{error}.", context, param) from None


def api_key_file_option(
    context: click.Context, param: click.Parameter, value: str | None
) -> str | None:
    """The key held in the file named by --api-key-file (`-`: standard input)."""
    if value is None:
        return None
    try:
        text = _read_key_file(value)
    except OSError as error:
        message = f"cannot read {value}: {error.strerror}."
        raise click.BadParameter(message, context, param) from None
    except UnicodeDecodeError:
        raise click.BadParameter(f"{value} is not a text file.", context, param) from None
    key = text.strip()
    if not key or len(text) >= MAX_KEY_FILE_CHARS or any(char.isspace() for char in key):
        raise click.BadParameter(
            f"{value} does not hold one API key (one line, no spaces).", context, param
        )
    return key


def at_terminal() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty()


def _read_key_file(name: str) -> str:
    if name == "-":
        return sys.stdin.read(MAX_KEY_FILE_CHARS)
    with open(name, encoding="utf-8-sig") as stream:
        return stream.read(MAX_KEY_FILE_CHARS)


def _key_file_as_api_key(command: F) -> F:
    """Hands the key read by --api-key-file to the command as `api_key`. A key given on the
    command line too is a mistake; one from CLOSE_API_KEY yields to the file, which was named
    explicitly."""

    @functools.wraps(command)
    def with_key(*args: Any, api_key_file: str | None, **options: Any) -> Any:
        if api_key_file is not None:
            source = click.get_current_context().get_parameter_source("api_key")
            if options.get("api_key") and source is ParameterSource.COMMANDLINE:
                raise click.UsageError("Give --api-key or --api-key-file, not both.")
            options["api_key"] = api_key_file
        return command(*args, **options)

    return with_key  # type: ignore[return-value]


def prompt_for_api_key() -> str | None:
    """Ask for the key without showing it, when someone is at a terminal to answer."""
    if not at_terminal():
        return None
    key = click.prompt(
        "Close API key (not shown)", hide_input=True, err=True, default="", show_default=False
    )
    return str(key).strip() or None


def option_bundle(*options: Callable[[F], F]) -> Callable[[F], F]:
    """Options shared by commands, applied in the order they are listed (sqlite-utils style)."""

    def apply(command: F) -> F:
        for option in reversed(options):
            command = option(command)
        return command

    return apply


connection_options = option_bundle(
    click.option(
        "--api-key",
        envvar="CLOSE_API_KEY",
        show_envvar=True,
        help="Close API key (sent as HTTP Basic user name). Anyone on this machine can see "
        "it in `ps` while the run lasts: prefer CLOSE_API_KEY or --api-key-file. Default: "
        "none; at a terminal, the run asks for it.",
    ),
    click.option(
        "--api-key-file",
        metavar="FILE",
        callback=api_key_file_option,
        help="Read the Close API key from FILE (- for standard input) instead. Default: none.",
    ),
    click.option(
        "--oauth-token",
        envvar="CLOSE_OAUTH_TOKEN",
        show_envvar=True,
        help="OAuth access token, instead of an API key. Default: none.",
    ),
    click.option(
        "--base-url",
        envvar="CLOSE_BASE_URL",
        show_envvar=True,
        default=DEFAULT_BASE_URL,
        show_default=True,
        callback=base_url_option,
        help="Close API base URL: https, or http to this machine only (localhost, 127.0.0.1, "
        "::1); no user name or password in it.",
    ),
    _key_file_as_api_key,
)


def credentials_from(
    api_key: str | None, oauth_token: str | None, required: bool
) -> Credentials | None:
    """The credentials the options give, else asked for at a terminal (not shown); a usage
    error when there are none, or two."""
    if not required:
        return None
    if api_key and oauth_token:
        raise click.UsageError("Give --api-key or --oauth-token, not both.")
    if not (api_key or oauth_token):
        api_key = prompt_for_api_key()
    if not (api_key or oauth_token):
        raise click.UsageError(
            "No credentials: set CLOSE_API_KEY (or pass --api-key-file, --api-key, or "
            "--oauth-token). To try the tool without a Close account, add --sandbox."
        )
    return Credentials(api_key=api_key or None, oauth_token=oauth_token or None)


def parsed(parse: Callable[[str], Any]) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A callback that reads an option (each value of a repeatable one) with the library's
    parser, whose ValueError or InputError is the user's mistake."""

    def callback(context: click.Context, param: click.Parameter, value: Any) -> Any:
        remember(context, param, value)
        try:
            if isinstance(value, tuple):
                return tuple(parse(item) for item in value)
            return None if value is None else parse(value)
        except (ValueError, InputError) as error:
            message = str(error)
            raise click.BadParameter(message.rstrip(".") + ".", context, param) from None

    return callback


input_options = option_bundle(
    click.option(
        "--sheet",
        metavar="NAME",
        help="The sheet to read in a spreadsheet INPUT (.xlsx, .xls, .ods). Default: the first.",
    ),
    click.option(
        "--encoding",
        metavar="NAME",
        help="The text encoding of a CSV INPUT, like cp1252 for a CSV saved by Excel on "
        "Windows. Default: UTF-8, with or without a byte-order mark.",
    ),
    click.option(
        "--map",
        "column_map",
        metavar='"HEADER=COLUMN"',
        multiple=True,
        callback=parsed(parse_map),
        help='Read the column headed HEADER as COLUMN, like --map "Activity ID=id"; repeat '
        "for more columns. Default: headers are matched by name (Date Scheduled = "
        "date_scheduled).",
    ),
    click.option(
        "--header-row",
        metavar="N",
        type=click.IntRange(1, MAX_ROW_NUMBER - 1),
        help="The row of INPUT that holds the headers, like 3 when a title and a blank row are "
        "above them; the rows above are not read. Default: 1.",
    ),
)

sending_options = option_bundle(
    click.option(
        "--concurrency",
        type=click.IntRange(1, 1024),
        default=MAX_IN_FLIGHT,
        show_default=True,
        help="The most requests in flight at once. The run finds how many it needs by itself "
        "(enough to ride Close's rate limit at the answer times it meets, fewer when answers "
        "slow down because of it or 429s come); this only caps it.",
    ),
    click.option(
        "--timeout",
        type=click.FloatRange(0.1, 600),
        default=30.0,
        show_default=True,
        help="Seconds to wait for each answer from Close.",
    ),
    click.option(
        "--max-retries",
        type=click.IntRange(0, 100),
        default=5,
        show_default=True,
        help="Retries per row after a 5xx or network error (429s have a budget of their "
        "own; a row that sends an SMS is read back from Close before it is repeated).",
    ),
    click.option(
        "--retry-wait",
        type=click.FloatRange(0, 600),
        default=0.5,
        show_default=True,
        help="Seconds before the first retry of an error whose answer names no wait; "
        "doubles with each retry, plus jitter.",
    ),
)


validation_options = option_bundle(
    click.option(
        "--default-region",
        metavar="REGION",
        callback=parsed(parse_region),
        help="Read phone numbers without a leading + as national numbers of this region "
        "(like US, GB, DE). Default: none, only international +numbers are accepted.",
    ),
    click.option(
        "--timezone",
        metavar="ZONE",
        callback=parsed(parse_timezone),
        help="IANA time zone (like Europe/Berlin) in which times without a UTC offset are "
        "read, and quiet hours checked when a number does not tell its zone. "
        "Default: none, such times are invalid.",
    ),
    click.option(
        "--date-format",
        metavar="FORMAT",
        callback=parsed(parse_date_format),
        help="A strptime format accepted besides ISO 8601, like '%m/%d/%Y %I:%M %p'. "
        "Default: ISO 8601 only.",
    ),
    click.option(
        "--quiet-hours",
        metavar="HH:MM-HH:MM",
        callback=parsed(parse_quiet_hours),
        help="Refuse rows that would reach the recipient in this window of the recipient's "
        "local time, like 21:00-08:00 (may wrap midnight). Default: none.",
    ),
    click.option(
        "--max-segments",
        type=click.IntRange(1),
        help="Refuse rows whose text takes more SMS segments than this. Default: no limit.",
    ),
    click.option(
        "--allow-placeholders",
        is_flag=True,
        help="Send texts that hold {{...}}, {first_name}, <<...>> or [FIRST NAME]-style "
        "placeholders as they are. Default: such rows are invalid, as a mail merge left "
        "unfilled.",
    ),
)


rate_limit_option = click.option(
    "--rate-limit",
    metavar="N/SECONDS",
    callback=parsed(parse_rate_cap),
    help="Start at most N requests per SECONDS, to leave room for other integrations on "
    "the same key. Default: as fast as Close's own limit allows.",
)

halt_option = click.option(
    "--halt-on-failures",
    metavar="N|P%|off",
    default=str(DEFAULT_HALT),
    show_default=True,
    callback=parsed(parse_halt_rule),
    help=f"Stop in order (exit 3, --resume carries on) once N rows have failed, or P% of the "
    f"rows attempted (after at least {MIN_ATTEMPTED}), saying which failure dominated; off: "
    "never stop for failures.",
)

rollout_options = option_bundle(
    click.option(
        "--canary",
        "canary_rows",
        metavar="N",
        type=click.IntRange(1),
        help="Send the first N rows that send an SMS, read them back from Close, show what it "
        "shows and ask before sending the rest; with --yes, carry on only if every one is "
        "confirmed sent (or scheduled as asked). Default: no canary.",
    ),
    click.option(
        "--canary-wait",
        metavar="SECONDS",
        type=click.FloatRange(0, 3600),
        default=DEFAULT_WAIT,
        show_default=True,
        help="How long to wait for Close to show each canary SMS sent or in error.",
    ),
    halt_option,
)

run_options = option_bundle(
    click.option(
        "--out",
        "out_path",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Results file: an .xlsx name writes a workbook, any other CSV. Default: INPUT's "
        "name with .results.csv, beside it (a rerun of x.results.csv writes x.results-2.csv).",
    ),
    click.option(
        "--overwrite", is_flag=True, help="Replace the results file if it exists. Default: refuse."
    ),
    click.option(
        "--resume",
        is_flag=True,
        help="Carry on a run of the same INPUT and --out that was stopped or crashed, from its "
        "journal: finished rows are kept, rows that were in flight are read back from Close.",
    ),
    input_options,
    connection_options,
    sending_options,
    validation_options,
    rate_limit_option,
    rollout_options,
    click.option(
        "--no-preflight",
        is_flag=True,
        help="Do not read each SMS from Close before sending it (rows that an earlier run may "
        "have sent are still read back). Default: read them, 100 per request.",
    ),
    click.option(
        "--max-sends",
        type=click.IntRange(0),
        help="Refuse to run if more than this many SMS would be sent. Default: no limit.",
    ),
    click.option(
        "--allow-duplicate-recipients",
        is_flag=True,
        help="Send every row, also a second SMS to a number that an earlier row of the "
        "campaign sends to. Default: such rows are held back (skipped), one SMS per number.",
    ),
    click.option(
        "--dry-run", is_flag=True, help="Validate and write the results as planned; send nothing."
    ),
    click.option(
        "--report",
        "report_path",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Also write an HTML report of the run (or, with --dry-run, of the plan) to this "
        "file: outcomes, when the SMS land, segments, failures by reason. Default: none.",
    ),
    click.option(
        "--yes", "-y", is_flag=True, help="Send without asking for confirmation. Default: ask."
    ),
    click.option("--quiet", "-q", is_flag=True, help="No progress bar or notes, only the summary."),
    click.option(
        "--sandbox",
        is_flag=True,
        help="Run against a built-in stand-in for Close on this machine (no account needed); "
        f"every id exists there as a draft, except ids containing '{MISSING_MARK}', and the "
        "made-up SMS of `export --sandbox` are there as exported.",
    ),
)
