"""`lab bench api`: the same SQL through pgbench and through the API, side by side.

For each timeline strategy a real `lab serve` process is started; pgbench
runs the exact statement from lab/queries.sql (prepared, as the API's pool
does), then the lab's HTTP generator (lab/httpload.py) drives the matching
endpoint. Both in one run, on one machine, so the ratio HTTP/pgbench says what
the API layer costs. Latency percentiles come from every transaction
(pgbench's per-transaction log) and every HTTP answer.
"""

from __future__ import annotations

import json
import math
import os
import random
import string
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import numpy as np

from lab import generators
from lab.api_process import api_process
from lab.errors import LabError
from lab.generators import pgbench_sql
from lab.httpload import SEQUENCE_MARK, render_get, render_request, run_http_load
from lab.load.profiling import Profiler, python_processes
from lab.migrate import migrate
from lab.percentiles import percentile
from lab.pg.server import PgServer
from lab.queries import first_page
from lab.runfolder import PROFILES_DIR
from lab.security import token_hash

PAGE = 50
POSTERS = 500
PROFILES = 4096           # distinct profile requests the generator cycles through
HTTP_TIMEOUT_S = 10
WARMUP_S = 0.5


@dataclass
class Measure:
    """Throughput and latency of one load."""

    name: str
    tool: str
    strategy: str
    connections: int
    per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    api_cpu_ms: float | None = None    # the API's CPU per 2xx answer, inside the window
    note: str = ""                     # why p50 and p99 are NaN though requests were timed


def pgbench_script(name: str, user_id: int) -> str:
    """Turn a named statement into a pgbench script for `user_id`'s first page."""
    return pgbench_sql(name, {**first_page(PAGE), "user_id": user_id, "viewer_id": user_id})


def run_pgbench(server: PgServer, database: str, script: str, clients: int,
                seconds: int) -> tuple[float, np.ndarray, int, str]:
    """Run pgbench (prepared, as the API's pool); return (tps, latencies in ms, failed, why
    the latencies are withheld): none when pgbench was too short of CPU to time them."""
    run = generators.run_pgbench(server.display_url(database), [(script, 1)], clients, seconds,
                                 "prepared")
    if run.returncode != 0 or run.tps is None:
        raise LabError(f"pgbench failed: {run.stderr.strip()[-400:]}")
    latency_ms = np.array([]) if run.latency_withheld else run.latency_us / 1000
    return run.tps, latency_ms, run.failed, run.latency_withheld


@dataclass(frozen=True)
class Api:
    """The API process a bench drives: whose CPU is counted, and where its profiles go
    (None: not profiled)."""

    port: int
    pid: int
    profiles: Path | None = None

    def measure(self, label: str, connections: int, seconds: int, requests: list[bytes]
                ) -> tuple[float, float, float, int, float | None]:
        """Drive the API; return (2xx answers/s, p50 ms, p99 ms, non-2xx answers + socket
        errors, the API's CPU ms per 2xx answer). With profiles, py-spy records the API
        over the same load, into a folder of its own named `label`."""
        profiler = None
        if self.profiles is not None:
            profiler = Profiler({"api": self.pid}, self.profiles / label / PROFILES_DIR,
                                lambda: True, WARMUP_S, max(1.0, seconds - 1))
            profiler.start()
        try:
            run = run_http_load("127.0.0.1", self.port, requests, connections, seconds,
                                timeout_s=HTTP_TIMEOUT_S, warmup_s=WARMUP_S,
                                watch_pids=tuple(python_processes(self.pid)))
        finally:
            if profiler is not None:
                profiler.stop()
        cpu_ms = (run.watched_cpu_s * 1000 / run.ok
                  if run.watched_cpu_s is not None and run.ok else None)
        return (run.per_s, *percentiles_ms(run.latency_us / 1000),
                run.non_2xx + sum(run.errors.values()), cpu_ms)


def percentiles_ms(latency_ms: np.ndarray) -> tuple[float, float]:
    """p50 and p99 by nearest rank (NaN when nothing was measured)."""
    p50, p99 = (percentile(latency_ms, p) for p in (50, 99))
    return (math.nan if p50 is None else p50, math.nan if p99 is None else p99)


def bench_requests(port: int, reader: int, tokens: list[str], max_user: int
                   ) -> dict[str, list[bytes]]:
    """What each HTTP measure sends: the reader's timeline, tweets by the posters in turn,
    sign-ups with names no earlier run used, profiles of random seeded users."""
    host = "127.0.0.1"
    rng = random.Random()
    run_tag = "b" + "".join(rng.choices(string.ascii_lowercase + string.digits, k=4))
    name = f"{run_tag}{SEQUENCE_MARK.decode()}"       # 15 characters, the username limit
    signup = json.dumps({"username": name, "email": f"{name}@bench.example",
                         "display_name": "bench"})
    tweet = json.dumps({"body": "benchmark tweet"})
    return {
        "home_timeline": [render_get(host, port, f"/timeline/home?limit={PAGE}",
                                     f"bench-{reader}")],
        "post_tweet": [render_request(host, port, "POST", "/tweets", token, tweet)
                       for token in tokens],
        "register_user": [render_request(host, port, "POST", "/users", json_body=signup)],
        "profile": [render_get(host, port, f"/users/{rng.randint(1, max_user)}")
                    for _ in range(PROFILES)],
    }


