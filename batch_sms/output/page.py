"""The report's HTML: outcome counts, the run's facts, the timeline, segments and problems.

The page is one file with its style inline and no script. Its Content-Security-Policy lets it
load nothing (images only as data: URLs, of which it has none), so it opens offline and cannot
call anywhere even if a cell slipped past the escaping. Every value from the results file or
the run goes through `html.escape` (`_e`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from html import escape

from batch_sms.checks.times import QuietHours
from batch_sms.models import Outcome
from batch_sms.output.charts import Bar, Series, bar_chart, proportion_strip
from batch_sms.output.deliveries import Deliveries, Kind, quiet_share
from batch_sms.output.facts import ResultsFile, RunFacts
from batch_sms.output.reasons import ReasonGroup
from batch_sms.output.tally import CLOSE_ERROR, Landings, ResultsTally, SegmentTally
from batch_sms.output.timeline import timeline

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

OUTCOME_ORDER = (
    Outcome.PLANNED,
    Outcome.UPDATED,
    Outcome.INVALID,
    Outcome.FAILED,
    Outcome.SKIPPED,
    Outcome.NOT_ATTEMPTED,
)
OUTCOME_NAMES: dict[str, str] = {
    Outcome.PLANNED: "planned",
    Outcome.UPDATED: "updated",
    Outcome.INVALID: "invalid",
    Outcome.FAILED: "failed",
    Outcome.SKIPPED: "skipped",
    Outcome.NOT_ATTEMPTED: "not attempted",
}
OUTCOME_COLORS: dict[str, str] = {
    Outcome.PLANNED: "#2563eb",
    Outcome.UPDATED: "#15803d",
    Outcome.INVALID: "#b45309",
    Outcome.FAILED: "#b91c1c",
    Outcome.SKIPPED: "#6b7280",
    Outcome.NOT_ATTEMPTED: "#475569",
}
OTHER_COLOR = "#9ca3af"
PROBLEM_TITLES: dict[str, str] = {
    Outcome.FAILED: "Failed: Close refused the update, or no answer came",
    Outcome.INVALID: "Invalid: not sent, the row did not pass the checks",
    CLOSE_ERROR: "Updated, but Close shows the SMS in error",
    Outcome.NOT_ATTEMPTED: "Not attempted: the run stopped before these rows",
    Outcome.SKIPPED: "Skipped",
}
SENT_NOW, SCHEDULED = Series("sent now", "#2563eb"), Series("scheduled", "#ea8c1e")
SENDS, EDITS = Series("SMS that send", "#2563eb"), Series("drafts only edited", "#a5b4c8")
MOST_SEGMENT_BARS = 20
# Bars drawn at least, so that one bar alone (every text one segment) is not the whole width.
FEWEST_SEGMENT_BARS = 4


def _e(value: object) -> str:
    return escape(str(value))


def render_page(
    tally: ResultsTally,
    facts: RunFacts | None,
    results: ResultsFile | None,
    made_at: datetime,
    version: str,
) -> str:
    dry_run = facts.dry_run if facts is not None else tally.dry_run
    landings = tally.landings(dry_run)
    title = _title(facts, results)
    body = [
        _header(title, tally, results, made_at, dry_run),
        _outcomes(tally),
        '<div class="columns">',
        _plan(tally, landings, dry_run),
        _facts(tally, facts, results, made_at, version),
        "</div>",
        _timeline_section(tally, landings, facts, dry_run),
        _segments_section(landings.segments),
        _problems_section(tally),
        f"<footer>Made by batch-sms {_e(version)} on {_when(made_at)}.</footer>",
    ]
    return _document(f"batch-sms report: {title}", "".join(body))


def _document(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def _title(facts: RunFacts | None, results: ResultsFile | None) -> str:
    if facts is not None:
        return facts.input_path.name
    if results is not None:
        return results.path.name
    return "campaign"


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "unknown"
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _header(
    title: str,
    tally: ResultsTally,
    results: ResultsFile | None,
    made_at: datetime,
    dry_run: bool,
) -> str:
    kicker = "batch-sms report" + (" · dry run" if dry_run else "")
    source = f" · results file <code>{_e(results.path.name)}</code>" if results else ""
    banner = (
        '<p class="banner">Dry run: nothing was sent. This is what a run of the file would do.</p>'
        if dry_run
        else ""
    )
    return (
        f'<header><p class="kicker">{kicker}</p><h1>{_e(title)}</h1>'
        f'<p class="sub"><span id="total-rows" data-count="{tally.rows}">{tally.rows:,}</span> '
        f"rows{source} · report made {_when(made_at)}</p>{banner}</header>"
    )


def _outcome_list(tally: ResultsTally) -> list[tuple[str, int]]:
    known = [(o.value, tally.outcomes[o]) for o in OUTCOME_ORDER if tally.outcomes[o]]
    others = sorted((o, n) for o, n in tally.outcomes.items() if o not in set(OUTCOME_ORDER))
    return known + others


def _outcomes(tally: ResultsTally) -> str:
    outcomes = _outcome_list(tally)
    tiles = []
    for outcome, count in outcomes:
        color = OUTCOME_COLORS.get(outcome, OTHER_COLOR)
        name = OUTCOME_NAMES.get(outcome, outcome or "(no outcome)")
        share = count / tally.rows if tally.rows else 0
        tiles.append(
            f'<div class="tile" data-outcome="{_e(outcome)}" style="border-color:{color}">'
            f'<span class="count" style="color:{color}">{count:,}</span>'
            f'<span class="name">{_e(name)}</span><span class="share">{share:.0%}</span></div>'
        )
    strip = proportion_strip(
        [
            (
                OUTCOME_NAMES.get(o, o),
                n,
                OUTCOME_COLORS.get(o, OTHER_COLOR),
            )
            for o, n in outcomes
        ],
        "rows by outcome",
    )
    return f'<section id="outcomes"><div class="tiles">{"".join(tiles)}</div>{strip}</section>'


def _plan(tally: ResultsTally, landings: Landings, dry_run: bool) -> str:
    lines = _plan_lines(tally, landings) if dry_run else _outcome_lines(tally, landings)
    heading = "If run for real" if dry_run else "What happened"
    items = "".join(f"<li>{line}</li>" for line in lines)
    return f'<section id="plan" class="card"><h2>{heading}</h2><ul>{items}</ul></section>'


def _plan_lines(tally: ResultsTally, landings: Landings) -> list[str]:
    """The lines of the terminal's plan."""
    deliveries = landings.deliveries
    lines = [
        f"{_count('sent-now', deliveries.counts[Kind.NOW])} SMS will be sent now",
        f"{_count('scheduled', deliveries.counts[Kind.SCHEDULED])} SMS will be scheduled"
        + _window(deliveries, Kind.SCHEDULED),
        f"{_count('edited', landings.edited)} SMS will only be edited (nothing sent)",
    ]
    carried_over = tally.outcomes[Outcome.UPDATED]
    if carried_over:
        lines.append(
            f"<b>{carried_over:,}</b> {_rows(carried_over)} were updated by an earlier run: "
            "kept as they are"
        )
    if tally.outcomes[Outcome.INVALID]:
        invalid = tally.outcomes[Outcome.INVALID]
        lines.append(f"<b>{invalid:,}</b> {_rows(invalid)} are invalid and will not be sent")
    return lines + _problem_lines(tally, (Outcome.FAILED, Outcome.NOT_ATTEMPTED), "not sent")


