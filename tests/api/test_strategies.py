"""pull, push and hybrid return the same timeline, before and after the graph changes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from lab.pg.server import PgServer
from lab.security import token_hash
from lab.seed.template import read_facts
from tests.api.conftest import ApiServer, serve
from tests.conftest import copy_of

# Between the tiny dataset's power readers (at most 468 followers, many of them
# follow-backs) and its popular accounts (1,000 and more): only the latter are celebrities.
CELEBRITY_FOLLOWERS = 800
PAGES = 3


@dataclass
class Strategies:
    servers: dict[str, ApiServer]
    database: str
    readers: list[int]      # power readers (follow >= 1000)
    ordinary: list[int]     # users following a few accounts

    def client(self, strategy: str, user: int) -> httpx.Client:
        return httpx.Client(base_url=self.servers[strategy].url, timeout=30,
                            headers={"Authorization": f"Bearer token-{user}"})

    def timeline(self, strategy: str, user: int, limit: int = 50) -> list[int]:
        ids: list[int] = []
        cursor = None
        with self.client(strategy, user) as http:
            for _ in range(PAGES):
                params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
                page = http.get("/timeline/home", params=params)
                assert page.status_code == 200, page.text
                ids += [t["id"] for t in page.json()["tweets"]]
                cursor = page.json()["next_cursor"]
                if cursor is None:
                    break
        return ids


@pytest.fixture(scope="module")
def strategies(pg_server: PgServer, seeded_template: str) -> Iterator[Strategies]:
    with copy_of(pg_server, seeded_template, "strategies") as database:
        facts = read_facts(pg_server, database)
        with pg_server.connect(database) as conn:
            ordinary = [row[0] for row in conn.execute(
                "SELECT id FROM users WHERE following_count BETWEEN 3 AND 30 ORDER BY id LIMIT 5")]
            readers = [r["id"] for r in facts["power_readers"][:3]]
            for user in readers + ordinary + [row[0] for row in conn.execute(
                    "SELECT id FROM users ORDER BY followers_count DESC LIMIT 5")]:
                conn.execute("INSERT INTO api_tokens VALUES (%s, %s) ON CONFLICT DO NOTHING",
                             (token_hash(f"token-{user}"), user))
            conn.commit()
        servers = {name: serve(pg_server.url(database), timeline_strategy=name,
                               celebrity_followers=CELEBRITY_FOLLOWERS, timeline_cap=200)
                   for name in ("pull", "push", "hybrid")}
        try:
            yield Strategies(servers, database, readers, ordinary)
        finally:
            for server in servers.values():
                server.stop()


def assert_agree(s: Strategies, users: list[int], strategies: tuple[str, ...]) -> None:
    for user in users:
        pages = {name: s.timeline(name, user) for name in strategies}
        assert pages["pull"], f"user {user} has an empty timeline"
        for name in strategies[1:]:
            assert pages[name] == pages["pull"], f"{name} differs for user {user}"


def test_seeded_timelines_agree(strategies: Strategies) -> None:
    assert_agree(strategies, strategies.readers + strategies.ordinary, ("pull", "push", "hybrid"))


def test_deep_pages_cross_the_floor(strategies: Strategies) -> None:
    """Past the 200 cached entries, push continues with exactly what pull returns."""
    reader = strategies.readers[0]
    assert strategies.timeline("push", reader, limit=100) == strategies.timeline(
        "pull", reader, limit=100)


def graph_changes(s: Strategies, via: str, pg_server: PgServer) -> None:
    """Follow, unfollow, post, retweet and delete through the `via` server."""
    reader, friend = s.readers[0], s.ordinary[0]
    with pg_server.connect(s.database) as conn:
        followees = [row[0] for row in conn.execute(
            "SELECT followee_id FROM following WHERE follower_id = %s ORDER BY followee_id",
            (reader,))]
        stranger = conn.execute(
            "SELECT u.id FROM users u WHERE NOT u.is_protected AND u.tweet_count > 5 AND u.id <> "
            "%(r)s AND NOT EXISTS (SELECT 1 FROM following f WHERE f.follower_id = %(r)s AND "
            "f.followee_id = u.id) ORDER BY u.id LIMIT 1", {"r": reader}).fetchone()
        celebrity = conn.execute("SELECT id FROM users ORDER BY followers_count DESC LIMIT 1"
                                 ).fetchone()
    assert stranger is not None and celebrity is not None
    with s.client(via, reader) as me:
        assert me.put(f"/users/{stranger[0]}/follow").json()["result"] == "followed"
        assert me.delete(f"/users/{followees[0]}/follow").json()["result"] == "unfollowed"
        mine = me.post("/tweets", json={"body": f"posted via {via}"}).json()["tweet"]["id"]
        assert me.delete(f"/tweets/{mine}").status_code == 204
        assert me.post("/tweets", json={"body": f"kept via {via}"}).status_code == 201
    # Following twice (once per strategy's test, in either order) is the same follow.
    once = {"followed", "already_following"}
    with s.client(via, friend) as other:
        assert other.put(f"/users/{reader}/follow").json()["result"] in once
        assert other.post("/tweets", json={"body": "from a friend"}).status_code == 201
    with s.client(via, celebrity[0]) as star:
        assert star.post("/tweets", json={"body": "to millions"}).status_code == 201
    with s.client(via, reader) as me:
        assert me.put(f"/users/{friend}/follow").json()["result"] in once


def cached(pg_server: PgServer, database: str, body: str) -> int:
    """How many caches hold the tweet with this body."""
    with pg_server.connect(database) as conn:
        row = conn.execute("SELECT count(*) FROM home_timeline h JOIN tweets t ON t.id = "
                           "h.tweet_id WHERE t.body = %s", (body,)).fetchone()
    assert row is not None
    return int(row[0])


def test_agree_after_changes_through_push(strategies: Strategies, pg_server: PgServer) -> None:
    graph_changes(strategies, "push", pg_server)
    # The push server really maintained the caches: fan-out and deletion happened.
    assert cached(pg_server, strategies.database, "kept via push") >= 2  # author + friend
    assert cached(pg_server, strategies.database, "posted via push") == 0
    assert cached(pg_server, strategies.database, "to millions") > CELEBRITY_FOLLOWERS
    assert_agree(strategies, strategies.readers + strategies.ordinary, ("pull", "push", "hybrid"))


def test_agree_after_changes_through_hybrid(strategies: Strategies,
                                            pg_server: PgServer) -> None:
    """Hybrid skips fanning out celebrities, so only pull and hybrid must still agree."""
    before = cached(pg_server, strategies.database, "to millions")
    graph_changes(strategies, "hybrid", pg_server)
    # The celebrity's second tweet reached only its own cache; readers merge it in.
    assert cached(pg_server, strategies.database, "to millions") == before + 1
    assert cached(pg_server, strategies.database, "kept via hybrid") >= 2
    assert_agree(strategies, strategies.readers + strategies.ordinary, ("pull", "hybrid"))


def test_stats_name_the_strategy(strategies: Strategies) -> None:
    for name, server in strategies.servers.items():
        assert httpx.get(f"{server.url}/stats").json()["strategy"] == name
