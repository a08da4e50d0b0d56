"""The privacy matrix: every read path x every kind of viewer x every timeline strategy.

carol's tweets become visible to her approved follower only. Every page is read to
its end one tweet at a time through its cursors, and a cursor must name only a tweet
its page returned: at commit 878e41a a stranger's empty page of a thread carried a
cursor naming carol's hidden reply, by id and time, and a page could be short while
more visible tweets followed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from lab.pg.server import PgServer
from tests.api.conftest import Account, Api, running_api
from tests.conftest import copy_of

VIEWERS = ["owner", "approved follower", "pending requester", "denied requester",
           "ex-follower", "stranger", "anonymous"]
ALLOWED = {"owner", "approved follower"}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class World:
    owner: Account
    viewers: dict[str, httpx.Client]
    secret: int           # carol's tweet, posted while public
    hidden_reply: int     # carol's reply to a public tweet
    thread_root: int      # that public tweet; a stranger's reply follows carol's
    public_reply: int
    retweeter: int        # a public account that retweeted and quoted carol's tweet
    retweet: int
    quote: int


@pytest.fixture(scope="module", params=["pull", "push", "hybrid"])
def world(request: pytest.FixtureRequest, pg_server: PgServer,
          schema_template: str) -> Iterator[World]:
    """carol was public when she tweeted, was retweeted and quoted, and replied in a public
    thread; then she went protected, approved one follower, denied one request, has one
    pending, and one follower left her. Everyone but carol follows the retweeter and the
    thread's author."""
    strategy = request.param
    with copy_of(pg_server, schema_template, f"privacy_{strategy}") as database, \
            running_api(pg_server.url(database), timeline_strategy=strategy) as api:
        yield build_world(api)


def build_world(api: Api) -> World:
    carol = api.register("carol")
    approved, ex, pending, denied = (api.register(p) for p in ("appr", "ex", "pend", "deny"))
    stranger, retweeter, author = api.register("str"), api.register("rtr"), api.register("au")
    for follower in (approved, ex):
        assert follower.http.put(f"/users/{carol.id}/follow").json() == {"result": "followed"}
    secret = post(carol, "followers only, soon")
    retweet = retweeter.http.post(f"/tweets/{secret}/retweet").json()["tweet"]["id"]
    quote = post(retweeter, "look at this", quote_tweet_id=secret)
    root = post(author, "a public thread")
    hidden_reply = post(carol, "my answer", reply_to_tweet_id=root)
    public_reply = post(stranger, "mine", reply_to_tweet_id=root)
    assert carol.http.patch("/me", json={"is_protected": True}).status_code == 200
    for requester in (pending, denied):
        assert requester.http.put(f"/users/{carol.id}/follow").json() == {"result": "requested"}
    assert carol.http.post(f"/me/follow-requests/{denied.id}/deny").json() == {
        "result": "denied"}
    assert ex.http.delete(f"/users/{carol.id}/follow").json() == {"result": "unfollowed"}
    for reader in (approved, ex, pending, denied, stranger):
        for followee in (retweeter, author):
            reader.http.put(f"/users/{followee.id}/follow")
    clients = {"owner": carol.http, "approved follower": approved.http,
               "pending requester": pending.http, "denied requester": denied.http,
               "ex-follower": ex.http, "stranger": stranger.http, "anonymous": api.anonymous}
    return World(carol, clients, secret, hidden_reply, root, public_reply, retweeter.id,
                 retweet, quote)


def post(account: Account, body: str, **refers: int) -> int:
    created = account.http.post("/tweets", json={"body": body, **refers})
    assert created.status_code == 201, created.text
    return int(created.json()["tweet"]["id"])


def micros(stamp: str) -> int:
    return (datetime.fromisoformat(stamp) - EPOCH) // timedelta(microseconds=1)


