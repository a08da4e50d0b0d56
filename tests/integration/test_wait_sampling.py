"""The 10 Hz wait sampling against a load planted on a real server: the average active
sessions it reports must be the planted load, idle samples included in the denominator."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pandas as pd
import pytest

from lab.attribution.waits import CLIENT, SAMPLE_MARKER, samples_taken, top_waits
from lab.load.activity import COLUMNS, ActivitySampler
from lab.pg.databases import create_database, drop_database
from lab.pg.server import PgServer
from tests.conftest import unique_name

SLEEPERS, SLEEP_S, SAMPLED_S = 2, 1.0, 4.0


@pytest.fixture
def database(pg_server: PgServer) -> Iterator[str]:
    name = unique_name("waits")
    create_database(pg_server, name)
    yield name
    drop_database(pg_server, name)


def test_a_planted_load_is_measured_over_every_sample_taken(pg_server: PgServer,
                                                            database: str) -> None:
    """Two sessions each sleep 1 s inside a 4 s sampled span: 0.5 active sessions on average.
    Dividing by the samples that found someone at work (the old way) would say about 2."""
    def sleep() -> None:
        with pg_server.connect(database) as conn:
            conn.execute("SELECT pg_sleep(%s)", (SLEEP_S,))

    sampler = ActivitySampler(pg_server, database)
    sampler.start()
    started = time.monotonic()
    time.sleep(1.0)
    sleepers = [threading.Thread(target=sleep) for _ in range(SLEEPERS)]
    for thread in sleepers:
        thread.start()
    for thread in sleepers:
        thread.join()
    time.sleep(max(0.0, SAMPLED_S - (time.monotonic() - started)))
    rows = sampler.stop()
    elapsed = time.monotonic() - started
    waits = pd.DataFrame(rows, columns=list(COLUMNS))
    taken = samples_taken(waits)
    assert taken == sampler.cost.samples and taken >= 0.8 * elapsed / 0.1
    clients = waits[waits["backend_type"].isin([CLIENT, SAMPLE_MARKER])]
    load = top_waits(clients)
    expected = SLEEPERS * SLEEP_S / elapsed
    assert load["Timeout:PgSleep"] == pytest.approx(expected, rel=0.2), (load, expected)
    # Without the idle samples the same rows would read as about two sessions at work.
    unmarked = top_waits(clients[clients["backend_type"] == CLIENT])
    assert unmarked["Timeout:PgSleep"] > 3 * expected
