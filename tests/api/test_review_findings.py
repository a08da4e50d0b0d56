"""Findings of issue 27's second attacker and code review (input, caps, hidden tweets), each
pinned by a test that failed before its fix. The lock-order storms are in
test_lock_order.py."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from lab.pg.server import PgServer
from tests.api.conftest import Account, Api, running_api
from tests.api.test_attacks import error, post
from tests.conftest import copy_of

# Going public with the most requests allowed, each backfilling a full cache, must finish
# well inside the API's statement timeout (10 s), or the owner could never go public.
GOING_PUBLIC_WORST_S = 5.0


def test_a_reply_that_also_quotes_is_refused_naming_the_pair(api: Api) -> None:
    """Item 8: stored as a reply, the quote dropped (and its id never checked)."""
    author, other = api.register("rqa"), api.register("rqb")
    first, second = post(author, "one"), post(author, "two")
    for quoted in (second, 2**63 - 1):
        answer = other.http.post("/tweets", json={"body": "both", "reply_to_tweet_id": first,
                                                  "quote_tweet_id": quoted})
        assert "reply or a quote, not both" in error(answer, 422, "body")
    assert api.anonymous.get(f"/tweets/{second}").json()["quote_count"] == 0
    assert other.http.get("/me").json()["tweet_count"] == 0


def test_a_trailing_slash_is_not_redirected_where_the_host_header_says(api: Api) -> None:
    """Item 11: `GET /me/` with `Host: evil.example:666` answered 307 to
    http://evil.example:666/me."""
    me = api.register("slh")
    answer = me.http.get("/me/", headers={"Host": "evil.example:666"}, follow_redirects=False)
    assert "no such route" in error(answer, 404) and "location" not in answer.headers


def test_deleting_a_hidden_tweet_is_answered_as_missing(api: Api) -> None:
    """Item 13: a public account's retweet of a protected tweet, hidden from the caller,
    answered 403 "only the author may delete" where a missing id answers 404."""
    secretive, fan, stranger = api.register("hdo"), api.register("hdf"), api.register("hds")
    tweet = post(secretive, "soon protected")
    retweet = fan.http.post(f"/tweets/{tweet}/retweet").json()["tweet"]["id"]
    assert secretive.http.patch("/me", json={"is_protected": True}).status_code == 200
    hidden = stranger.http.delete(f"/tweets/{retweet}")
    missing = stranger.http.delete(f"/tweets/{retweet + 10**9}")
    assert error(hidden, 404).replace(str(retweet), "N") == \
        error(missing, 404).replace(str(retweet + 10**9), "N")
    # The retweet's author still deletes their own, visible to them or not.
    assert fan.http.delete(f"/tweets/{retweet}").status_code == 204
    # A visible tweet of someone else: 403, as before.
    assert "only the author" in error(stranger.http.delete(f"/tweets/{post(fan, 'x')}"), 403)


@pytest.fixture(scope="module")
def capped(pg_server: PgServer, schema_template: str) -> Iterator[tuple[Api, PgServer, str]]:
    """Push timelines with small caps, to reach them in a test."""
    with copy_of(pg_server, schema_template, "caps") as database, \
            running_api(pg_server.url(database), timeline_strategy="push", max_following=3,
                        max_pending_requests=4) as api:
        yield api, pg_server, database


def test_following_is_capped_counting_pending_requests(
        capped: tuple[Api, PgServer, str]) -> None:
    """Item 7: no cap, so each follow's backfill and each pull page's probes were unbounded."""
    api = capped[0]
    reader = api.register("cap")
    targets = [api.register("cpt") for _ in range(2)]
    locked = api.register("cpl", is_protected=True)
    for target in targets:
        assert reader.http.put(f"/users/{target.id}/follow").json()["result"] == "followed"
    assert reader.http.put(f"/users/{locked.id}/follow").json()["result"] == "requested"
    one_more = api.register("cpm")
    refused = reader.http.put(f"/users/{one_more.id}/follow")
    assert "the most allowed" in error(refused, 409) and refused.json()["code"] == "limit"
    # Repeating what is already done is not refused; making room lets the next one in.
    assert reader.http.put(f"/users/{targets[0].id}/follow").json()["result"] == \
        "already_following"
    assert reader.http.delete(f"/users/{locked.id}/follow").json()["result"] == \
        "request_withdrawn"
    assert reader.http.put(f"/users/{one_more.id}/follow").json()["result"] == "followed"


def test_pending_requests_are_capped_and_a_denied_requester_cannot_pass_the_cap(
        capped: tuple[Api, PgServer, str]) -> None:
    """Item 5: unlimited requests (a denied requester asks again at once) pushed going
    public past the statement timeout."""
    api = capped[0]
    owner = api.register("pnd", is_protected=True)
    requesters = [api.register("pnr") for _ in range(5)]
    answers = [r.http.put(f"/users/{owner.id}/follow") for r in requesters]
    assert [a.json().get("result") for a in answers[:4]] == ["requested"] * 4
    assert "requests waiting" in error(answers[4], 409)
    assert owner.http.post(f"/me/follow-requests/{requesters[0].id}/deny").json()["result"] == \
        "denied"
    assert requesters[0].http.put(f"/users/{owner.id}/follow").json()["result"] == "requested"
    error(requesters[4].http.put(f"/users/{owner.id}/follow"), 409)


def test_going_public_with_every_request_allowed_stays_bounded(pg_server: PgServer,
                                                               schema_template: str) -> None:
    """Item 5's bound: the default cap of requests, each backfilling the owner's full cache
    (800 tweets), approved in one PATCH well inside the statement timeout."""
    with copy_of(pg_server, schema_template, "public") as database, \
            running_api(pg_server.url(database), timeline_strategy="push",
                        pool_timeout_s=10.0) as api:
        owner = api.register("big", is_protected=True)
        with pg_server.connect(database) as conn:
            conn.execute("INSERT INTO tweets (user_id, body, created_at) SELECT %s, 'x', "
                         "now() - g * interval '1 minute' FROM generate_series(1, 800) AS g",
                         (owner.id,))
            conn.execute("UPDATE users SET tweet_count = 800 WHERE id = %s", (owner.id,))
        requesters: list[Account] = [api.register("bgr") for _ in range(100)]
        for requester in requesters:
            assert requester.http.put(f"/users/{owner.id}/follow").status_code == 200
        started = time.perf_counter()
        answer = owner.http.patch("/me", json={"is_protected": False}, timeout=30)
        took = time.perf_counter() - started
        assert answer.status_code == 200 and answer.json()["followers_count"] == 100
        assert took < GOING_PUBLIC_WORST_S, f"going public took {took:.1f} s"
        with pg_server.connect(database) as conn:
            assert conn.execute("SELECT count(*) FROM home_timeline WHERE tweet_id IN "
                                "(SELECT id FROM tweets WHERE user_id = %s)",
                                (owner.id,)).fetchone() == (800 * 100,)  # each requester's cache
