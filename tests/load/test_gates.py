"""Regression gates and the noise floor end to end: real tiny runs, one with a known injected
slowdown (every new like sleeps 30 ms in a trigger), gated against a real baseline."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from lab.pg.server import PgServer
from lab.report.trends import update_index
from lab.verdicts import EXIT_PASSED, EXIT_REGRESSION
from tests.load.conftest import TinyRun, lab_run
from tests.load.test_reports import lab

SLOW_LIKES = ("CREATE FUNCTION lab_slow_like() RETURNS trigger LANGUAGE plpgsql AS $$ "
              "BEGIN PERFORM pg_sleep(0.03); RETURN NEW; END $$; "
              "CREATE TRIGGER lab_slow_like BEFORE INSERT ON likes FOR EACH ROW "
              "EXECUTE FUNCTION lab_slow_like()")
GATES = "like.p50:+50%,throughput:-50%"


def gates_of(folder: Path) -> dict[str, dict]:
    document = json.loads((folder / "gates.json").read_text())
    return {gate["gate"]: gate for gate in document["gates"]} | {"": document}


@pytest.mark.scenario_runs
def test_an_a_a_gate_calls_nothing(passing_run: TinyRun, tmp_path: Path) -> None:
    baseline, again = tmp_path / "baseline", tmp_path / "again"
    shutil.copytree(passing_run.folder, baseline)
    shutil.copytree(passing_run.folder, again)
    done = lab("gate", str(again), "--baseline", str(baseline), "--fail-on",
               "home_timeline.p95:+20%,all.p99:+20%,throughput:-10%")
    assert done.returncode == EXIT_PASSED, done.stdout + done.stderr
    gates = gates_of(again)
    assert all(gates[g]["passed"] for g in ("home_timeline.p95", "all.p99", "throughput"))
    assert gates[""]["changes"] == []           # the same samples: nothing outside the noise
    assert "None: every difference" in (again / "summary.md").read_text()


@pytest.mark.scenario_runs
def test_repeated_gated_runs_call_an_injected_slowdown_and_record_their_noise(
        pg_server: PgServer, seeded_template: str, passing_run: TinyRun,
        tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    baseline = reports / passing_run.folder.name
    shutil.copytree(passing_run.folder, baseline)
    run = lab_run(pg_server, reports, "--scenario", "smoke", "--threshold", "SC1=60000",
                  "--threshold", "SC3=60000", "--tag", "slow-likes", "--repeat", "2",
                  "--baseline", "latest", "--fail-on", GATES, "--before-load", SLOW_LIKES)
    assert run.exit_code == EXIT_REGRESSION, run.stdout
    first, second = sorted(p for p in reports.iterdir() if p.name.endswith("slow-likes"))

    # The first slowed run against the real baseline: the like gate fails, throughput holds.
    gates = gates_of(first)
    assert gates[""]["baseline_name"] == baseline.name
    assert not gates["like.p50"]["passed"] and gates["throughput"]["passed"]
    assert gates["like.p50"]["low"] > 0.5              # surely beyond +50 %
    assert gates[""]["exit_code"] == EXIT_REGRESSION
    assert any(c["name"] == "like" and c["call"] == "higher" for c in gates[""]["changes"])
    cases = {case.attrib["name"]: case for case in
             ET.parse(first / "junit.xml").getroot().iter("testcase")}
    gated = {name: case.find("failure") is not None for name, case in cases.items()
             if name.startswith("gate ")}     # (T1 may fail too: a like now takes 30 ms+)
    assert gated == {f"gate like.p50 +50% against {baseline.name}": True,
                     f"gate throughput -50% against {baseline.name}": False}
    markdown = (first / "summary.md").read_text()
    assert "**FAIL** (exit 4)" in markdown and "| like.p50 | +50% | FAIL |" in markdown

    # The second against 'latest', the first: both slow, an A/A pair, so its gates hold.
    gates = gates_of(second)
    assert gates[""]["baseline_name"] == first.name and gates["like.p50"]["passed"]

    noise = json.loads((reports / "noise-smoke-push-tiny-20.json").read_text())
    assert noise["runs"] == [first.name, second.name]
    assert noise["metrics"]["like.p50"]["min"] > 30         # both runs carried the sleep
    assert "noise floor of 2 identical runs" in run.stdout
    assert "Noise floor: 2 identical runs" in update_index(reports).read_text()
