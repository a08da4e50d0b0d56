"""`lab run`'s exit codes end to end: 1 (could not run), 3 (invalid), 130 (interrupted, with
everything it started stopped), and `make run` treating a completed run as success."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import psutil
import pytest

from lab.pg.databases import list_lab_databases
from lab.pg.server import PgServer
from lab.runfolder import load_summary
from tests.conftest import free_port
from tests.load.conftest import RUN, lab_run

pytestmark = pytest.mark.scenario_runs

ROOT = Path(__file__).resolve().parents[2]
LENIENT = ["--threshold", "SC1=60000", "--threshold", "SC3=60000"]


def lab(*args: str, env: dict[str, str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lab.cli", *args], capture_output=True,
                          text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200", **(env or {})})


def test_a_run_that_cannot_start_exits_1_in_one_line(tmp_path: Path) -> None:
    done = lab("run", *RUN, "--db", "postgresql://nobody@127.0.0.1:1/x", "--reports",
               str(tmp_path / "reports"), timeout=60)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: cannot reach PostgreSQL")
    assert not (tmp_path / "reports").exists() or not list((tmp_path / "reports").iterdir())


def test_a_run_whose_requests_fail_is_invalid_and_exits_3(pg_server: PgServer,
                                                           seeded_template: str,
                                                           tmp_path: Path) -> None:
    # A pool of one connection that waits a millisecond at most: concurrent requests get
    # 503s that no fault excuses. The numbers of such a run cannot be trusted.
    starved = {"LAB_POOL_MIN": "1", "LAB_POOL_MAX": "1", "LAB_POOL_TIMEOUT_S": "0.001"}
    run = lab_run(pg_server, tmp_path, "--scenario", "smoke", "--spawn-rate", "20", *LENIENT,
                  env=starved)
    assert run.exit_code == 3, run.stdout
    v = run.summary.verdict("V")
    assert v is not None and v.status == "fail" and "unexpected failures" in v.note
    assert run.summary.stats.total.failures + run.summary.warmup_stats.total.failures > 0
    assert "The run is <strong>invalid</strong>" in (run.folder / "index.html").read_text()
    cases = {c.attrib["name"].split(":")[0]: c
             for c in ET.parse(run.folder / "junit.xml").getroot().iter("testcase")}
    assert cases["V"].find("failure") is not None


def leftovers(marker: str, database: str, server: PgServer) -> list[str]:
    """Processes whose command line names the run, and the run's database, if any remain."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        command = " ".join(process.info["cmdline"] or [])
        if (marker in command or database in command) and process.pid != os.getpid():
            found.append(f"{process.pid}: {command[:120]}")
    return found + [d for d in list_lab_databases(server) if d == database]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_run_stops_everything_and_exits_130(pg_server: PgServer,
                                                           seeded_template: str,
                                                           tmp_path: Path,
                                                           signum: int) -> None:
    reports = tmp_path / "reports"
    # Started with SIGINT ignored, as a script's `cmd &` starts it: the lab must still stop on
    # it, and so must the children it stops with SIGINT (CI once ran under such a job).
    process = subprocess.Popen(
        [sys.executable, "-m", "lab.cli", "run", "--scenario", "smoke", "--scale", "tiny",
         "--users", "20", "--spawn-rate", "20", "--run-time", "120s", "--db", pg_server.url(),
         "--reports", str(reports)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    database = f"timeline_lab_run_{process.pid}"
    assert process.stdout is not None
    seen = []
    for line in process.stdout:          # wait for the load itself, not a sleep
        seen.append(line)
        if "requests recorded" in line:
            break
    else:
        raise AssertionError("the load never started: " + "".join(seen))
    process.send_signal(signum)          # to `lab run` alone: it must stop its children
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "interrupted: everything the run started has been stopped" in err
    deadline = time.monotonic() + 10     # a killed child may take a moment to be reaped
    while leftovers(str(reports), database, pg_server) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert leftovers(str(reports), database, pg_server) == []


def test_make_run_counts_a_completed_run_as_success_whatever_its_verdict(
        pg_server: PgServer, seeded_template: str, tmp_path: Path) -> None:
    # make run starts the embedded server first: a fresh one of its own, here, stopped after.
    env = {**os.environ, "LAB_STATE_DIR": str(tmp_path / "state"),
           "LAB_PG_PORT": str(free_port()), "COLUMNS": "200"}
    reports = tmp_path / "reports"

    def make_run(*run_args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["make", "-C", str(ROOT), "run", "SCALE=tiny", "SCENARIO=smoke",
                               f"REPORTS={reports}", "RUN_ARGS=" + " ".join(run_args)],
                              capture_output=True, text=True, timeout=600, env=env)

    try:
        # A valid run (else exit 3): a measurement window of at least 10 s, and enough
        # sign-ups in it for SC1's p95.
        failed = make_run("--users", "20", "--spawn-rate", "20", "--run-time", "18s",
                          "--db", pg_server.display_url(),
                          "--threshold", "SC3=0.001")
        assert failed.returncode == 0, failed.stdout + failed.stderr
        report = failed.stdout.rsplit("report: ", 1)[1].split()[0]
        assert Path(report).is_file() and Path(report).parent.parent == reports
        # SC3 failed (exit 2), unless the busy machine also made the run invalid (3): make
        # says the code the run folder holds.
        judged = load_summary(Path(report).parent)
        assert judged.verdict("SC3") is not None and judged.verdict("SC3").status == "fail"
        assert judged.exit_code in (2, 3) and judged.exit_code == (
            3 if judged.verdict("V").status == "fail" else 2)
        assert (f"the run completed; its verdict is above (lab run exited {judged.exit_code})"
                in failed.stdout)
        broken = make_run("--db", "postgresql://nobody@127.0.0.1:1/x")
        assert broken.returncode != 0
        assert "cannot reach PostgreSQL" in broken.stderr
    finally:
        subprocess.run([sys.executable, "-m", "lab.cli", "db", "stop"], env=env,
                       capture_output=True, timeout=120)
