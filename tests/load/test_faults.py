"""Faults injected into real tiny load runs: 503s during the outage, recovery by itself,
no acknowledged write lost, a clean audit after."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from lab.pg.server import PgServer
from tests.conftest import TEST_PGDATA
from tests.load.conftest import RUN, TinyRun, lab_run

# Latency criteria are not what these runs test: an outage slows requests on purpose.
FAULT_RUN = ["--scenario", "smoke", "--users", "20", "--run-time", "25s",
             "--threshold", "SC1=60000", "--threshold", "SC3=60000"]


def assert_survived(run: TinyRun, kinds: list[str]) -> None:
    assert run.exit_code == 0, run.stdout
    verdicts = {v.id: v for v in run.summary.criteria}
    assert verdicts["R"].status == "pass" and verdicts["V"].status == "pass"
    faults = run.summary.faults
    assert [f.kind for f in faults] == kinds
    for fault in faults:
        assert fault.error is None and fault.injected_ts is not None
        # Clients noticed it, and what they saw was 503s (with Retry-After), nothing else.
        assert fault.errors and fault.statuses == {"503": fault.errors}, fault
        assert fault.recover_s is not None     # its bound is R's, asserted above
    ledger = run.summary.ledger
    assert ledger.acknowledged > 0 and ledger.lost == 0 and ledger.duplicated == 0
    assert all(c.violations == 0 for c in run.summary.integrity)
    samples = pd.read_parquet(run.folder / "requests.parquet")
    # No other 5xx and no unanswered request, anywhere in the run; every 503 was a fault's.
    assert not ((samples["status"] >= 500) & (samples["status"] != 503)).any()
    assert not (samples["status"] == 0).any()
    assert (samples["status"] == 503).sum() == sum(f.answered_503 for f in faults)
    report = (run.folder / "index.html").read_text()
    assert "acknowledged writes lost: 0" in report and faults[0].label in report


@pytest.mark.scenario_runs
def test_killed_backends_and_an_exhausted_pool_are_survived(
        pg_server: PgServer, seeded_template: str, tmp_path: Path) -> None:
    run = lab_run(pg_server, tmp_path, *FAULT_RUN, "--fault", "kill-backends@6s",
                  "--fault", "pool-exhaust@12s+4s")
    assert_survived(run, ["kill-backends", "pool-exhaust"])
    exhausted = run.summary.faults[1]
    # Requests queued behind the lock past the pool timeout (2 s) were answered 503, for
    # about the 4 s hold less the timeout (a lower bound a slower machine only raises).
    assert exhausted.errors and exhausted.outage_s is not None and exhausted.outage_s >= 1.0


def test_restarting_a_server_the_lab_did_not_start_is_refused(
        pg_server: PgServer, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "lab.cli", "run", *RUN, "--db", pg_server.url(),
                           "--reports", str(tmp_path), "--fault", "restart-db@5s"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "does not stop a server it did not start" in done.stdout + done.stderr
    assert not list(tmp_path.iterdir())


@pytest.mark.skipif(bool(os.environ.get("LAB_TEST_DATABASE_URL")),
                    reason="restart-db restarts the embedded server, not one given by URL")
def test_a_database_restart_is_survived(pg_server: PgServer, seeded_template: str,
                                        tmp_path: Path) -> None:
    # The test server is an embedded one the lab started: point the run at it as such.
    port = pg_server.url().split("port=")[1].split()[0]
    env = {"LAB_PGDATA": str(TEST_PGDATA), "LAB_PG_PORT": port}
    run = lab_run(pg_server, tmp_path, *FAULT_RUN, "--fault", "restart-db@8s", db="embedded",
                  env=env)
    assert_survived(run, ["restart-db"])
