"""Runs whose parts the lab did not start: a target at a URL, workers that join from elsewhere.

(The whole topology, on separate network stacks, is tests/topology's.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from lab.api_process import api_process
from lab.load.workers import WORKERS_LOG
from lab.pg.server import PgServer
from lab.processes import free_port
from lab.runfolder import load_summary
from tests.load.conftest import RUN

LAB = [sys.executable, "-m", "lab.cli"]
# Their subject is the lab, not the server: they run once, on the embedded PostgreSQL.
pytestmark = pytest.mark.scenario_runs


@pytest.fixture
def target(pg_server: PgServer, seeded_copy: str, tmp_path: Path) -> Iterator[str]:
    """`lab serve` (push) on a seeded copy, as someone else would have started it."""
    port = free_port()
    with api_process(pg_server, seeded_copy, "push", port, dict(os.environ), 1,
                     tmp_path / "api.log"):
        yield f"http://127.0.0.1:{port}"


def lab_run(*args: str, reports: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LAB, "run", *RUN, "--reports", str(reports), *args],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "200"})


def test_a_target_is_checked_before_any_load(pg_server: PgServer, seeded_copy: str,
                                             seeded_db: str, target: str,
                                             tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    cases = [
        (["--strategy", "pull", "--db", pg_server.url(seeded_copy)],
         "serves home timelines with push, the run says pull"),
        # The API serves seeded_copy; a token written in another database is refused.
        (["--strategy", "push", "--db", pg_server.url(seeded_db)],
         "does not serve the database given with --db"),
        (["--strategy", "push", "--db", "embedded"], "--target needs --db with the"),
        (["--strategy", "push", "--db", pg_server.url(seeded_copy), "--before-load",
          "SELECT 1"], "a --target serves its own database"),
    ]
    for args, message in cases:
        done = lab_run("--target", target, *args, reports=reports)
        assert done.returncode == 1, done.stdout + done.stderr
        assert message in " ".join((done.stdout + done.stderr).split()), done.stderr
    # Refused before the load: no run folder was left behind.
    assert not reports.exists() or not any(reports.iterdir())


def _shipped_chunks(reports: Path) -> dict[str, int]:
    """Sample chunks in the run's samples folder, by worker."""
    found: dict[str, int] = {}
    for chunk in reports.glob("*/samples/*/w*-*.parquet"):
        worker = chunk.name.rsplit("-", 1)[0]
        found[worker] = found.get(worker, 0) + 1
    return found


@pytest.mark.timeout(400)
def test_a_worker_that_dies_mid_run_is_reported_and_counted_in_v(
        pg_server: PgServer, seeded_template: str, tmp_path: Path) -> None:
    reports, port = tmp_path / "reports", free_port()
    run = subprocess.Popen(
        [*LAB, "run", *RUN, "--scenario", "smoke", "--run-time", "30s", "--db", pg_server.url(),
         "--reports", str(reports), "--locust-workers", "2", "--master-bind",
         f"127.0.0.1:{port}", "--workers-wait", "60s"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "COLUMNS": "200"})
    workers = [subprocess.Popen([*LAB, "worker", "--master", f"127.0.0.1:{port}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for _ in range(2)]
    try:
        # Both workers' samples arrive in the master's folder; then one worker dies.
        deadline = time.monotonic() + 120
        while len([n for n in _shipped_chunks(reports).values() if n >= 2]) < 2:
            assert time.monotonic() < deadline and run.poll() is None, "no samples arrived"
            time.sleep(0.5)
        victim = psutil.Process(workers[0].pid).children(recursive=True)
        assert victim, "the worker's Locust process was not found"
        for process in victim:
            process.send_signal(signal.SIGKILL)
        output, _ = run.communicate(timeout=300)
    finally:
        for process in (run, *workers):
            if process.poll() is None:
                process.kill()
                process.wait()

    folder = next(p for p in reports.iterdir() if p.is_dir())
    summary = load_summary(folder)
    assert len(summary.samples.workers) == 2, output
    assert len(summary.samples.unfinished_workers) == 1, output
    verdicts = {v.id: v for v in summary.criteria}
    assert verdicts["V"].status == "fail"
    assert "did not all arrive" in verdicts["V"].note
    assert run.returncode == summary.exit_code == 3, output
    events = (folder / "samples" / WORKERS_LOG).read_text()
    assert events.count('"joined"') == 2 and '"missing"' in events
    assert "stopped answering" in output
    page = (folder / "index.html").read_text()
    assert "did not finish writing its samples" in page