def every_page(http: httpx.Client, path: str) -> list[int]:
    """Read `path` one tweet a page to its end; check each page's cursor on the way."""
    ids: list[int] = []
    cursor: str | None = None
    for _ in range(50):
        page = http.get(path, params={"limit": 1, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        tweets, cursor = page.json()["tweets"], page.json()["next_cursor"]
        if cursor is None:
            ids += [t["id"] for t in tweets]
            return ids
        # A cursor is a full page's last tweet: its time and id, and nothing else.
        assert len(tweets) == 1, (path, page.json())
        assert cursor == f"{micros(tweets[0]['created_at'])}_{tweets[0]['id']}", path
        ids.append(tweets[0]["id"])
    raise AssertionError(f"{path}: more than 50 pages")


@pytest.mark.parametrize("viewer", VIEWERS)
def test_tweets_by_id(world: World, viewer: str) -> None:
    http, allowed = world.viewers[viewer], viewer in ALLOWED
    for tweet in (world.secret, world.hidden_reply, world.retweet):
        assert http.get(f"/tweets/{tweet}").status_code == (200 if allowed else 404)
    # The quote and the public reply are everyone's; what they refer to is shown only to
    # those who may see it, not even as an id.
    quote = http.get(f"/tweets/{world.quote}")
    assert quote.status_code == 200
    assert quote.json()["original_tweet_id"] == (world.secret if allowed else None)
    reply = http.get(f"/tweets/{world.public_reply}")
    assert reply.status_code == 200 and reply.json()["reply_to_tweet_id"] == world.thread_root
    profile = http.get(f"/users/{world.owner.id}")
    assert profile.status_code == 200 and profile.json()["is_protected"]  # public fields stay


@pytest.mark.parametrize("viewer", VIEWERS)
def test_every_page_through_its_cursors(world: World, viewer: str) -> None:
    http, allowed = world.viewers[viewer], viewer in ALLOWED
    thread = every_page(http, f"/tweets/{world.thread_root}/replies")
    assert thread == ([world.hidden_reply, world.public_reply] if allowed
                      else [world.public_reply])
    shared = every_page(http, f"/users/{world.retweeter}/tweets")
    assert shared == ([world.quote, world.retweet] if allowed else [world.quote])
    owned = http.get(f"/users/{world.owner.id}/tweets")
    assert owned.status_code == (200 if allowed else 403)
    if allowed:
        assert every_page(http, f"/users/{world.owner.id}/tweets") == [world.hidden_reply,
                                                                       world.secret]
    if viewer in ("anonymous", "owner"):
        return          # nobody's home timeline, and carol follows nobody
    home = every_page(http, "/timeline/home")
    assert (world.retweet in home) is allowed and (world.hidden_reply in home) is allowed
    assert (world.secret in home) is allowed
    assert world.quote in home and world.thread_root in home


@pytest.mark.parametrize("viewer", ["pending requester", "denied requester", "ex-follower",
                                    "stranger"])
def test_writes_against_an_invisible_tweet(world: World, viewer: str) -> None:
    http = world.viewers[viewer]
    for response in (http.put(f"/tweets/{world.secret}/like"),
                     http.post(f"/tweets/{world.secret}/retweet"),
                     http.post("/tweets", json={"body": "q", "quote_tweet_id": world.secret}),
                     http.post("/tweets", json={"body": "r", "reply_to_tweet_id": world.secret}),
                     http.delete(f"/tweets/{world.secret}")):
        assert response.status_code == 404, response.text


def test_even_followers_cannot_retweet_or_quote_it(world: World) -> None:
    http = world.viewers["approved follower"]
    assert http.post(f"/tweets/{world.secret}/retweet").status_code == 403
    quote = http.post("/tweets", json={"body": "q", "quote_tweet_id": world.secret})
    assert quote.status_code == 403


def ids(response: httpx.Response) -> list[int]:
    """The tweet ids of a page that must have been served (a 500 is no proof of hiding)."""
    assert response.status_code == 200, response.text
    return [t["id"] for t in response.json()["tweets"]]


def test_unfollowing_hides_it_again(api: Api) -> None:
    owner = api.register("own", is_protected=True)
    secret = post(owner, "followers only")
    late = api.register("late")
    asked = late.http.put(f"/users/{owner.id}/follow")
    assert asked.status_code in (200, 202), asked.text
    approved = owner.http.post(f"/me/follow-requests/{late.id}/approve")
    assert approved.status_code in (200, 204), approved.text
    assert secret in ids(late.http.get("/timeline/home"))
    late.http.delete(f"/users/{owner.id}/follow")
    assert secret not in ids(late.http.get("/timeline/home"))
    assert late.http.get(f"/tweets/{secret}").status_code == 404