def _outcome_lines(tally: ResultsTally, landings: Landings) -> list[str]:
    deliveries = landings.deliveries
    lines = [
        f"{_count('sent-now', deliveries.counts[Kind.NOW])} SMS sent now"
        + _window(deliveries, Kind.NOW),
        f"{_count('scheduled', deliveries.counts[Kind.SCHEDULED])} SMS scheduled"
        + _window(deliveries, Kind.SCHEDULED),
        f"{_count('edited', landings.edited)} SMS edited, nothing sent",
    ]
    if tally.close_statuses:
        shown = ", ".join(
            f"{_e(status)} {count:,}" for status, count in tally.close_statuses.most_common()
        )
        lines.append(f'<span class="muted">As Close showed them after the update: {shown}</span>')
    problems = (Outcome.INVALID, Outcome.FAILED, Outcome.NOT_ATTEMPTED)
    return lines + _problem_lines(tally, problems, "not updated")


def _rows(count: int) -> str:
    return "row" if count == 1 else "rows"


def _count(name: str, value: int) -> str:
    return f'<b id="{name}" data-count="{value}">{value:,}</b>'


def _window(deliveries: Deliveries, kind: Kind) -> str:
    first, last = deliveries.first[kind], deliveries.last[kind]
    if first is None or last is None:
        return ""
    if first == last or _when(first) == _when(last):
        return f" at {_when(first)}"
    return f" between {_when(first)} and {_when(last)}"


