"""Saturating clients: N connections asking as fast as answers come back.

C load generators, so the client is not what saturates: pgbench for the database
paths (direct and through PgBouncer), wrk for the API. Both send the workload's
requests (workload.py); pgbench logs every transaction, so its percentiles are
exact; wrk's come from its own latency histogram.
"""

from __future__ import annotations

import json
import re

from lab.connections.results import STOPPED, LevelResult, with_latencies
from lab.connections.workload import Workload
from lab.errors import LabError
from lab.generators import run_pgbench, run_wrk

WRK_TIMEOUT_S = 10
REFUSED = re.compile(r"too many (clients|connections)|could not connect|connection refused|"
                     r"remaining connection slots", re.IGNORECASE)


def pgbench_level(url: str, workload: Workload, path: str, clients: int,
                  duration_s: int) -> LevelResult:
    """Run pgbench with `clients` sessions for `duration_s`; every transaction is logged.

    The extended protocol without prepared statements (PgBouncer 1.18 in transaction
    mode cannot carry them), the same on both database paths.
    """
    result = LevelResult(path=path, mode="saturating", clients=clients, tool="pgbench")
    run = run_pgbench(url, workload.pgbench_scripts(), clients, duration_s, "extended")
    result.client_cpu_percent = round(run.cpu_s / duration_s * 100, 1)
    if run.returncode != 0:
        message = (run.stderr.strip().splitlines() or ["pgbench failed"])
        refused = next((line for line in message if REFUSED.search(line)), None)
        result.status = STOPPED
        result.errors = {"refused" if refused else "sql": max(1, clients - len(run.latency_us))}
        result.note = (refused or message[-1])[-300:]
        return with_latencies(result, run.latency_us, duration_s)
    if run.failed:
        result.errors = {"sql": run.failed}
    if run.connect_ms is not None:
        # pgbench reports the time to open all of a thread's sessions, not one.
        result.connect_ms = {"p50": None, "max": run.connect_ms}
    return with_latencies(result, run.latency_us, duration_s)


def wrk_level(url: str, workload: Workload, clients: int, duration_s: int) -> LevelResult:
    """Run wrk with `clients` keep-alive connections for `duration_s`.

    Non-2xx answers count as http_5xx: every request names an existing user with a
    valid token, so the only refusal the API gives is 503 (no pooled connection free).
    """
    result = LevelResult(path="api", mode="saturating", clients=clients,
                         tool="wrk (latency from its histogram)")
    run = run_wrk(url, clients, duration_s, "the api path's saturating mode",
                  script=workload.wrk_script(), timeout_s=WRK_TIMEOUT_S)
    result.client_cpu_percent = round(run.cpu_s / duration_s * 100, 1)
    line = run.script_line("LABJSON ")
    if run.returncode != 0 or line is None:
        raise LabError(f"wrk failed: {run.failure()}")
    data = json.loads(line)
    seconds = data["duration_us"] / 1e6
    errors = {"refused": data["connect"] + data["read"] + data["write"],
              "timeout": data["timeout"], "http_5xx": data["status"]}
    result.errors = {kind: count for kind, count in errors.items() if count}
    ok = data["requests"] - data["status"]
    result.duration_s = round(seconds, 3)
    result.requests = ok
    result.throughput_per_s = round(ok / seconds, 2) if seconds else 0.0
    result.latency_ms = {key: round(data[f"{key}_us"] / 1000, 3)
                         for key in ("p50", "p95", "p99", "max")}
    return result
