"""The attribution's arithmetic and rules, on small frames whose answers are worked out by
hand: the parts of a request, which tails get a finding, which seconds are spikes, and the
statements named behind database time. (The known-cause runs are tests/load's.)"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import pytest

from lab.attribution.capacity import capacity, capacity_causes, cpu_per_request_text
from lab.attribution.causes import (
    Busy,
    Setup,
    is_spike,
    lever_for,
    load_causes,
    second_causes,
    statements_behind,
    tail_causes,
)
from lab.attribution.decompose import breakdowns, components
from lab.attribution.waits import SAMPLE_MARKER, load_per_second, lock_waits, top_waits
from lab.records import Breakdown, Components, Window, WorstSecond

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
    # Four samples taken (one marker row each), the last finding nobody at work: load is
    # divided by the four, not by the three that found a session.
    busy = pd.DataFrame({
        "ts": [1.0, 1.0, 1.1, 1.1, 1.2],
        "backend_type": ["client backend"] * 5,
        "wait_event_type": ["LWLock", "Lock", "LWLock", None, "IO"],
        "wait_event": ["WALWrite", "transactionid", "WALWrite", None, "WalSync"],
        "lock_relation": [None, "tweets", None, None, None],
        "blocker_query": [None, "SELECT 1 FOR UPDATE", None, None, None]})
    markers = pd.DataFrame({"ts": [1.0, 1.1, 1.2, 1.3], "backend_type": [SAMPLE_MARKER] * 4})
    waits = pd.concat([busy, markers], ignore_index=True)
    load = top_waits(waits)
    assert load == {"LWLock:WALWrite": 0.5, "Lock:transactionid": 0.25, "CPU": 0.25,
                    "IO:WalSync": 0.25}
    per_second = load_per_second(waits)
    assert per_second.loc[1, "LWLock:WALWrite"] == 2 / 4
    assert SAMPLE_MARKER not in " ".join(per_second.columns)
    kinds = {c.kind: c for c in load_causes(load, lock_waits(waits))}
    assert set(kinds) == {"wal"}, "a quarter of a session on locks is below the bar"
    assert "0.75 of 1.25 active sessions" in kinds["wal"].text
    # A folder written before the markers: the samples that found someone (three) divide.
    assert top_waits(busy)["LWLock:WALWrite"] == 0.667


def test_an_idle_second_has_no_load_rather_than_no_row() -> None:
    markers = pd.DataFrame({"ts": [5.0, 5.5, 6.0, 6.5], "backend_type": [SAMPLE_MARKER] * 4})
    one = pd.DataFrame({"ts": [5.5], "backend_type": ["client backend"],
                        "wait_event_type": [None], "wait_event": [None]})
    per_second = load_per_second(pd.concat([one, markers], ignore_index=True))
    assert per_second.loc[5, "CPU"] == 0.5 and per_second.loc[6, "CPU"] == 0.0


def server_rows(cpu: tuple[float, float, float], pressure_per_s: float) -> pd.DataFrame:
    """Server rows every 2 s over 0..10 s: (postgres, api, locust) % CPU, CPU pressure µs/s."""
    ts = [float(t) for t in range(0, 11, 2)]
    return pd.DataFrame({"ts": ts, "postgres_cpu_percent": cpu[0], "api_cpu_percent": cpu[1],
                         "locust_cpu_percent": cpu[2],
                         "pressure_cpu_some_us": [t * pressure_per_s for t in ts]})


def test_capacity_is_little_s_law_over_the_window_and_the_host_s_cpu() -> None:
    window = Window(start_ts=0.0, end_ts=10.0, seconds=10.0)
    # 1,000 requests in 10 s, each holding its connection 30 ms (app 40 - pool 10), 20 ms of
    # it in the database: 3.0 connections held, 2.0 in the database, on average.
    busy = requests([("a", 45_000, 40_000, 10_000, 20_000)] * 1000)
    room = capacity(busy, server_rows((90.0, 60.0, 30.0), 400_000), window, 2, 4)
    assert room.pool_busy == pytest.approx(3.0) and room.pool_db == pytest.approx(2.0)
    assert room.cpu_busy_share == pytest.approx(0.9) and room.cpu_wait_share == pytest.approx(0.4)
    assert room.saturated and room.pool_full
    cpu, pool = capacity_causes(room)
    assert cpu.kind == "cpu" and "2 CPUs were 90% busy" in cpu.text
    assert "PostgreSQL 90 %, the API 60 %, Locust 30 %" in cpu.text
    assert "waited for a CPU 40% of the time" in cpu.text
    assert pool.kind == "pool" and "held 3.0 at a time on average (75%" in pool.text
    assert "2.0 of them busy in the database" in pool.text and "saturated" in pool.lever
    assert "idle CPU" in cpu.lever
    # The pool's lever for its waiters follows: not a larger pool on a saturated machine.
    full = Busy(cpu_saturated=True, pool_full=True)
    assert "competing for the same CPUs" in lever_for("pool wait", SETUP, full)
    assert "LAB_POOL_MAX" in lever_for("pool wait", SETUP, Busy())


def test_a_machine_with_room_and_a_quiet_pool_get_no_capacity_finding() -> None:
    window = Window(start_ts=0.0, end_ts=10.0, seconds=10.0)
    light = requests([("a", 5_000, 3_000, 100, 2_000)] * 100)
    room = capacity(light, server_rows((30.0, 20.0, 10.0), 10_000), window, 2, 4)
    assert not room.saturated and not room.pool_full and capacity_causes(room) == []
    # Without server rows or timings, nothing is claimed.
    unseen = capacity(light.assign(server_db_us=None), pd.DataFrame(), window, 2, 4)
    assert unseen.cpu_busy_share is None and unseen.pool_busy is None
    assert capacity_causes(unseen) == []


def test_cpu_per_request_is_each_group_s_share_of_a_core_over_the_request_rate() -> None:
    window = Window(start_ts=0.0, end_ts=10.0, seconds=10.0)
    sent = requests([("a", 5_000, 3_000, 100, 2_000)] * 1000)      # 100 requests/s
    rows = server_rows((90.0, 60.0, 30.0), 10_000).assign(api_remote_cpu_percent=20.0)
    room = capacity(sent, rows, window, 2, 4)
    # 90 % of a core at 100 requests/s is 9 ms of CPU per request.
    assert room.cpu_ms_per_request() == {"postgres": 9.0, "api": 6.0, "locust": 3.0,
                                         "api_remote": 2.0}
    # A target's own CPU is not this machine's: it does not count toward its busy share.
    assert room.cpu_busy_share == pytest.approx(0.9)
    assert cpu_per_request_text(room.cpu_ms_per_request()).startswith("PostgreSQL 9.00 ms")
    assert capacity(sent.iloc[:0], rows, window, 2, 4).cpu_ms_per_request() == {}
