"""The races of issue 27 that deadlocked, each a storm under every strategy.

Every write takes its locks in one order (migration 0010): a tweet before what hangs off
it, user rows last and in id order. Before it, each storm here made PostgreSQL count
deadlocks (pg_stat_database; the server's retries turned most into slow 200s, some into
503s after 5 s); storm_api asserts it counts none.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from lab.pg.server import PgServer
from tests.api.conftest import Account, Api
from tests.api.storms import STRATEGIES, Call, assert_audit_clean, fire, storm_api
from tests.conftest import copy_of

ROUNDS = 3


@pytest.fixture(scope="module", params=STRATEGIES)
def lock_db(request: pytest.FixtureRequest, pg_server: PgServer,
            schema_template: str) -> Iterator[tuple[str, str]]:
    with copy_of(pg_server, schema_template, f"locks_{request.param}") as name:
        yield name, request.param


@pytest.fixture
def api(pg_server: PgServer, lock_db: tuple[str, str]) -> Iterator[Api]:
    with storm_api(pg_server, *lock_db) as client:
        yield client


def post(account: Account, **body: object) -> int:
    answer = account.http.post("/tweets", json={"body": "x", **body})
    assert answer.status_code == 201, answer.text
    return int(answer.json()["tweet"]["id"])


def statuses(answers: list[httpx.Response]) -> set[int]:
    return {a.status_code for a in answers}


def test_authors_who_retweeted_each_other_delete_at_once(
        api: Api, pg_server: PgServer, lock_db: tuple[str, str]) -> None:
    """Item 1: each delete locked its tweet, then its retweeters' user rows, while the
    others did the same the other way round."""
    for _ in range(ROUNDS):
        authors = [api.register("ring") for _ in range(5)]
        tweets = {a.id: post(a) for a in authors}
        for author in authors:
            for other in authors:
                if other is not author:
                    retweet = author.http.post(f"/tweets/{tweets[other.id]}/retweet")
                    assert retweet.status_code == 201
        answers = fire(api.url, [(a.token, "DELETE", f"/tweets/{tweets[a.id]}", None)
                                 for a in authors])
        assert statuses(answers) == {204}
        for author in authors:  # every retweet went with its original
            assert author.http.get("/me").json()["tweet_count"] == 0
    assert_audit_clean(pg_server, *lock_db)


def test_going_public_while_requesters_follow_and_unfollow(
        api: Api, pg_server: PgServer, lock_db: tuple[str, str]) -> None:
    """Item 2: PATCH /me locked the owner, then each requester; follow and unfollow lock
    each pair in id order (some requesters have smaller ids than the owner, some larger)."""
    for _ in range(ROUNDS):
        early = [api.register("rqe") for _ in range(6)]
        owner = api.register("pub", is_protected=True)
        post(owner)
        late = [api.register("rql") for _ in range(6)]
        for requester in early + late:
            assert requester.http.put(f"/users/{owner.id}/follow").json()["result"] == "requested"
        calls: list[Call] = [(owner.token, "PATCH", "/me", {"is_protected": False})]
        calls += [(r.token, method, f"/users/{owner.id}/follow", None)
                  for r in early + late for method in ("DELETE", "PUT", "DELETE", "PUT")]
        answers = fire(api.url, calls)
        assert statuses(answers) == {200}
        assert answers[0].json()["is_protected"] is False
    assert_audit_clean(pg_server, *lock_db)


def engaged_tweet(api: Api, fans: int) -> tuple[Account, int, list[Account]]:
    author = api.register("eng")
    people = [api.register("fan") for _ in range(fans)]
    for fan in people:
        assert fan.http.put(f"/users/{author.id}/follow").status_code == 200
    return author, post(author), people


@pytest.mark.parametrize("kind", ["retweet", "reply", "quote", "like"])
def test_an_author_deletes_a_tweet_while_its_engagement_is_taken_back(
        api: Api, pg_server: PgServer, lock_db: tuple[str, str], kind: str) -> None:
    """Items 3 and 4: a delete locks the tweet, then what hangs off it; undoing a retweet,
    deleting a reply or a quote, or unliking locked its own row (or its author) first."""
    for _ in range(ROUNDS):
        author, tweet, fans = engaged_tweet(api, 8)
        calls: list[Call] = [(author.token, "DELETE", f"/tweets/{tweet}", None)]
        for fan in fans:
            if kind == "retweet":
                assert fan.http.post(f"/tweets/{tweet}/retweet").status_code == 201
                calls.append((fan.token, "DELETE", f"/tweets/{tweet}/retweet", None))
            elif kind == "like":
                assert fan.http.put(f"/tweets/{tweet}/like").status_code == 200
                calls.append((fan.token, "DELETE", f"/tweets/{tweet}/like", None))
            else:
                field = "reply_to_tweet_id" if kind == "reply" else "quote_tweet_id"
                child = post(fan, **{field: tweet})
                calls.append((fan.token, "DELETE", f"/tweets/{child}", None))
                if kind == "reply":  # a new reply as well, racing the delete
                    calls.append((fan.token, "POST", "/tweets",
                                  {"body": "late", "reply_to_tweet_id": tweet}))
        answers = fire(api.url, calls)
        assert answers[0].status_code == 204
        # Before the delete: done; after it: gone, as any missing tweet. Nothing else.
        assert statuses(answers[1:]) <= {200, 201, 204, 404}, [a.text for a in answers]
    assert_audit_clean(pg_server, *lock_db)
