"""`lab bench api` end to end on the tiny dataset: it runs, measures, and sees no errors.

Speeds are not asserted here (they belong in the benchmark's output); only
that every measure exists, is positive and came without failed requests.
"""

from __future__ import annotations

from lab.bench import Measure, bench_api, pgbench_script
from lab.pg.server import PgServer
from tests.conftest import copy_of, free_port


def test_every_timeline_statement_becomes_a_pgbench_script() -> None:
    for strategy in ("pull", "push", "hybrid"):
        script = pgbench_script(f"home_timeline_{strategy}", 42)
        assert "%(" not in script and "42::bigint" in script


def test_bench_api_smoke(pg_server: PgServer, seeded_template: str) -> None:
    with copy_of(pg_server, seeded_template, "bench") as database:
        seen: list[Measure] = []
        measures = bench_api(pg_server, database, ["push"], seconds=1, connections=2,
                             moderate=1, port=free_port(), progress=seen.append)
    assert seen == measures
    names = {(m.name, m.tool) for m in measures}
    assert names == {("home_timeline", "pgbench"), ("home_timeline", "http"),
                     ("post_tweet", "http"), ("register_user", "http"), ("profile", "http"),
                     ("profile", "pgbench")}
    for m in measures:
        assert m.per_s > 0 and m.p50_ms > 0, m
        assert m.errors == 0, m