def prepare_tokens(server: PgServer, database: str) -> tuple[int, list[str], int]:
    """Give the top power reader and POSTERS other users bench tokens.

    Returns the reader, the posters' tokens and the number of seeded users.
    """
    with server.connect(database) as conn:
        row = conn.execute("SELECT value->0->>'id' FROM dataset_facts "
                           "WHERE key = 'power_readers'").fetchone()
        if row is None:
            raise LabError(f"{database} is not seeded: run `lab seed` first")
        reader = int(row[0])
        posters = [r[0] for r in conn.execute(
            "SELECT id FROM users WHERE id <> %s ORDER BY id LIMIT %s", (reader, POSTERS))]
        for user in [reader, *posters]:
            conn.execute("INSERT INTO api_tokens VALUES (%s, %s) ON CONFLICT DO NOTHING",
                         (token_hash(f"bench-{user}"), user))
        # Seeded ids are contiguous (registrations later may leave gaps).
        seeded = conn.execute("SELECT (value->>'users')::int FROM dataset_facts "
                              "WHERE key = 'rows'").fetchone()
        conn.commit()
    assert seeded is not None
    return reader, [f"bench-{user}" for user in posters], int(seeded[0])


def bench_api(server: PgServer, database: str, strategies: list[str], seconds: int,
              connections: int, moderate: int, port: int,
              progress: Callable[[Measure], None],
              profiles: Path | None = None) -> list[Measure]:
    """Run the whole comparison; return every measure. With `profiles`, each HTTP load's
    API process is recorded by py-spy into a folder of its own there."""
    with server.connect(database) as conn:
        migrate(conn)  # pgbench runs before `lab serve` would migrate
    reader, tokens, max_user = prepare_tokens(server, database)
    env = dict(os.environ)
    sends = bench_requests(port, reader, tokens, max_user)
    measures: list[Measure] = []

    def record(name: str, tool: str, strategy: str, clients: int, per_s: float, p50: float,
               p99: float, errors: int, api_cpu_ms: float | None = None, note: str = "") -> None:
        measure = Measure(name, tool, strategy, clients, per_s, p50, p99, errors, api_cpu_ms,
                          note)
        measures.append(measure)
        progress(measure)

    def http(api: Api, name: str, strategy: str, clients: int) -> None:
        record(name, "http", strategy, clients,
               *api.measure(f"{name}-{strategy}-c{clients}", clients, seconds, sends[name]))

    def pg(name: str, strategy: str, statement: str) -> None:
        tps, lat, failed, withheld = run_pgbench(server, database,
                                                 pgbench_script(statement, reader), connections,
                                                 seconds)
        record(name, "pgbench", strategy, connections, tps, *percentiles_ms(lat), failed,
               note=withheld)

    for strategy in strategies:
        statement = f"home_timeline_{strategy}"
        pg("home_timeline", strategy, statement)
        with api_process(server, database, strategy, port, env) as process:
            api = Api(port, process.pid, profiles)
            for clients in (connections * 2, moderate):
                http(api, "home_timeline", strategy, clients)
            http(api, "post_tweet", strategy, moderate)
            stats = httpx.get(f"http://127.0.0.1:{port}/stats", timeout=10).json()
            if stats["fanout_mode"] == "queue":
                # Background delivery: tweets/s delivered, last and worst wait in the queue.
                lag = stats["fanout"]
                record("fanout_delivery", "worker", strategy, 1, lag["tweets"] / seconds,
                       lag["last_lag_ms"], lag["max_lag_ms"], int(lag["errors"]))
            if strategy == strategies[0]:
                http(api, "register_user", strategy, moderate)
                for clients in (connections * 2, moderate):
                    http(api, "profile", strategy, clients)
        if strategy == strategies[0]:
            script = (f"\\set user_id random(1, {max_user})\n"
                      + pgbench_sql("profile", {"user_id": ":user_id"}))
            tps, lat, failed, withheld = run_pgbench(server, database, script, connections,
                                                     seconds)
            record("profile", "pgbench", strategy, connections, tps, *percentiles_ms(lat),
                   failed, note=withheld)
    return measures


def results_path(folder: Path) -> Path:
    """Where this bench's measures go (its profiles, if any, in the folder of that name)."""
    return folder / f"bench-api-{time.strftime('%Y%m%d-%H%M%S')}.json"


def write_results(measures: list[Measure], path: Path) -> Path:
    """Save the measures as JSON under reports/ for later comparison."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(m) for m in measures], indent=2))
    return path