def _problem_lines(tally: ResultsTally, outcomes: Sequence[Outcome], verb: str) -> list[str]:
    lines = []
    for outcome in outcomes:
        if tally.outcomes[outcome]:
            lines.append(
                f"<b>{tally.outcomes[outcome]:,}</b> {_rows(tally.outcomes[outcome])} "
                f"{OUTCOME_NAMES[outcome]}: {verb}"
            )
    if tally.outcomes[Outcome.SKIPPED]:
        skipped = tally.outcomes[Outcome.SKIPPED]
        lines.append(f"<b>{skipped:,}</b> {_rows(skipped)} skipped")
    return lines


def _facts(
    tally: ResultsTally,
    facts: RunFacts | None,
    results: ResultsFile | None,
    made_at: datetime,
    version: str,
) -> str:
    rows = _run_facts(facts, results) if facts is not None else _file_facts(tally, results)
    rows.append(("Report made", f"{_when(made_at)} by batch-sms {_e(version)}"))
    table = "".join(f"<tr><th>{name}</th><td>{value}</td></tr>" for name, value in rows)
    return f'<section id="facts" class="card"><h2>The run</h2><table>{table}</table></section>'


def _run_facts(facts: RunFacts, results: ResultsFile | None) -> list[tuple[str, str]]:
    command = f"batch-sms {facts.command}" + (" --dry-run" if facts.dry_run else "")
    rows = [
        ("Command", f"<code>{_e(command)}</code>"),
        ("Input", f"<code>{_e(facts.input_path)}</code>"),
        ("Input SHA-256", f'<code class="hash">{_e(facts.input_sha256)}</code>'),
    ]
    if results is not None:
        rows.append(("Results", f"<code>{_e(results.path)}</code>"))
    rows.append(("Started", _when(facts.started_at)))
    if facts.finished_at is not None:
        took = _duration(facts.finished_at - facts.started_at)
        rows.append(("Finished", f"{_when(facts.finished_at)} ({took})"))
    if facts.options:
        chips = " ".join(f"<code>{_e(name)} {_e(value)}</code>" for name, value in facts.options)
        rows.append(("Options", chips))
    if facts.requests is not None:
        rows.append(("Requests to Close", f"{facts.requests:,}"))
    if facts.rate_per_second is not None:
        rows.append(("Rate reached", f"{facts.rate_per_second:,.1f} requests per second"))
    rows.append(("Version", f"batch-sms {_e(facts.version)}"))
    return rows


def _file_facts(tally: ResultsTally, results: ResultsFile | None) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    if results is not None:
        rows += [
            ("Results file", f"<code>{_e(results.path)}</code>"),
            ("Its SHA-256", f'<code class="hash">{_e(results.sha256)}</code>'),
            ("Written", _when(results.modified_at)),
        ]
    if not tally.dry_run:
        rows.append(
            (
                "Requests to Close",
                f'{tally.requests:,} <span class="muted">(the attempts column: updates and '
                "retries; reads before sending not counted)</span>",
            )
        )
    rows.append(
        (
            "Not in a results file",
            '<span class="muted">the input file and its SHA-256, options, rate reached: '
            "a report made with the run's <code>--report</code> shows them</span>",
        )
    )
    return rows


