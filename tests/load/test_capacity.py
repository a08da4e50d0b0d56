"""`lab capacity` for real: short judged steps on the tiny dataset, within a small budget."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab.pg.server import PgServer
from lab.runfolder import load_summary

pytestmark = pytest.mark.scenario_runs


def test_a_failing_target_makes_the_search_step_down_and_report_no_capacity(
        pg_server: PgServer, seeded_template: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lab.cli", "capacity", "--scenario", "smoke", "--scale", "tiny",
         "--start-users", "2", "--factor", "2", "--window", "10s", "--budget", "300s",
         "--spawn-rate", "20", "--threshold", "SC1=0.001", "--db", pg_server.url(),
         "--reports", str(tmp_path)],
        capture_output=True, text=True, timeout=400, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stdout + done.stderr
    [folder] = list(tmp_path.glob("*_capacity_smoke"))
    document = json.loads((folder / "capacity.json").read_text())
    steps = document["steps"]
    # 2 users fail (no registration is that fast), so the next step has fewer users, and at
    # 1 user there is nowhere lower to go: the search ends there, within its budget.
    assert [s["users"] for s in steps] == [2, 1]
    assert all(not s["seed_pass"] and "SC1" in s["failed"] for s in steps)
    assert document["headline"]["seed"] == {"users": None, "rps": None,
                                            "first_failing_users": min(s["users"] for s in steps),
                                            "bounded": True}
    assert document["stopped_because"].startswith(
        "no load held the seed thresholds, down to 1 user")
    for entry in steps:     # every point has its own judged run folder with the same load
        summary = load_summary(folder / entry["folder"])
        assert summary.config.users == entry["users"]
        assert summary.verdict("SC4") is not None and summary.verdict("SC4").status == \
            "not in scope"
        assert entry["rps"] > 0 and entry["p95_ms"] is not None and entry["cpu_percent"]
    page = (folder / "index.html").read_text()
    assert "none of the loads tried held" in page and "data:image/png" in page
    assert folder.name in (tmp_path / "index.html").read_text()
    assert "capacity for the seed thresholds: none of the loads tried" in done.stdout
