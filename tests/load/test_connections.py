"""`lab connections` for real at tiny levels: every path and mode measured, the page and the
SC4 verdict written, a server with few connection slots stopped gracefully, nothing left behind."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from lab.connections.pgbouncer import find_pgbouncer
from lab.connections.results import MEASURED, STOPPED
from lab.pg.databases import list_lab_databases
from lab.pg.embedded import EmbeddedPostgres
from lab.pg.server import PgServer
from tests.conftest import free_port

LEVELS = [5, 20]
PACE = "10"     # tiny levels need a brisk pace to give a p95 in a few seconds


def lab_connections(server_url: str, reports: Path, *args: str
                    ) -> tuple[subprocess.CompletedProcess[str], Path, dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "lab.cli", "connections", "--scale", "tiny", "--db", server_url,
         "--duration", "2s", "--pace", PACE, "--reports", str(reports), *args],
        capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "200"})
    folders = [p for p in reports.iterdir() if (p / "connections.json").exists()]
    assert len(folders) == 1, done.stdout + done.stderr
    return done, folders[0], json.loads((folders[0] / "connections.json").read_text())


def helpers_running() -> set[int]:
    """PgBouncer, pgbench, wrk and `lab serve` processes on the machine."""
    found = set()
    for process in psutil.process_iter(["pid", "name", "cmdline"]):
        command = " ".join(process.info["cmdline"] or [])
        if process.info["name"] in ("pgbouncer", "pgbench", "wrk") or "lab.cli serve" in command:
            found.add(process.info["pid"])
    return found


def sc4_from_levels(document: dict[str, Any], levels: list[int]) -> tuple[dict[str, str], str]:
    """SC4 judged here from the measured levels alone (docs/criteria.md): per path, paced
    p95 at the most clients <= 1.5 x at the fewest, saturating throughput at the most >= 90 %
    of the sweep's peak, no errors at the top; SC4 holds when some path holds both."""
    lowest, highest = min(levels), max(levels)
    statuses = {}
    for path in {r["path"] for r in document["results"]}:
        at = {(r["mode"], r["clients"]): r for r in document["results"] if r["path"] == path}
        low, high = at[("paced", lowest)], at[("paced", highest)]
        paced = not high["errors"] and high["latency_ms"]["p95"] <= 1.5 * low["latency_ms"]["p95"]
        saturating = [at[("saturating", n)] for n in levels]
        peak = max(r["throughput_per_s"] for r in saturating)
        top = saturating[-1]
        holds = not top["errors"] and top["throughput_per_s"] >= 0.9 * peak
        statuses[path] = "pass" if paced and holds else "fail"
    return statuses, "pass" if "pass" in statuses.values() else "fail"


def test_every_path_and_mode_is_measured_and_judged(pg_server: PgServer, seeded_template: str,
                                                    tmp_path: Path) -> None:
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (.ci/run installs Debian's package)")
    if find_pgbouncer() is None:
        pytest.skip("pgbouncer is not installed (.ci/run installs Debian's package)")
    before = helpers_running()
    done, folder, document = lab_connections(pg_server.url(), tmp_path,
                                             "--levels", ",".join(map(str, LEVELS)))
    assert done.returncode in (0, 2), done.stderr
    paths = ["direct", "api", "pgbouncer"]
    assert document["skipped_paths"] == {}
    results = {(r["path"], r["mode"], r["clients"]): r for r in document["results"]}
    assert set(results) == {(p, m, n) for p in paths for m in ("paced", "saturating")
                            for n in LEVELS}
    for key, r in results.items():
        assert r["status"] == MEASURED, key
        assert r["requests"] > 0 and r["errors"] == {}, (key, r["errors"])
        assert r["latency_ms"]["p50"] <= r["latency_ms"]["p95"] <= r["latency_ms"]["max"]
    # Direct clients each hold a backend; pooled paths hold only the pool's few, however
    # many clients come: from 5 to 20 clients their backends grow by the pool at most.
    def backends(path: str, clients: int) -> int:
        return int(results[(path, "paced", clients)]["backends_max"])

    assert backends("direct", 20) >= 20 and backends("direct", 20) - backends("direct", 5) >= 15
    for path in paths[1:]:
        assert backends(path, 20) - backends(path, 5) <= document["pool_size"], path
    assert [p["path"] for p in document["paths"]] == paths
    statuses, overall = sc4_from_levels(document, LEVELS)
    assert {p["path"]: p["status"] for p in document["paths"]} == statuses
    assert document["sc4"]["status"] == overall
    assert "levels 5 to 20 clients" in document["sc4"]["note"]
    assert done.returncode == (0 if overall == "pass" else 2)

    page = (folder / "index.html").read_text()
    assert page.count('src="data:image/png;base64,') == 2
    assert "Why the pooled paths hold" in page and "core_count × 2" in page
    assert "SC4" in done.stdout and f"report: {folder / 'index.html'}" in done.stdout
    index = (tmp_path / "index.html").read_text()       # the experiment is listed with its verdict
    assert f'<a href="{folder.name}/index.html">{folder.name}</a>' in index
    assert helpers_running() <= before                  # every process it started is gone
    assert not [d for d in list_lab_databases(pg_server) if d.startswith("timeline_lab_run_")]


@pytest.fixture
def few_slots(tmp_path: Path) -> Iterator[PgServer]:
    """An embedded server of its own with max_connections = 30."""
    server = EmbeddedPostgres(tmp_path / "pgdata", free_port(), {"max_connections": "30"})
    server.start()
    try:
        yield server.server()
    finally:
        server.stop()


def test_a_server_with_few_slots_stops_the_direct_path_and_says_why(few_slots: PgServer,
                                                                   tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    done, folder, document = lab_connections(
        few_slots.url(), reports, "--levels", "5,40", "--paths", "direct")
    assert done.returncode == 2, done.stdout + done.stderr
    by_mode = {(r["mode"], r["clients"]): r for r in document["results"]}
    assert by_mode[("paced", 5)]["status"] == MEASURED
    assert by_mode[("saturating", 5)]["status"] == MEASURED
    for mode in ("paced", "saturating"):
        stopped = by_mode[(mode, 40)]
        assert stopped["status"] == STOPPED
        assert "max_connections = 30" in stopped["note"]
    (direct,) = document["paths"]
    assert direct["status"] == "fail" and "stopped below 40 clients" in direct["paced_text"]
    assert "stopped" in (folder / "index.html").read_text()
