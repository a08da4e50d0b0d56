"""Real tiny load runs, made once per session and shared by the smoke and report tests.

Each is `lab run` for real: tiny dataset, 20 users, about 18 s, the smoke
scenario (every request name, SC1 and SC3 measured even in a short run). One
passes (lenient thresholds, one Locust process, profiled with py-spy), one fails (an impossible SC3,
master + 2 workers). Tests read their folders and must not change them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab.pg.server import PgServer
from lab.runfolder import Summary, load_summary

RUN = ["--scale", "tiny", "--users", "20", "--spawn-rate", "10", "--run-time", "18s"]


@dataclass(frozen=True)
class TinyRun:
    exit_code: int
    summary: Summary
    folder: Path
    stdout: str


def lab_run(server: PgServer, reports: Path, *args: str, db: str | None = None,
            env: dict[str, str] | None = None) -> TinyRun:
    """`lab run` on `server` (or on the source `db` names, with `env` added)."""
    done = subprocess.run([sys.executable, "-m", "lab.cli", "run", *RUN,
                           "--db", db or server.url(), "--reports", str(reports), *args],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "200", **(env or {})})
    folders = sorted(p for p in reports.iterdir() if p.is_dir())
    assert folders, done.stdout + done.stderr
    folder = folders[-1]
    assert (folder / "summary.json").exists(), done.stdout + done.stderr
    summary = load_summary(folder)
    assert "success criteria" in done.stdout
    return TinyRun(done.returncode, summary, folder, done.stdout)


@pytest.fixture(scope="session")
def passing_run(pg_server: PgServer, seeded_template: str,
                tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    return lab_run(pg_server, tmp_path_factory.mktemp("reports"), "--scenario", "smoke",
                   "--threshold", "SC1=60000", "--threshold", "SC3=60000", "--tag", "lenient",
                   "--profile")


@pytest.fixture(scope="session")
def failing_run(pg_server: PgServer, seeded_template: str,
                tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    return lab_run(pg_server, tmp_path_factory.mktemp("reports"), "--scenario", "smoke",
                   "--locust-workers", "2", "--threshold", "SC3=0.001", "--shape", "steady")
