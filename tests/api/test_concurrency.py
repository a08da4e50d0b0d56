"""Storms over HTTP: concurrent toggles and likes leave mirrors and counters exact, no 5xx."""

from __future__ import annotations

import asyncio

import httpx

from lab.pg.server import PgServer
from tests.api.conftest import Api


async def storm(url: str, token: str, requests: list[tuple[str, str]]) -> list[int]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as http:
        responses = await asyncio.gather(*(http.request(method, path)
                                           for method, path in requests))
    return [r.status_code for r in responses]


def test_50_concurrent_follow_toggles_of_one_pair(api: Api, pg_server: PgServer,
                                                  api_db: str) -> None:
    a, b = api.register("ta"), api.register("tb")
    requests = [("PUT" if i % 2 == 0 else "DELETE", f"/users/{b.id}/follow") for i in range(50)]
    statuses = asyncio.run(storm(api.url, a.token, requests))
    assert set(statuses) == {200}
    with pg_server.connect(api_db) as conn:
        edges = conn.execute("SELECT (SELECT count(*) FROM following WHERE follower_id = %(a)s "
                             "AND followee_id = %(b)s), (SELECT count(*) FROM followers WHERE "
                             "follower_id = %(a)s AND followee_id = %(b)s)",
                             {"a": a.id, "b": b.id}).fetchone()
        assert edges is not None and edges[0] == edges[1] in (0, 1)
        counters = conn.execute("SELECT (SELECT following_count FROM users WHERE id = %s), "
                                "(SELECT followers_count FROM users WHERE id = %s)",
                                (a.id, b.id)).fetchone()
        assert counters == (edges[0], edges[0])


def test_200_concurrent_likes_of_one_tweet(api: Api, pg_server: PgServer, api_db: str) -> None:
    author = api.register("viral")
    tweet = author.http.post("/tweets", json={"body": "viral"}).json()["tweet"]["id"]
    fans = [api.register("lk") for _ in range(40)]

    async def all_fans() -> list[int]:
        batches = [storm(api.url, fan.token, [("PUT", f"/tweets/{tweet}/like")] * 5)
                   for fan in fans]
        return [status for batch in await asyncio.gather(*batches) for status in batch]

    statuses = asyncio.run(all_fans())
    assert len(statuses) == 200 and set(statuses) == {200}
    with pg_server.connect(api_db) as conn:
        row = conn.execute("SELECT like_count, (SELECT count(*) FROM likes WHERE tweet_id = %s) "
                           "FROM tweets WHERE id = %s", (tweet, tweet)).fetchone()
    assert row == (40, 40)