def _duration(span: timedelta) -> str:
    seconds = span.total_seconds()
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _timeline_section(
    tally: ResultsTally, landings: Landings, facts: RunFacts | None, dry_run: bool
) -> str:
    deliveries = landings.deliveries
    quiet = deliveries.quiet_hours
    head = '<section id="timeline" class="card"><h2>When the SMS land</h2>'
    if not deliveries.total:
        return (
            f"{head}<p>No SMS {'would be' if dry_run else 'was'} sent or scheduled.</p></section>"
        )
    legend = _legend([SENT_NOW, SCHEDULED], quiet)
    parts = [head, f"<p>{_landing_summary(deliveries, quiet)}</p>", legend]
    parts.append(_timeline_chart("In UTC", deliveries.utc, None, "UTC"))
    if deliveries.placed_locally:
        parts.append(
            _timeline_chart("In the recipients' local time", deliveries.local, quiet, "local time")
        )
        if timeline(deliveries.local).unit.hours != 1:
            parts.append(_hour_of_day_chart(deliveries, quiet))
    notes = _timeline_notes(tally, landings, facts, dry_run)
    parts.append(f'<ul class="notes">{"".join(f"<li>{note}</li>" for note in notes)}</ul>')
    parts.append("</section>")
    return "".join(parts)


def _legend(series: Sequence[Series], quiet: QuietHours | None) -> str:
    keys = [f'<span><i style="background:{s.color}"></i>{_e(s.name)}</span>' for s in series]
    if quiet is not None:
        keys.append(f'<span><i class="quiet"></i>quiet hours {_e(quiet)}, local time</span>')
    return f'<p class="legend">{"".join(keys)}</p>'


def _landing_summary(deliveries: Deliveries, quiet: QuietHours | None) -> str:
    text = (
        f"{deliveries.total:,} SMS: {deliveries.counts[Kind.NOW]:,} sent now, "
        f"{deliveries.counts[Kind.SCHEDULED]:,} scheduled."
    )
    if deliveries.earliest_local is not None and deliveries.latest_local is not None:
        text += (
            " On the recipients' clocks, the earliest lands at "
            f"<b>{_clock(deliveries.earliest_local)}</b> and the latest at "
            f"<b>{_clock(deliveries.latest_local)}</b> (time of day)."
        )
    if quiet is not None:
        count = deliveries.in_quiet_hours
        css = "bad" if count else "good"
        text += (
            f' <b class="{css}" id="in-quiet-hours" data-count="{count}">{count:,} SMS land '
            f"inside the quiet hours {_e(quiet)}</b>."
        )
    return text


def _clock(moment: time) -> str:
    return f"{moment:%H:%M}"


def _timeline_chart(
    title: str, bins: dict[int, list[int]], quiet: QuietHours | None, clock: str
) -> str:
    drawn = timeline(bins, quiet, clock)
    caption = f"{title}, one bar per {drawn.unit.name}"
    chart = bar_chart(drawn.items, [SENT_NOW, SCHEDULED], caption)
    return f"<figure><figcaption>{_e(caption)}</figcaption>{chart}</figure>"


def _hour_of_day_chart(deliveries: Deliveries, quiet: QuietHours | None) -> str:
    """When the days are too many for hourly bars: the hour of day, all days together."""
    bars = [
        Bar(
            f"{hour:02d}",
            tuple(counts),
            shaded=quiet_share(quiet, hour) if quiet is not None else (),
            tooltip=f"{hour:02d}:00-{hour + 1:02d}:00 local time: {sum(counts):,} SMS",
        )
        for hour, counts in enumerate(deliveries.local_hour_of_day)
    ]
    caption = "Hour of the day in the recipients' local time, all days together"
    return (
        f"<figure><figcaption>{_e(caption)}</figcaption>"
        f"{bar_chart(bars, [SENT_NOW, SCHEDULED], caption, height=200)}</figure>"
    )


def _timeline_notes(
    tally: ResultsTally, landings: Landings, facts: RunFacts | None, dry_run: bool
) -> list[str]:
    deliveries = landings.deliveries
    if dry_run:
        now_is = "the run's start" if facts else "when the dry run was made"
        notes = [f"SMS to be sent now are placed at {now_is}: {_when(tally.now)}."]
    else:
        now_is = "at the run's start" if facts else "when the results file was written"
        notes = [
            "SMS sent now are placed when Close says it sent them; those Close had not sent "
            f"yet, {now_is} ({_when(tally.now)})."
        ]
    notes.append(
        "The recipient's time zone is the one their number belongs to (remote_phone)"
        + (", else --timezone" if tally.settings.timezone else "")
        + "."
    )
    unknown = sum(deliveries.unknown_zone)
    if unknown:
        notes.append(
            f'<b id="unknown-zone" data-count="{unknown}">{unknown:,}</b> SMS are in the UTC '
            "chart only: their recipient's time zone is unknown (no remote_phone in the file, "
            "or a number used in several time zones, like a toll-free one)."
        )
    if landings.zone_from_option:
        notes.append(
            f"{landings.zone_from_option:,} SMS are placed in --timezone "
            f"{_e(tally.settings.timezone)}: their number does not tell their zone."
        )
    unknown_time = sum(deliveries.unknown_time)
    if unknown_time:
        notes.append(
            f"{unknown_time:,} scheduled SMS are in no chart: their time could not be read "
            "(a time without UTC offset needs --timezone)."
        )
    return notes


