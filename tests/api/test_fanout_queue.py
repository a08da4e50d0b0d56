"""Background fan-out (lab.fanout = queue): the author sees a tweet at once, followers
soon after; once the queue is drained, push equals pull again."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from lab.pg.server import PgServer
from lab.security import token_hash
from lab.seed.template import read_facts
from tests.api.conftest import Api, running_api, serve
from tests.conftest import copy_of

DELIVERY_TIMEOUT_S = 10


@pytest.fixture(scope="module")
def queued(pg_server: PgServer, api_db: str) -> Iterator[Api]:
    with running_api(pg_server.url(api_db), timeline_strategy="push", fanout="queue") as client:
        yield client


def home(http: httpx.Client) -> list[int]:
    return [t["id"] for t in http.get("/timeline/home").json()["tweets"]]


def wait_until(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {DELIVERY_TIMEOUT_S} s"
        time.sleep(0.02)


def test_author_at_once_followers_soon(queued: Api) -> None:
    author, fan = queued.register("qa"), queued.register("qf")
    fan.http.put(f"/users/{author.id}/follow")
    posted = author.http.post("/tweets", json={"body": "queued"}).json()["tweet"]["id"]
    assert posted in home(author.http)  # no wait for your own tweet
    wait_until(lambda: posted in home(fan.http), "the follower sees the tweet")
    stats = queued.anonymous.get("/stats").json()
    assert stats["fanout_mode"] == "queue" and stats["fanout"]["tweets"] >= 1
    # A queued tweet reaches its follower after it was posted: the lag is measured (how
    # long is the worker's race with the post, so only its order is asserted).
    fanout = stats["fanout"]
    assert fanout["delivered"] >= 1 and fanout["errors"] == 0
    assert 0 <= fanout["last_lag_ms"] <= fanout["max_lag_ms"]


def test_deleted_before_delivery_is_never_delivered(queued: Api, pg_server: PgServer,
                                                    api_db: str) -> None:
    author, fan = queued.register("qd"), queued.register("qe")
    fan.http.put(f"/users/{author.id}/follow")
    for i in range(20):
        posted = author.http.post("/tweets", json={"body": f"gone {i}"}).json()["tweet"]["id"]
        assert author.http.delete(f"/tweets/{posted}").status_code == 204
    with pg_server.connect(api_db) as conn:
        wait_until(lambda: conn.execute("SELECT count(*) FROM fanout_queue").fetchone() == (0,),
                   "the queue drains")
        orphans = conn.execute("SELECT count(*) FROM home_timeline h WHERE NOT EXISTS "
                               "(SELECT 1 FROM tweets t WHERE t.id = h.tweet_id)").fetchone()
    assert orphans == (0,)
    assert home(fan.http) == []


def test_drained_queue_agrees_with_pull(pg_server: PgServer, seeded_template: str) -> None:
    with copy_of(pg_server, seeded_template, "queue_agree") as database:
        readers = [r["id"] for r in read_facts(pg_server, database)["power_readers"][:3]]
        with pg_server.connect(database) as conn:
            posters = [row[0] for row in conn.execute(
                "SELECT followee_id FROM following WHERE follower_id = %s LIMIT 20",
                (readers[0],))]
            for user in readers + posters:
                conn.execute("INSERT INTO api_tokens VALUES (%s, %s) ON CONFLICT DO NOTHING",
                             (token_hash(f"t-{user}"), user))
            conn.commit()
        push = serve(pg_server.url(database), timeline_strategy="push", fanout="queue")
        pull = serve(pg_server.url(database))
        try:
            for user in posters:
                with httpx.Client(base_url=push.url,
                                  headers={"Authorization": f"Bearer t-{user}"}) as http:
                    assert http.post("/tweets", json={"body": "burst"}).status_code == 201
            with pg_server.connect(database) as conn:
                wait_until(lambda: conn.execute(
                    "SELECT count(*) FROM fanout_queue").fetchone() == (0,), "the queue drains")
            for reader in readers:
                pages = []
                for server in (pull, push):
                    with httpx.Client(base_url=server.url,
                                      headers={"Authorization": f"Bearer t-{reader}"}) as http:
                        pages.append(home(http))
                assert pages[0] == pages[1] and pages[0], reader
        finally:
            push.stop()
            pull.stop()
