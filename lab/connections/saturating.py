"""Saturating clients: N connections asking as fast as answers come back.

Generators that cost far less per request than what they drive, so the client is
not what saturates: pgbench for the database paths (direct and through PgBouncer),
lab.httpload (a bare asyncio protocol in a process of its own) for the API. Both
send the workload's requests (workload.py) and keep every latency, so the
percentiles are exact; pgbench's are withheld when it was too short of CPU to
time them (generators.CLOCK_ZERO_SHARE_MAX).
"""

from __future__ import annotations

import re

from lab.connections.results import STOPPED, LevelResult, with_latencies
from lab.connections.workload import Workload
from lab.generators import run_pgbench
from lab.httpload import run_http_load

HTTP_TIMEOUT_S = 10
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
    with_latencies(result, run.latency_us, duration_s)
    if run.latency_withheld:
        result.latency_ms = dict.fromkeys(result.latency_ms)
        result.latency_withheld = run.latency_withheld
    return result


def http_level(host: str, port: int, workload: Workload, clients: int,
               duration_s: int) -> LevelResult:
    """Drive the API with `clients` keep-alive connections for `duration_s`.

    Non-2xx answers count as http_5xx: every request names an existing user with a
    valid token, so the only refusal the API gives is 503 (no pooled connection free).
    Socket errors keep their kind: only a refused connection means more clients would be
    refused (the sweep stops there); a dropped answer (read) or a malformed one (protocol)
    degrades the level without saying so.
    """
    result = LevelResult(path="api", mode="saturating", clients=clients,
                         tool="lab.httpload (every answer timed)")
    run = run_http_load(host, port, workload.http_requests(host, port), clients, duration_s,
                        timeout_s=HTTP_TIMEOUT_S)
    result.client_cpu_percent = round(run.window_cpu_s / run.seconds * 100, 1)
    errors = {kind: run.errors.get(kind, 0) for kind in ("refused", "read", "protocol",
                                                           "timeout")}
    errors["http_5xx"] = run.non_2xx
    result.errors = {kind: count for kind, count in errors.items() if count}
    return with_latencies(result, run.latency_us, run.seconds)