def _segments_section(segments: SegmentTally) -> str:
    head = '<section id="segments" class="card"><h2>Segments: what it costs</h2>'
    if not segments.histogram:
        return f"{head}<p>No row has a text whose segments were counted.</p></section>"
    summary = (
        f'<p class="big"><b id="segments-total" data-count="{segments.total}">'
        f"{segments.total:,}</b> segments in all: <b>{segments.sends:,}</b> in SMS that send, "
        f"{segments.edits:,} in drafts only edited.</p>"
    )
    chart = bar_chart(
        _segment_bars(segments.histogram), [SENDS, EDITS], "rows by segments", height=180
    )
    figure = (
        "<figure><figcaption>Rows by the number of segments of their text</figcaption>"
        f"{chart}</figure>"
    )
    return f"{head}{summary}{_legend([SENDS, EDITS], None)}{figure}{_ucs2(segments)}</section>"


def _segment_bars(histogram: dict[int, list[int]]) -> list[Bar]:
    most = max(histogram)
    shown = max(min(most, MOST_SEGMENT_BARS), FEWEST_SEGMENT_BARS)
    bars = []
    for segments in range(1, shown + 1):
        counts = _segment_counts(histogram, segments, segments == shown and most > shown)
        label = f"{segments}+" if segments == shown and most > shown else str(segments)
        tooltip = f"{label} segments: {sum(counts):,} rows"
        bars.append(Bar(label, counts, tooltip=tooltip))
    return bars


def _segment_counts(
    histogram: dict[int, list[int]], segments: int, and_more: bool
) -> tuple[int, ...]:
    keys = [key for key in histogram if key >= segments] if and_more else [segments]
    counts = [histogram.get(key, [0, 0]) for key in keys]
    return tuple(sum(column) for column in zip(*counts, strict=True)) if counts else (0, 0)


def _ucs2(segments: SegmentTally) -> str:
    if not segments.ucs2_rows:
        return "<p>No text is UCS-2: every one fits the GSM-7 alphabet.</p>"
    text = (
        f'<p><b id="ucs2-rows" data-count="{segments.ucs2_rows}">{segments.ucs2_rows:,}</b> '
        "rows are UCS-2 (70 characters per SMS instead of 160)"
    )
    if not segments.single_character_rows:
        return text + ".</p>"
    text += (
        f', <b id="single-character-rows" data-count="{segments.single_character_rows}">'
        f"{segments.single_character_rows:,}</b> of them because of a single character:</p>"
    )
    rows = "".join(
        f'<tr><td class="num">row {number}</td><td>{_e(warning)}</td></tr>'
        for number, warning in segments.first_single_character
    )
    more = segments.single_character_rows - len(segments.first_single_character)
    tail = f'<p class="muted">... and {more:,} more rows.</p>' if more else ""
    return f'{text}<table class="rows">{rows}</table>{tail}'


def _problems_section(tally: ResultsTally) -> str:
    head = '<section id="problems" class="card"><h2>What went wrong</h2>'
    groups = [(key, tally.problems[key]) for key in PROBLEM_TITLES if key in tally.problems]
    if not groups:
        return f"{head}<p>Nothing: every row went as asked.</p></section>"
    parts = [head]
    for key, grouper in groups:
        title = PROBLEM_TITLES[key]
        parts.append(
            f'<h3 data-problem="{_e(key)}">{_e(title)}: '
            f'<span class="count">{grouper.total:,}</span> {_rows(grouper.total)}</h3>'
        )
        parts.append(_reason_table(grouper.groups(), OUTCOME_COLORS.get(key, "#b91c1c")))
    parts.append("</section>")
    return "".join(parts)


