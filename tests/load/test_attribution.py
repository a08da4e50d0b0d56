"""Where the time goes, tried on known causes: each short tiny run has one cause planted, and
the run's explanation must name it as dominant for the requests it slows.

(a) a pool of one connection under load: pool wait; (b) a row lock held on the hot row:
lock waits on `tweets` behind the locking statement; (c) an index dropped in the run
database before the load: database time in the request that needed it, naming its
statement. Every sample's parts add up: client >= app >= pool + database.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from lab.pg.server import PgServer
from lab.records import Cause
from lab.runfolder import REQUESTS_FILE
from tests.load.conftest import TinyRun, lab_run

# Server-Timing durations are sent in ms with three decimals: 1 µs each, rounded.
RESOLUTION_US = 2


def tail_causes_of(run: TinyRun) -> dict[str, Cause]:
    """The per-request-name tail findings, by request name."""
    assert run.summary.attribution is not None
    return {c.scope: c for c in run.summary.attribution.causes if c.scope != "run"}


@pytest.mark.scenario_runs
def test_a_pool_of_one_connection_is_named_as_pool_wait(
        pg_server: PgServer, seeded_template: str, tmp_path: Path) -> None:
    # Pull timelines hold their connection longest (about 5 ms each on the tiny seed).
    run = lab_run(pg_server, tmp_path, "--scenario", "smoke", "--strategy", "pull",
                  "--users", "120", "--spawn-rate", "60", "--api-workers", "1",
                  env={"LAB_POOL_MIN": "1", "LAB_POOL_MAX": "1"})
    tails = tail_causes_of(run)
    assert run.summary.attribution is not None
    rows = run.summary.attribution.breakdown
    # The home timeline's p95 tail (the longest holder) is pool wait, and the findings name
    # the pool as the lever. (Other names' tails may be the generator's or the loop's on a
    # busy machine: a second's stall weighs more there.)
    timeline = next(row for row in rows if row.name == "home_timeline")
    assert timeline.tail_p95.dominant == "pool wait", timeline
    pooled = [c for c in tails.values() if c.kind == "pool wait"]
    assert pooled and all("(1 connection per worker" in c.lever for c in pooled), tails
    assert "where the time goes" in run.stdout


@pytest.mark.scenario_runs
def test_a_locked_hot_row_is_named_with_its_relation_and_blocker(
        pg_server: PgServer, seeded_template: str, tmp_path: Path) -> None:
    run = lab_run(pg_server, tmp_path, "--scenario", "viral", "--users", "80",
                  "--spawn-rate", "40", "--settle", "4", "--fault", "lock-row@8s+1.5s")
    assert run.summary.attribution is not None
    locks = [c for c in run.summary.attribution.causes if c.kind == "lock"]
    assert locks, run.summary.attribution.causes
    assert all(" on tweets, behind «" in c.text and "FOR UPDATE" in c.text for c in locks)
    # The spike seconds named are the fault's, counted from the first request (the origin of
    # the seconds named): from the second it was injected in to the one after its release.
    (fault,) = run.summary.faults
    assert fault.injected_ts is not None and fault.restored_ts is not None
    origin = run.summary.windows.run.start_ts
    held = {str(s) for s in range(math.floor(fault.injected_ts - origin),
                                  math.floor(fault.restored_ts - origin) + 2)}
    seconds = {c.text.split(" ")[1] for c in locks if c.text.startswith("at ")}
    assert seconds and seconds <= held, (locks, held)
    # The writes on the hot row are the requests it slowed.
    tails = tail_causes_of(run)
    assert {"like", "unlike"} & set(tails), tails
    assert run.summary.attribution.top_waits, "the lock waits were not sampled"


@pytest.mark.scenario_runs
def test_a_dropped_index_is_named_as_database_time_in_its_statement(
        pg_server: PgServer, seeded_template: str, tmp_path: Path) -> None:
    run = lab_run(pg_server, tmp_path, "--scenario", "smoke",
                  "--before-load", "DROP INDEX tweets_replies_idx")
    thread = tail_causes_of(run).get("thread")
    assert thread is not None, run.summary.attribution
    assert thread.kind == "database", thread
    assert "its statements: thread mean" in thread.text, thread
    assert tuple(run.summary.config.before_load) == ("DROP INDEX tweets_replies_idx",)


def test_every_sample_s_parts_add_up(passing_run: TinyRun) -> None:
    samples = pd.read_parquet(passing_run.folder / REQUESTS_FILE)
    timed = samples.dropna(subset=["server_app_us", "server_pool_us", "server_db_us"])
    ok = samples[samples["failure"].isna()]
    # Every answered request carries the header (the API times them all by default).
    assert len(timed) >= len(ok) > 0
    assert (timed["latency_us"] + RESOLUTION_US >= timed["server_app_us"]).all()
    inner = timed["server_pool_us"] + timed["server_db_us"]
    assert (timed["server_app_us"] + RESOLUTION_US >= inner).all()
    assert (timed["server_db_us"] > 0).any() and (timed["server_pool_us"] >= 0).all()
