"""Reports made from real tiny runs: the run page, junit.xml, `lab report` without a database,
the page in a real browser, `lab compare`, the index with a flagged regression, the notebook."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

from lab.load.stats import request_stats
from lab.report.compare import request_rows
from lab.report.run_page import SECTION_ANCHORS, write_run_report
from lab.report.time_section import explanation_anchors
from lab.report.trends import collect_runs, regressions, update_index
from lab.runfolder import RunFolder, load_summary
from tests.load.conftest import TinyRun

SECTIONS = ["verdict", "requests", "charts", "time", "database", "plans", "findings",
            "integrity"]
CHARTS = ["chart-rps", "chart-latency", "chart-users", "chart-cdf", "chart-buckets",
          "chart-throughput", "chart-connections", "chart-cpu", "chart-pool",
          "chart-time-parts", "chart-waits", "chart-loop-lag"]
CHROMIUM = Path("/usr/bin/chromium")


def lab(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lab.cli", *args], capture_output=True,
                          text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "200", **(env or {})})


def junit(folder: Path) -> dict[str, str]:
    """{criterion id: pass | failure | skipped} from junit.xml."""
    outcome = {}
    for case in ET.parse(folder / "junit.xml").getroot().iter("testcase"):
        children = {child.tag for child in case}
        outcome[case.attrib["name"].split(":")[0]] = (
            "failure" if "failure" in children else "skipped" if "skipped" in children else "pass")
    return outcome


def test_the_run_page_has_every_section_and_chart(passing_run: TinyRun) -> None:
    html = (passing_run.folder / "index.html").read_text()
    for anchor in SECTIONS + CHARTS:
        assert f'id="{anchor}"' in html, anchor
    assert html.count('src="data:image/png;base64,') == len(CHARTS)
    assert "http://" not in html and "https://" not in html   # nothing fetched from a network
    assert ("Every criterion in scope passed" in html) == (passing_run.exit_code == 0)
    assert "home_timeline_seed" in html and "⟵ slowest" in html   # plans rendered as trees
    assert f"report: {passing_run.folder / 'index.html'}" in passing_run.stdout.replace("\n", "")


def test_junit_fails_exactly_what_the_exit_code_fails(passing_run: TinyRun,
                                                      tmp_path: Path) -> None:
    """Each status, set by hand on a real run's summary: a T1 miss was a junit failure beside
    exit code 0 (CI red on a passing run), and "not measured" is a failure, not a skip."""
    from dataclasses import replace

    from lab.report.junit import write_junit
    from lab.verdicts import exit_code

    base = passing_run.summary
    # Every criterion in scope passed and every lab target met, whatever this machine did
    # to the real run; then one change at a time.
    clean = [v if v.status == "not in scope" else
             replace(v, status="pass", lab_met=None if v.lab_met is None else True)
             for v in base.criteria]

    def outcome(changes: dict[str, dict[str, object]], strict: bool = False
                ) -> tuple[dict[str, str], int]:
        criteria = [replace(v, **changes.get(v.id, {})) for v in clean]
        config = base.config.model_copy(update={"strict": strict})
        summary = base.model_copy(update={"criteria": criteria, "config": config})
        folder = tmp_path / f"case{len(list(tmp_path.iterdir()))}"
        folder.mkdir()
        write_junit(summary, folder / "junit.xml")
        return junit(folder), exit_code(criteria, strict)

    t1_missed = {"T1": {"status": "fail"}}
    cases, code = outcome(t1_missed)
    assert (cases["T1"], code) == ("skipped", 0)
    cases, code = outcome(t1_missed, strict=True)
    assert (cases["T1"], code) == ("failure", 2)
    cases, code = outcome({"SC1": {"lab_met": False}}, strict=True)
    assert (cases["SC1"], code) == ("failure", 2)
    cases, code = outcome({"SC1": {"lab_met": False}})
    assert (cases["SC1"], code) == ("pass", 0)
    cases, code = outcome({"SC3": {"status": "not measured"}})
    assert (cases["SC3"], code) == ("failure", 2)
    cases, code = outcome({"SC4": {"status": "not in scope"}})
    assert (cases["SC4"], code) == ("skipped", 0)
    cases, code = outcome({"V": {"status": "fail"}})
    assert (cases["V"], code) == ("failure", 3)


def test_verdicts_in_the_page_and_junit_follow_the_summary(passing_run: TinyRun,
                                                           failing_run: TinyRun) -> None:
    for run in (passing_run, failing_run):
        failures = {cid for cid, outcome in junit(run.folder).items() if outcome == "failure"}
        assert bool(failures) == (run.exit_code != 0), (failures, run.exit_code)
    assert junit(failing_run.folder)["SC3"] == "failure"
    html = (failing_run.folder / "index.html").read_text()
    failed = [v.id for v in failing_run.summary.criteria if v.status == "fail"]
    why = explanation_anchors(failing_run.summary)
    links = ", ".join(f'<a href="#{SECTION_ANCHORS[cid]}">{cid}</a>'
                      + (f' (<a href="#{why[cid]}">why</a>)' if cid in why else "")
                      for cid in failed)
    word = "criterion" if len(failed) == 1 else "criteria"
    assert f"{len(failed)} {word} failed: {links}." in html      # every failed one, linked
    # SC3 failed: its evidence is the follow-count chart, its explanation the power readers'
    # row of "Where the time goes", which the page has.
    assert '<a href="#chart-buckets">SC3</a> (<a href="#why-home-timeline-follows-1000">why</a>)' \
        in links
    assert 'id="why-home-timeline-follows-1000"' in html


def test_lab_report_rebuilds_the_page_without_a_database(passing_run: TinyRun,
                                                         tmp_path: Path) -> None:
    copy = tmp_path / passing_run.folder.name
    shutil.copytree(passing_run.folder, copy)
    (copy / "index.html").unlink()
    (copy / "junit.xml").unlink()
    done = lab("report", str(copy), env={"LAB_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"})
    assert done.returncode == 0, done.stderr
    assert (copy / "index.html").read_text().count('id="chart-') == len(CHARTS)
    assert junit(copy) == junit(passing_run.folder)
    assert (tmp_path / "index.html").exists()


def test_lab_report_names_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    done = lab("report", str(tmp_path))
    assert done.returncode == 1 and "not a run folder" in done.stderr


@pytest.mark.scenario_runs
def test_the_page_renders_in_a_browser(passing_run: TinyRun, tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("chromium is not installed (.ci/run installs Debian's package)")
    errors: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto((passing_run.folder / "index.html").as_uri())
            widths = page.evaluate("Array.from(document.images).map(i => i.naturalWidth)")
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    html = (passing_run.folder / "index.html").read_text()
    flames = html.count('class="flame"')     # the profiled run's flame graphs, inline SVG
    assert flames >= 2
    assert len(widths) == len(CHARTS) + flames and all(w > 0 for w in widths)
    assert (tmp_path / "report.png").stat().st_size > 10_000


def slowed_copy(run: Path, into: Path, factor: int, later_s: float) -> Path:
    """A copy of a real run with every latency multiplied (a run `factor` times slower).

    The statistics and the page are recomputed by the lab's own code.
    """
    copy = into / f"{run.name}_slowed"
    shutil.copytree(run, copy)
    samples = pd.read_parquet(copy / "requests.parquet")
    samples["latency_us"] = samples["latency_us"] * factor
    samples.to_parquet(copy / "requests.parquet")
    summary = load_summary(copy)
    started = time.strptime(summary.started_at, "%Y-%m-%dT%H:%M:%SZ")
    summary = summary.model_copy(update={
        "stats": request_stats(samples, summary.windows.measurement),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                    time.gmtime(time.mktime(started) + later_s))})
    (copy / "summary.json").write_text(summary.model_dump_json())
    write_run_report(copy)
    return copy


@pytest.mark.scenario_runs
def test_compare_and_the_index_flag_a_regression(passing_run: TinyRun, failing_run: TinyRun,
                                                 tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    first = reports / passing_run.folder.name
    second = reports / failing_run.folder.name
    shutil.copytree(passing_run.folder, first)
    shutil.copytree(failing_run.folder, second)
    slowed = slowed_copy(first, reports, factor=5, later_s=3600)

    runs, unreadable = collect_runs(reports)
    assert unreadable == []
    assert [r.name for r in runs][-1] == slowed.name
    flagged = regressions(runs)   # one comparable group: smoke, push, tiny, 20 users
    slowed_flags = [r for r in flagged if r.run == slowed.name]
    assert any(r.metric == "home_timeline p95 ms" for r in slowed_flags), flagged
    index = update_index(reports).read_text()
    assert "⚠ home_timeline p95 ms" in index and slowed.name in index
    assert index.index(f">{slowed.name}<") < index.index(f">{first.name}<")   # newest first

    rows = {row["name"]: row for row in request_rows([RunFolder(first),
                                                      RunFolder(slowed), RunFolder(first)])}
    timeline = rows["home_timeline"]["cells"]
    slower = timeline[1]["changes"]["p95"]
    assert slower.relative == pytest.approx(4.0, abs=0.01) and slower.call == "higher"
    assert slower.relative_interval()[0] > 1.0        # five times slower: surely over +100 %
    # The same run against itself (A/A): no change is called, in any metric of any name.
    assert all(change.call is None for row in rows.values() if row["cells"][2]
               for change in row["cells"][2]["changes"].values())
    done = lab("compare", str(first), str(second), str(slowed), "--out", str(tmp_path / "cmp"))
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "cmp" / "index.html").read_text()
    assert page.count('src="data:image/png;base64,') == 4
    assert "+400.0%" in page and "plan signature" in page and "95 % bootstrap interval" in page
    # The terminal gets the same finding: the slowed timeline's p95, called, with its interval.
    printed = next(line for line in done.stdout.splitlines()
                   if line.lstrip("│ ").startswith("home_timeline") and "p95" in line
                   and "+400%" in line)
    assert "higher" in printed and " to +" in printed, done.stdout
    assert "success criteria, side by side" in done.stdout and done.stdout.rstrip().endswith(
        str(tmp_path / "cmp" / "index.html"))


@pytest.mark.scenario_runs
def test_the_analysis_notebook_runs_on_a_real_run(passing_run: TinyRun,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = Path(__file__).resolve().parents[2] / "notebooks" / "analysis.ipynb"
    monkeypatch.setenv("LAB_RUN_DIR", str(passing_run.folder))
    nb = nbformat.read(notebook, as_version=4)
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(notebook.parent)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert passing_run.folder.name in "".join(o.get("text", "") for o in outputs)
    assert sum(o["output_type"] == "display_data" and "image/png" in o.get("data", {})
               for o in outputs) >= 2
