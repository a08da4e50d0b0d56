"""The privacy matrix: every read path x every kind of viewer, for a protected account's tweet."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from tests.api.conftest import Account, Api


@dataclass
class World:
    owner: Account
    viewers: dict[str, httpx.Client]
    secret: int
    public_reply: int


@pytest.fixture(scope="module")
def world(api: Api) -> World:
    """carol is protected; she approved one follower, another is still pending."""
    owner = api.register("carol", is_protected=True)
    approved, pending, stranger = api.register("appr"), api.register("pend"), api.register("str")
    for account in (approved, pending):
        assert account.http.put(f"/users/{owner.id}/follow").json() == {"result": "requested"}
    owner.http.post(f"/me/follow-requests/{approved.id}/approve")
    secret = owner.http.post("/tweets", json={"body": "followers only"}).json()["tweet"]["id"]
    # a public user's reply into carol's thread is itself public
    public_reply = approved.http.post("/tweets", json={
        "body": "reply", "reply_to_tweet_id": secret}).json()["tweet"]["id"]
    return World(owner, {"owner": owner.http, "approved follower": approved.http,
                         "pending requester": pending.http, "stranger": stranger.http,
                         "anonymous": api.anonymous}, secret, public_reply)


ALLOWED = {"owner", "approved follower"}


def ids(response: httpx.Response) -> list[int]:
    return [t["id"] for t in response.json()["tweets"]] if response.status_code == 200 else []


@pytest.mark.parametrize("viewer", ["owner", "approved follower", "pending requester",
                                    "stranger", "anonymous"])
def test_read_paths(world: World, viewer: str) -> None:
    http = world.viewers[viewer]
    allowed = viewer in ALLOWED
    by_id = http.get(f"/tweets/{world.secret}")
    assert by_id.status_code == (200 if allowed else 404)
    thread = http.get(f"/tweets/{world.secret}/replies")
    assert thread.status_code == (200 if allowed else 404)
    user_tweets = http.get(f"/users/{world.owner.id}/tweets")
    assert user_tweets.status_code == (200 if allowed else 403)
    assert (world.secret in ids(user_tweets)) is allowed
    profile = http.get(f"/users/{world.owner.id}")
    assert profile.status_code == 200 and profile.json()["is_protected"]  # public fields stay
    if viewer != "anonymous":
        home = http.get("/timeline/home")
        assert home.status_code == 200
        assert (world.secret in ids(home)) is allowed


@pytest.mark.parametrize("viewer", ["pending requester", "stranger"])
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


def test_unfollowing_hides_it_again(api: Api, world: World) -> None:
    late = api.register("late")
    late.http.put(f"/users/{world.owner.id}/follow")
    world.owner.http.post(f"/me/follow-requests/{late.id}/approve")
    assert world.secret in ids(late.http.get("/timeline/home"))
    late.http.delete(f"/users/{world.owner.id}/follow")
    assert world.secret not in ids(late.http.get("/timeline/home"))
    assert late.http.get(f"/tweets/{world.secret}").status_code == 404


def test_retweets_of_a_now_protected_account_disappear(api: Api) -> None:
    author, retweeter, reader = api.register("wasp"), api.register("rtr"), api.register("rdr")
    post = author.http.post("/tweets", json={"body": "public for now"}).json()["tweet"]["id"]
    retweet = retweeter.http.post(f"/tweets/{post}/retweet").json()["tweet"]["id"]
    reader.http.put(f"/users/{retweeter.id}/follow")
    assert retweet in ids(reader.http.get("/timeline/home"))
    author.http.patch("/me", json={"is_protected": True})
    assert retweet not in ids(reader.http.get("/timeline/home"))
    assert retweet not in ids(reader.http.get(f"/users/{retweeter.id}/tweets"))
    assert reader.http.get(f"/tweets/{retweet}").status_code == 404
