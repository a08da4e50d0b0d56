"""`lab ui` in a real browser: start a test in Locust's UI, watch the criteria and time tabs,
stop it.

Needs Debian's chromium (.ci/run installs it) and Playwright's Python
package (driving that chromium; no browser download).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from lab.pg.databases import list_lab_databases
from lab.pg.server import PgServer
from lab.runfolder import load_summary
from tests.conftest import free_port

CHROMIUM = Path("/usr/bin/chromium")
GREEN, RED = "rgb(26, 127, 55)", "rgb(207, 34, 46)"       # live_tab.STATUS_SCRIPT's colours
playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.scenario_runs


TYPED_USERS, TYPED_SPAWN_RATE = 24, 12     # typed into the form, unlike the command line's


def start_test(page: Any) -> None:
    """Type the load into the form and press Start once, as a user would.

    A press while the app is still loading its first state used to be lost: the
    form's fields are typed first and read back, so the app is live when Start
    is pressed.
    """
    page.wait_for_load_state("networkidle")
    users = page.get_by_label("Number of users (peak concurrency)")
    spawn_rate = page.get_by_label("Ramp up (users started/second)")
    users.fill(str(TYPED_USERS))
    spawn_rate.fill(str(TYPED_SPAWN_RATE))
    playwright.expect(users).to_have_value(str(TYPED_USERS))
    playwright.expect(spawn_rate).to_have_value(str(TYPED_SPAWN_RATE))
    page.get_by_role("button", name="Start").click()
    page.get_by_role("tab", name="Success criteria").wait_for(timeout=30_000)


@pytest.mark.timeout(300)
def test_a_test_stopped_in_the_ui_becomes_a_run_folder(pg_server: PgServer,
                                                       seeded_template: str,
                                                       tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("chromium is not installed (.ci/run installs Debian's package)")
    port = free_port()
    log = (tmp_path / "lab-ui.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "lab.cli", "ui", "--scenario", "seed", "--scale", "tiny",
         "--users", "20", "--spawn-rate", "10", "--web-port", str(port), "--db", pg_server.url(),
         "--reports", str(tmp_path / "reports"), "--max-session", "200s"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "200"})
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            page = browser.new_page()
            deadline = time.monotonic() + 120
            while True:  # the UI is up once the dataset copy and the API are
                try:
                    page.goto(f"http://127.0.0.1:{port}/")
                    break
                except playwright.Error:
                    assert process.poll() is None, (tmp_path / "lab-ui.log").read_text()
                    assert time.monotonic() < deadline, "the web UI never came up"
                    time.sleep(1)
            try:
                start_test(page)
            except AssertionError:
                page.screenshot(path=str(tmp_path / "start-failed.png"), full_page=True)
                raise
            page.get_by_role("tab", name="Success criteria").click()
            table = page.locator("table")
            # Live verdicts from the recorded samples: once the warm-up is over (the spawn
            # ramp and 10 s of settling), the timeline criterion is measured and judged.
            sc3 = table.locator("tr", has_text="timeline < 100 ms for users following 1000+")
            playwright.expect(sc3).to_contain_text(re.compile("PASS|FAIL"), timeout=60_000)
            # The status is what its own number says against the threshold (one snapshot of
            # the row: the tab refreshes every 2 s).
            cells = sc3.locator("td").all_inner_texts()
            measured = re.search(r"p95 ([\d.]+) ms", cells[3])
            assert measured is not None, cells
            assert cells[2] == ("PASS" if float(measured.group(1)) < 100 else "FAIL"), cells
            valid = table.locator("tr", has_text="the run is valid")
            playwright.expect(valid).to_contain_text("0 failures", timeout=30_000)
            playwright.expect(valid).to_contain_text(re.compile(r"Locust CPU max \d+ %"),
                                                     timeout=30_000)
            # Statuses are coloured as the report colours them, not plain words.
            status = sc3.locator("td").nth(2)
            colour = status.evaluate("cell => getComputedStyle(cell).color")
            assert colour in (GREEN, RED), colour
            # 20 seed users are scheduled to post about 2 tweets/s: SC5's 100/s cannot be
            # met by construction, and the tab says what it would take instead of failing on
            # the rate. Its latency is still judged: on a busy machine a p95 over the bar is a
            # FAIL whatever the rate (CI once saw 158 ms here), otherwise NOT MEASURED.
            sc5 = table.locator("tr", has_text="100 tweets/s")
            playwright.expect(sc5).to_contain_text("unreachable by construction",
                                                   timeout=30_000)
            cells = sc5.locator("td").all_inner_texts()
            measured = re.search(r"p95 ([\d.]+) ms", cells[3])
            assert measured is not None, cells
            assert cells[2] == ("NOT MEASURED" if float(measured.group(1)) < 100
                                else "FAIL"), cells
            playwright.expect(sc5).to_contain_text(f"{TYPED_USERS} users are scheduled")
            # The same decomposition as a finished run's report, live: the home timeline's
            # p99 tail split into its parts, with the largest named.
            page.get_by_role("tab", name="Where the time goes").click()
            timeline = page.locator("table").locator("tr", has_text="home_timeline").first
            playwright.expect(timeline).to_contain_text(
                re.compile(r"\d+\.\d · \d+\.\d · \d+\.\d · \d+\.\d.*"
                           r"(client|pool wait|database|app)"), timeout=30_000)
            # Close the browser only once Locust has answered the press: closed at once, the
            # page can drop its POST /stop (CI once saw a stop that never arrived).
            with page.expect_response(lambda r: r.url.endswith("/stop")
                                      and r.request.method == "POST") as stopped:
                page.get_by_role("button", name="Stop").click()
            assert stopped.value.ok, stopped.value.status
            browser.close()
        reports = tmp_path / "reports"
        deadline = time.monotonic() + 120   # collecting, plans and the page, on a busy machine
        summaries: list[Path] = []
        while not summaries and time.monotonic() < deadline:
            summaries = list(reports.glob("*_seed_ui/summary.json"))
            time.sleep(0.5)
        assert summaries, (tmp_path / "lab-ui.log").read_text()
        summary = load_summary(summaries[0].parent)
        assert summary.samples.rows > 0
        assert summary.stats.total.failures == 0
        verdicts = {v.id: v for v in summary.criteria}
        assert verdicts["SC2"].status == "pass"
        assert verdicts["SC5"].status == "not measured"      # the written run says it too
        assert "run at least" in verdicts["SC5"].note
        # Judged with the load typed into the form, not the command line's 20 at 10/s.
        assert (summary.config.users, summary.config.spawn_rate) == (TYPED_USERS,
                                                                     TYPED_SPAWN_RATE)
        assert f"{TYPED_USERS} users are scheduled" in verdicts["SC5"].note
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
        log.close()
    assert not [d for d in list_lab_databases(pg_server) if d.startswith("timeline_lab_run_")]
