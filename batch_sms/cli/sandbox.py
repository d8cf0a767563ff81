"""`sandbox`: the stand-in for Close in the foreground."""

from __future__ import annotations

import math
from pathlib import Path

import click

from batch_sms.cli.options import input_options, parsed
from batch_sms.cli.status import fail_on_errors
from batch_sms.close.pacing import RateCap, parse_rate_cap
from batch_sms.files.rows import ReadOptions, read_table
from batch_sms.sandbox import DEMO_SMS, Fault, Sandbox, SandboxOptions, seed_demo
from batch_sms.sandbox.config import MISSING_MARK

# Faults that make sense on every request; the others are injected per SMS by the tests.
EVERY_REQUEST_FAULTS = (Fault.HTML_PAGE, Fault.UNAVAILABLE, Fault.BAD_GATEWAY, Fault.RATE_LIMITED)


def parse_latency_step(value: str) -> tuple[float, float]:
    """`4=800` -> from 4 s after the first request on, answers take 800 ms."""
    after, _, milliseconds = value.partition("=")
    try:
        step = (float(after), float(milliseconds))
    except ValueError:
        step = (-1.0, -1.0)
    if min(step) < 0 or not all(map(math.isfinite, step)):
        raise ValueError(f"'{value}' is not SECONDS=MS, like 4=800")
    return step


@click.command(name="sandbox")
@click.argument("seed_files", metavar="[INPUT]...", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port on 127.0.0.1 (0: any free port).",
)
@click.option(
    "--rate-limit",
    metavar="N/SECONDS",
    callback=parsed(parse_rate_cap),
    help="Allow N requests per window of SECONDS per endpoint, like Close. Default: no limit.",
)
@click.option(
    "--latency-ms",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="Delay added to every answer.",
)
@click.option(
    "--latency-spread",
    type=click.FloatRange(0, 3),
    default=0.0,
    show_default=True,
    help="Draw each answer's delay log-normally around --latency-ms with this shape (sigma), "
    "like Close's answer times; 0.5 is a realistic spread. 0: every answer takes exactly "
    "--latency-ms.",
)
@click.option(
    "--latency-step",
    "latency_steps",
    metavar="SECONDS=MS",
    multiple=True,
    callback=parsed(parse_latency_step),
    help="From SECONDS after the first request on, answers take MS milliseconds instead; "
    "repeat for more steps, like --latency-step 4=800 --latency-step 8=100. Default: none.",
)
@click.option(
    "--no-rate-limit-headers",
    is_flag=True,
    help="Leave the RateLimit header out of every answer (429s still come, with "
    "Retry-After). Default: send it, like Close.",
)
@click.option(
    "--fail-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of requests answered 503 Service Unavailable.",
)
@click.option(
    "--fault",
    type=click.Choice([fault.value for fault in EVERY_REQUEST_FAULTS]),
    help="Answer every request wrongly on purpose: html_page (a web page with status 200, as "
    "a captive portal or a wrong --base-url would give), unavailable (503), bad_gateway (502) "
    "or rate_limited (429). Nothing is applied. Default: none, answer as Close.",
)
@click.option(
    "--any-id",
    is_flag=True,
    help=f"Every id exists as a draft, no INPUT needed (except ids containing '{MISSING_MARK}'). "
    "Default: only the INPUT files' ids.",
)
@click.option(
    "--seed-demo",
    "demo",
    metavar="N",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Add N made-up SMS: several users, leads with several SMS, every status, creation "
    f"times spread over weeks; the same every time (`export --sandbox` has {DEMO_SMS}).",
)
@click.option(
    "--max-skip",
    type=click.IntRange(0),
    default=SandboxOptions.max_skip,
    show_default=True,
    help="The deepest _skip the list endpoint accepts; past it, 400, as Close caps it.",
)
@input_options
def sandbox_command(
    seed_files: tuple[Path, ...],
    port: int,
    rate_limit: RateCap | None,
    latency_ms: float,
    latency_spread: float,
    latency_steps: tuple[tuple[float, float], ...],
    no_rate_limit_headers: bool,
    fail_rate: float,
    fault: str | None,
    any_id: bool,
    demo: int,
    max_skip: int,
    sheet: str | None,
    encoding: str | None,
    column_map: tuple[tuple[str, str], ...],
    header_row: int | None,
) -> None:
    """Run the built-in stand-in for Close's SMS API in the foreground, until Ctrl-C.

    The ids of the INPUT files exist in it as drafts (except ids containing 'missing').
    GET /_sandbox/stats answers how many requests got which status code.

    Example:

        batch-sms sandbox samples/campaign.csv --rate-limit 40/1

        batch-sms sandbox --seed-demo 50000 --any-id

        batch-sms run samples/campaign.csv --yes --api-key sandbox_api_key \\
            --base-url http://127.0.0.1:8765/api/v1/

        batch-sms sandbox --any-id --fault html_page
    """
    config = SandboxOptions(
        rate_limit=rate_limit.requests if rate_limit else None,
        rate_window=rate_limit.seconds if rate_limit else 1.0,
        latency_ms=latency_ms,
        latency_spread=latency_spread,
        latency_steps=tuple(sorted(latency_steps)),
        rate_limit_headers=not no_rate_limit_headers,
        fail_rate=fail_rate,
        keep_log=False,
        any_id=any_id,
        max_skip=max_skip,
        fault=Fault(fault) if fault else None,
    )
    server = Sandbox(config, port=port)
    seed_demo(server.model, demo)
    with fail_on_errors():
        for path in seed_files:
            read_options = ReadOptions(sheet, encoding, column_map, header_row=header_row)
            table = read_table(path, read_options)
            for warning in table.warnings:
                click.echo(f"Note: {warning}", err=True)
            server.seed_drafts(row.activity_id for row in table.rows())
    try:
        server.start()
    except OSError as error:
        raise click.BadParameter(
            f"cannot listen on port {port}: {error.strerror}", param_hint="--port"
        ) from None
    click.echo(f"Sandbox listening at {server.base_url}")
    click.echo(f"API key: {config.api_key}  (or Bearer token: {config.oauth_token})")
    click.echo("Press Ctrl-C to stop.")
    server.serve_forever()