def _reason_table(groups: Sequence[ReasonGroup], color: str) -> str:
    largest = max((group.count for group in groups), default=1)
    rows = []
    for group in groups:
        width = group.count / largest * 100
        example = ""
        if not group.other and group.example != group.reason:
            example = f'<div class="example">e.g. {_e(group.example)}</div>'
        rows.append(
            f'<tr><td class="num">{group.count:,}</td>'
            f'<td class="meter"><i style="width:{width:.1f}%;background:{color}"></i></td>'
            f'<td><div class="reason">{_e(group.reason)}</div>{example}</td>'
            f'<td class="where">{_e(group.describe_rows())}</td></tr>'
        )
    head = "<tr><th>rows</th><th></th><th>reason</th><th>first rows</th></tr>"
    return f'<table class="reasons">{head}{"".join(rows)}</table>'


STYLE = """
:root{--ink:#1f2937;--muted:#6b7280;--line:#e5e7eb;--bg:#f4f5f7}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
main{max-width:1060px;margin:0 auto;padding:24px 20px 40px}
header h1{margin:2px 0 4px;font-size:26px}
.kicker{margin:0;text-transform:uppercase;letter-spacing:.08em;font-size:12px;color:var(--muted)}
.sub{margin:0;color:var(--muted)}
.banner{margin:12px 0 0;padding:8px 12px;border-radius:6px;background:#dbeafe;color:#1e3a8a;
font-weight:600}
section{margin-top:18px}
.card{background:#fff;border:1px solid var(--line);border-radius:10px;padding:16px 20px}
h2{margin:0 0 10px;font-size:17px}
h3{margin:16px 0 6px;font-size:14px}
.tiles{display:flex;flex-wrap:wrap;gap:10px;margin-bottom:10px}
.tile{flex:1 1 130px;background:#fff;border:1px solid var(--line);border-top:4px solid;
border-radius:10px;padding:10px 14px;display:flex;flex-direction:column}
.tile .count{font-size:28px;font-weight:700;line-height:1.1}
.tile .name{font-weight:600}
.tile .share{color:var(--muted);font-size:12px}
.strip{display:block;border-radius:6px;overflow:hidden}
.columns{display:grid;grid-template-columns:1fr 1.15fr;gap:18px}
.columns section{margin-top:18px}
ul{margin:0;padding-left:18px}
li{margin:3px 0}
table{border-collapse:collapse;width:100%}
#facts th{text-align:left;font-weight:600;color:var(--muted);padding:3px 12px 3px 0;
vertical-align:top;white-space:nowrap}
#facts td{padding:3px 0;overflow-wrap:anywhere}
code{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:12px;
background:#f3f4f6;border-radius:4px;padding:1px 4px;white-space:nowrap}
.hash{font-size:11px;white-space:normal;word-break:break-all}
#facts td>code{white-space:normal;overflow-wrap:anywhere}
.muted{color:var(--muted)}
.good{color:#15803d}
.bad{color:#b91c1c}
.big{font-size:16px}
figure{margin:12px 0 0}
figcaption{font-weight:600;margin-bottom:4px}
svg.chart{display:block}
.legend{display:flex;flex-wrap:wrap;gap:16px;margin:6px 0;color:var(--muted)}
.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px;
vertical-align:-1px}
.legend i.quiet{background:#e6e3f5;border:1px solid #c4bde8}
.notes{color:var(--muted);margin-top:10px}
table.rows td,table.reasons td,table.reasons th{padding:5px 8px;border-top:1px solid var(--line);
vertical-align:top;text-align:left}
table.reasons th{color:var(--muted);font-weight:600;border-top:0}
td.num{text-align:right;font-weight:700;white-space:nowrap;width:1%}
td.meter{width:110px}
td.meter i{display:block;height:10px;margin-top:5px;border-radius:3px;
min-width:2px}
td.where{color:var(--muted);width:24%}
.reason{font-weight:600}
.example{color:var(--muted);font-size:12px;overflow-wrap:anywhere}
footer{margin-top:20px;color:var(--muted);font-size:12px}
@media (max-width:760px){.columns{grid-template-columns:1fr}}
"""
