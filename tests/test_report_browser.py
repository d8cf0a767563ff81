"""The report in a real browser: headless Chromium opens the file with no way to reach a
network, and the page must show no console message, look like something, and show the results
file's counts once rendered.

Chromium is Debian's `chromium` package (.ci/run installs it). Without it these tests are
skipped, except in CI (CI=true), where a missing browser fails them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from PIL import Image

from batch_sms.cli import cli
from tests.conftest import activity_id, read_csv
from tests.report_pages import PageFacts, outcome_counts, read_page

SAMPLE = Path(__file__).parent.parent / "samples" / "campaign.csv"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Nothing listens on the discard port: a request that got past the page's own policy would
# fail, and the failure would show in the console.
NO_PROXY = "127.0.0.1:9"
WINDOW = (1100, 2200)
# Chromium writes the page's console to stderr as `...:INFO:CONSOLE:0] "message", source: ...`
# (older builds: `INFO:CONSOLE(0)`).
CONSOLE = re.compile(r":CONSOLE[:(]")
SENT_NOW_BLUE = (0x25, 0x63, 0xEB)
SCHEDULED_ORANGE = (0xEA, 0x8C, 0x1E)


def _browser() -> str | None:
    found = (shutil.which(name) for name in BROWSERS)
    return next((path for path in found if path), None)


@pytest.fixture(scope="module")
def browser() -> str:
    path = _browser()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed: .ci/run installs it with apt-get")
        pytest.skip("chromium is not installed (apt-get install chromium); CI runs these tests")
    return path


@dataclass(frozen=True)
class Rendered:
    page: PageFacts
    console: list[str]
    screenshot: Path


def render(browser: str, html: Path, folder: Path) -> Rendered:
    """Load the file in headless Chromium: its DOM once rendered, its console, a screenshot."""
    shot = folder / f"{html.stem}.png"
    command = [
        browser,
        "--headless",
        "--disable-gpu",
        "--no-sandbox",  # CI runs as root, which Chromium's sandbox refuses
        "--hide-scrollbars",
        f"--proxy-server={NO_PROXY}",
        "--no-first-run",
        "--disable-extensions",
        f"--user-data-dir={folder / 'chromium-profile'}",
        "--enable-logging=stderr",
        "--v=0",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        f"--screenshot={shot}",
        "--dump-dom",
        html.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if CONSOLE.search(line)]
    return Rendered(read_page(done.stdout), console, shot)


def invoke(*args: object) -> Result:
    runner = CliRunner(env={"CLOSE_API_KEY": None, "CLOSE_BASE_URL": None})
    return runner.invoke(cli, [str(arg) for arg in args], catch_exceptions=False)


def assert_looks_like_a_report(screenshot: Path) -> None:
    """Not blank: many colours, much of the window drawn on, and the bars of the charts."""
    with Image.open(screenshot) as image:
        pixels = image.convert("RGB")
        assert pixels.size == WINDOW
        colours = pixels.getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 200
    background = max(colours)[0]
    drawn = sum(count for count, _ in colours) - background
    assert drawn > 0.25 * WINDOW[0] * WINDOW[1]
    found = {colour for _, colour in colours}
    assert SENT_NOW_BLUE in found and SCHEDULED_ORANGE in found


def test_the_sample_campaigns_report_in_a_real_browser(browser: str, tmp_path: Path) -> None:
    results = tmp_path / "campaign.results.csv"
    assert invoke("run", SAMPLE, "--sandbox", "--out", results, "--quiet").exit_code == 1
    report = tmp_path / "campaign.html"
    made = invoke("report", results, "--out", report, "--quiet-hours", "21:00-08:00")
    assert made.exit_code == 0, made.output
    shown = render(browser, report, tmp_path)
    assert shown.console == []
    assert_looks_like_a_report(shown.screenshot)
    assert (
        shown.page.outcomes
        == outcome_counts(results)
        == {
            "updated": 40,
            "invalid": 8,
            "failed": 2,
            "skipped": 1,
        }
    )
    assert shown.page.counts["total-rows"] == len(read_csv(results))
    assert shown.page.tags["svg"] >= 4 and shown.page.tags["script"] == 0


def test_a_dry_runs_report_in_a_real_browser(browser: str, tmp_path: Path) -> None:
    results = tmp_path / "plan.results.csv"
    assert invoke("run", SAMPLE, "--dry-run", "--out", results).exit_code == 1
    report = tmp_path / "plan.html"
    assert invoke("report", results, "--out", report).exit_code == 0
    shown = render(browser, report, tmp_path)
    assert shown.console == []
    assert (
        shown.page.outcomes
        == outcome_counts(results)
        == {
            "planned": 42,
            "invalid": 8,
            "skipped": 1,
        }
    )
    assert (shown.page.counts["sent-now"], shown.page.counts["scheduled"]) == (14, 16)
    assert "14 SMS will be sent now" in shown.page.text


def test_cells_that_hold_markup_stay_text_in_a_real_browser(browser: str, tmp_path: Path) -> None:
    hostile = "<script>document.title='owned'</script><img src=http://127.0.0.1:9/x.png>"
    results = tmp_path / "hostile.results.csv"
    results.write_text(
        "id,text,status,remote_phone,outcome,error_message,segments\n"
        f'{activity_id(0)},"{hostile}",outbox,+4915112345678,failed,"Close said {hostile}",1\n',
        encoding="utf-8",
    )
    report = tmp_path / "hostile.html"
    assert invoke("report", results, "--out", report).exit_code == 0
    shown = render(browser, report, tmp_path)
    # An image that got into the page would be refused by its policy, loudly, in the console.
    assert shown.console == []
    assert shown.page.tags["script"] == shown.page.tags["img"] == 0
    assert "Close said <script>document.title='…'</script>" in shown.page.text
    assert shown.page.outcomes == {"failed": 1}


def test_the_console_check_sees_a_page_that_tries_to_load_something(
    browser: str, tmp_path: Path
) -> None:
    """The check above can fail: the same policy and proxy, and a page that breaks them."""
    report = tmp_path / "leaky.html"
    report.write_text(
        "<!DOCTYPE html><html><head><meta http-equiv='Content-Security-Policy' "
        "content=\"default-src 'none'\"></head><body>"
        "<img src='http://127.0.0.1:9/x.png'></body></html>",
        encoding="utf-8",
    )
    shown = render(browser, report, tmp_path)
    assert len(shown.console) == 1
    assert "Content Security Policy" in shown.console[0]
