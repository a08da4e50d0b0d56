"""The home timeline over real HTTP: content, order, pages, and the seeded power readers."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from lab.api.models import TweetPage
from lab.pg.server import PgServer
from lab.queries import query
from lab.security import token_hash
from lab.seed.template import read_facts
from tests.api.conftest import Api, running_api
from tests.conftest import copy_of


def page_ids(http: httpx.Client, **params: object) -> tuple[list[int], str | None]:
    response = http.get("/timeline/home", params=params)
    assert response.status_code == 200, response.text
    page = TweetPage.model_validate_json(response.content)
    return [t.id for t in page.tweets], page.next_cursor


def test_followees_and_own_tweets_newest_first(api: Api) -> None:
    me, friend, stranger = api.register("hm"), api.register("hf"), api.register("hx")
    me.http.put(f"/users/{friend.id}/follow")
    posted = []
    for author in (friend, me, stranger, friend):
        posted.append((author, author.http.post("/tweets", json={"body": "x"}).json()["tweet"]))
    expected = [t["id"] for a, t in reversed(posted) if a is not stranger]
    assert page_ids(me.http)[0] == expected


def test_pages_neither_repeat_nor_skip_while_tweets_arrive(api: Api) -> None:
    me, friend = api.register("pm"), api.register("pf")
    me.http.put(f"/users/{friend.id}/follow")
    older = [friend.http.post("/tweets", json={"body": f"o{i}"}).json()["tweet"]["id"]
             for i in range(7)]
    first, cursor = page_ids(me.http, limit=3)
    newer = [friend.http.post("/tweets", json={"body": "n"}).json()["tweet"]["id"]]
    second, cursor = page_ids(me.http, limit=3, cursor=cursor)
    third, cursor = page_ids(me.http, limit=3, cursor=cursor)
    assert first + second + third == older[::-1] and cursor is None
    assert newer[0] == page_ids(me.http, limit=1)[0][0]


def test_unfollow_and_delete_leave_the_timeline(api: Api) -> None:
    me, friend = api.register("um"), api.register("uf")
    me.http.put(f"/users/{friend.id}/follow")
    kept = friend.http.post("/tweets", json={"body": "kept"}).json()["tweet"]["id"]
    gone = friend.http.post("/tweets", json={"body": "gone"}).json()["tweet"]["id"]
    friend.http.delete(f"/tweets/{gone}")
    assert page_ids(me.http)[0] == [kept]
    me.http.delete(f"/users/{friend.id}/follow")
    assert page_ids(me.http)[0] == []


@pytest.fixture(scope="module")
def seeded_api(pg_server: PgServer, seeded_template: str) -> Iterator[tuple[Api, str]]:
    with copy_of(pg_server, seeded_template, "api_seeded") as name, \
            running_api(pg_server.url(name)) as client:
        yield client, name


def test_power_readers_get_the_seed_query_result(pg_server: PgServer,
                                                 seeded_api: tuple[Api, str]) -> None:
    """For seeded users following 1000+ accounts, three pages match the seed's SQL."""
    api, database = seeded_api
    readers = [r["id"] for r in read_facts(pg_server, database)["power_readers"][:5]]
    with pg_server.connect(database) as conn:
        for user_id in readers:
            conn.execute("INSERT INTO api_tokens (token_hash, user_id) VALUES (%s, %s)",
                         (token_hash(f"reader-{user_id}"), user_id))
        conn.commit()
        for user_id in readers:
            expected = [row[0] for row in conn.execute(
                query("home_timeline_seed"), {"user_id": user_id, "limit": 150})]
            http = api.client_for(f"reader-{user_id}")
            got: list[int] = []
            cursor = None
            for _ in range(3):
                ids, cursor = page_ids(http, limit=50, **({"cursor": cursor} if cursor else {}))
                got += ids
            assert got == expected, user_id
