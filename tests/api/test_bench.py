"""`lab bench api` end to end on the tiny dataset: it runs, measures, and sees no errors.

Speeds are not asserted here (they belong in the benchmark's output); only
that every measure exists, is positive and came without failed requests.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from lab.bench import Measure, bench_api, pgbench_script
from lab.pg.server import PgServer
from lab.runfolder import PROFILES_DIR, PROFILES_FILE
from tests.conftest import copy_of, free_port


def test_every_timeline_statement_becomes_a_pgbench_script() -> None:
    for strategy in ("pull", "push", "hybrid"):
        script = pgbench_script(f"home_timeline_{strategy}", 42)
        assert "%(" not in script and "42::bigint" in script


def test_bench_api_smoke(pg_server: PgServer, seeded_template: str, tmp_path: Path) -> None:
    with copy_of(pg_server, seeded_template, "bench") as database:
        seen: list[Measure] = []
        measures = bench_api(pg_server, database, ["push"], seconds=2, connections=2,
                             moderate=1, port=free_port(), progress=seen.append,
                             profiles=tmp_path)
    assert seen == measures
    names = {(m.name, m.tool) for m in measures}
    assert names == {("home_timeline", "pgbench"), ("home_timeline", "http"),
                     ("post_tweet", "http"), ("register_user", "http"), ("profile", "http"),
                     ("profile", "pgbench")}
    for m in measures:
        assert m.per_s > 0, m
        if m.note:      # pgbench short of CPU (the suite runs beside it): no latency, and why
            assert m.tool == "pgbench" and math.isnan(m.p50_ms) and math.isnan(m.p99_ms), m
            assert "transactions as 0 µs" in m.note, m
        else:
            assert 0 < m.p50_ms <= m.p99_ms, m
        assert m.errors == 0, m
        # Every HTTP load says what the API spent per answer, and was profiled.
        assert (m.api_cpu_ms is not None and m.api_cpu_ms > 0) == (m.tool == "http"), m
    loads = sorted(p.name for p in tmp_path.iterdir())
    assert loads == sorted(f"{m.name}-push-c{m.connections}" for m in measures
                           if m.tool == "http")
    for load in loads:
        recorded = json.loads((tmp_path / load / PROFILES_DIR / PROFILES_FILE).read_text())
        assert recorded["problems"] == [] and recorded["processes"], load
        assert all(meta["written"] for meta in recorded["processes"].values()), load
