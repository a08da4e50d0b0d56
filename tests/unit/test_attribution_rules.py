"""The attribution's arithmetic and rules, on small frames whose answers are worked out by
hand: the parts of a request, which tails get a finding, which seconds are spikes, and the
statements named behind database time. (The known-cause runs are tests/load's.)"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from lab.attribution.causes import (
    Busy,
    Setup,
    is_spike,
    load_causes,
    second_causes,
    statements_behind,
    tail_causes,
)
from lab.attribution.decompose import breakdowns, components
from lab.attribution.waits import load_per_second, lock_waits, top_waits
from lab.records import Breakdown, Components, WorstSecond

SETUP = Setup(api_workers=1, pool_max=4, locust_workers=0)


def requests(rows: Sequence[tuple[str, int, int | None, int | None, int | None]]) -> pd.DataFrame:
    """(name, latency, app, pool, db) in µs, all successful."""
    frame = pd.DataFrame(rows, columns=["name", "latency_us", "server_app_us",
                                        "server_pool_us", "server_db_us"])
    frame["failure"], frame["bucket"] = None, None
    return frame


def test_the_parts_are_client_pool_database_and_the_rest_of_the_app() -> None:
    parts = components(requests([("a", 10_000, 8_000, 3_000, 4_000),
                                 ("a", 20_000, 18_000, 1_000, 2_000)]))
    assert (parts.latency_ms, parts.client_ms, parts.pool_ms, parts.db_ms, parts.app_ms) == (
        15.0, 2.0, 2.0, 3.0, 8.0)
    assert parts.dominant == "app"


def test_without_server_timing_the_parts_are_unknown_not_zero() -> None:
    parts = components(requests([("a", 10_000, None, None, None)]))
    assert parts.parts() == {} and parts.dominant is None


def test_the_tails_are_the_slowest_requests_by_client_latency() -> None:
    rows = [("a", 1_000 * (i + 1), 900 * (i + 1), 0, 800 * (i + 1)) for i in range(100)]
    (row,) = breakdowns(requests(rows))
    assert row.requests == 100 and row.tail_p99.requests == 2 and row.tail_p95.requests == 6
    assert row.tail_p99.latency_ms == 99.5 and row.typical.requests == 51


def band(latency: float, pool: float, db: float, count: int = 10) -> Components:
    return Components(requests=count, latency_ms=latency, client_ms=1.0, pool_ms=pool,
                      db_ms=db, app_ms=max(0.0, latency - 1.0 - pool - db))


def breakdown(name: str, typical: Components, tail: Components) -> Breakdown:
    return Breakdown(name=name, requests=1000, typical=typical, tail_p95=tail, tail_p99=tail,
                     timed_share=1.0)


def test_a_tail_gets_a_finding_when_slow_against_its_typical_or_the_lab_target() -> None:
    rows = [breakdown("pooled", band(3, 0, 2), band(30, 25, 2)),        # 10x typical
            breakdown("steady", band(40, 0, 38), band(60, 0, 58)),      # 1.5x, beyond 50 ms
            breakdown("calm", band(3, 0, 2), band(4.5, 0, 3)),          # under the floor
            breakdown("even", band(20, 0, 18), band(30, 0, 28))]        # 1.5x, under 50 ms
    found = {c.scope: c for c in tail_causes(rows, SETUP, Busy())}
    assert set(found) == {"pooled", "steady"}
    assert found["pooled"].kind == "pool wait" and "(4 connections per worker)" in \
        found["pooled"].lever
    assert found["steady"].kind == "database"


def test_database_time_names_the_statements_behind_it_slowest_first() -> None:
    statements = [
        {"statement": "thread", "requests": ["thread"], "calls": 30, "mean_exec_time": 10.0},
        {"statement": "thread", "requests": ["thread"], "calls": 10, "mean_exec_time": 20.0},
        {"statement": "authenticate", "requests": ["every request with a token"],
         "calls": 900, "mean_exec_time": 0.1},
        {"statement": "home_timeline_push", "requests": ["home_timeline"], "calls": 10,
         "mean_exec_time": 3.0, "nested": False}]
    assert statements_behind("thread", statements) == \
        "; its statements: thread mean 12.50 ms over 40 calls"
    assert "home_timeline_push" in statements_behind("home_timeline (follows 1000+)",
                                                     statements)
    assert statements_behind("profile", statements) == ""


def second(p99: float, typical: float, **fields: object) -> WorstSecond:
    base: dict[str, object] = dict(second=7, p99_ms=p99, typical_p99_ms=typical, requests=50,
                                   tail=band(p99, 0, 1), waits={}, io_stall_ms=None,
                                   cpu_stall_ms=None, api_lag_ms=None, locust_lag_ms=None,
                                   gc_ms=None, events=[])
    return WorstSecond(**{**base, **fields})  # type: ignore[arg-type]


def test_only_a_second_that_stands_out_is_explained_and_each_event_once() -> None:
    assert is_spike(second(40, 10)) and not is_spike(second(15, 10))
    assert not is_spike(second(4, 1)), "a fast second is no spike"
    events = ["vacuum of likes done (at 7 s)", "analyze of users done (at 7 s)"]
    found = second_causes([second(40, 10, events=events), second(30, 10, events=events[:1]),
                           second(15, 10, events=["checkpoint (at 9 s)"],
                                  waits={"LWLock:WALWrite": 3.0})], pd.DataFrame())
    assert [c.kind for c in found] == ["event"]
    assert "p99 40.0 ms against 10.0 ms" in found[0].text
    assert found[0].text.startswith("vacuum of likes done (at 7 s); analyze of users done")


def test_wal_and_lock_load_over_the_window_are_findings() -> None:
    waits = pd.DataFrame({
        "ts": [1.0, 1.0, 1.1, 1.1, 1.2],
        "backend_type": ["client backend"] * 5,
        "wait_event_type": ["LWLock", "Lock", "LWLock", None, "IO"],
        "wait_event": ["WALWrite", "transactionid", "WALWrite", None, "WalSync"],
        "lock_relation": [None, "tweets", None, None, None],
        "blocker_query": [None, "SELECT 1 FOR UPDATE", None, None, None]})
    load = top_waits(waits, samples_taken=3)
    assert load == {"LWLock:WALWrite": 0.667, "Lock:transactionid": 0.333, "CPU": 0.333,
                    "IO:WalSync": 0.333}
    per_second = load_per_second(waits)
    assert per_second.loc[1, "LWLock:WALWrite"] == 2 / 3
    kinds = {c.kind: c for c in load_causes(load, lock_waits(waits))}
    assert set(kinds) == {"wal"}, "a third of a session on locks is below the bar"
    assert "1.00 of 1.67 active sessions" in kinds["wal"].text
