"""Posting, replying, quoting, retweeting, liking and deleting over real HTTP."""

from __future__ import annotations

from lab.api.models import PostOut, TweetOut, TweetPage
from tests.api.conftest import Account, Api


def tweet(author: Account, body: str = "hello", **extra: object) -> TweetOut:
    response = author.http.post("/tweets", json={"body": body, **extra})
    assert response.status_code == 201, response.text
    return PostOut.model_validate_json(response.content).tweet


def read(api: Api, tweet_id: int) -> TweetOut:
    return TweetOut.model_validate_json(api.anonymous.get(f"/tweets/{tweet_id}").content)


def test_post_and_read(api: Api) -> None:
    a = api.register("tw")
    posted = tweet(a, "first!")
    assert read(api, posted.id) == posted and posted.user_id == a.id
    assert api.anonymous.get(f"/users/{a.id}").json()["tweet_count"] == 1


def test_bad_tweets_are_422(api: Api) -> None:
    a = api.register("bad")
    for body in ({"body": ""}, {"body": "x" * 281}, {"body": 42}, {},
                 {"body": "ok", "reply_to_tweet_id": -1}, {"body": "ok", "mood": "happy"}):
        assert a.http.post("/tweets", json=body).status_code == 422, body
    assert a.http.post("/tweets", content=b"{not json",
                       headers={"Content-Type": "application/json"}).status_code == 422
    assert api.anonymous.post("/tweets", json={"body": "who am i"}).status_code == 401


def test_280_characters_means_characters(api: Api) -> None:
    a = api.register("emoji")
    assert tweet(a, "🐘" * 280).body == "🐘" * 280


def test_reply_quote_retweet_and_counters(api: Api) -> None:
    a, b = api.register("ra"), api.register("rb")
    original = tweet(a)
    reply = tweet(b, "answer", reply_to_tweet_id=original.id)
    quote = tweet(b, "quoting", quote_tweet_id=original.id)
    first = b.http.post(f"/tweets/{original.id}/retweet")
    again = b.http.post(f"/tweets/{original.id}/retweet")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["tweet"]["id"] == again.json()["tweet"]["id"]
    assert (reply.reply_to_tweet_id, quote.original_tweet_id) == (original.id, original.id)
    counters = read(api, original.id)
    assert (counters.reply_count, counters.quote_count, counters.retweet_count) == (1, 1, 1)
    assert b.http.delete(f"/tweets/{original.id}/retweet").json() == {"changed": True}
    assert b.http.delete(f"/tweets/{original.id}/retweet").json() == {"changed": False}
    assert read(api, original.id).retweet_count == 0


def test_reply_policy(api: Api) -> None:
    picky, other = api.register("picky", reply_policy="following"), api.register("other")
    post = tweet(picky)
    refused = other.http.post("/tweets", json={"body": "hi", "reply_to_tweet_id": post.id})
    assert refused.status_code == 403 and "only accepts replies" in refused.json()["detail"]
    picky.http.put(f"/users/{other.id}/follow")
    tweet(other, "hi", reply_to_tweet_id=post.id)


def test_likes_are_idempotent(api: Api) -> None:
    a, b = api.register("la"), api.register("lb")
    post = tweet(a)
    assert b.http.put(f"/tweets/{post.id}/like").json() == {"changed": True}
    assert b.http.put(f"/tweets/{post.id}/like").json() == {"changed": False}
    assert read(api, post.id).like_count == 1
    assert b.http.delete(f"/tweets/{post.id}/like").json() == {"changed": True}
    assert b.http.delete(f"/tweets/{post.id}/like").json() == {"changed": False}
    assert read(api, post.id).like_count == 0
    assert b.http.put("/tweets/987654321/like").status_code == 404


def test_delete_own_tweet_only(api: Api) -> None:
    a, b = api.register("da"), api.register("db")
    post = tweet(a)
    b.http.put(f"/tweets/{post.id}/like")
    assert b.http.delete(f"/tweets/{post.id}").status_code == 403
    assert a.http.delete(f"/tweets/{post.id}").status_code == 204
    assert api.anonymous.get(f"/tweets/{post.id}").status_code == 404
    assert a.http.delete(f"/tweets/{post.id}").status_code == 404
    assert api.anonymous.get(f"/users/{a.id}").json()["tweet_count"] == 0


def test_thread_pages_in_order(api: Api) -> None:
    a = api.register("th")
    root = tweet(a, "root")
    replies = [tweet(a, f"reply {i}", reply_to_tweet_id=root.id).id for i in range(5)]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = TweetPage.model_validate_json(
            api.anonymous.get(f"/tweets/{root.id}/replies", params=params).content)
        seen += [t.id for t in page.tweets]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert seen == replies


def test_user_tweets_page_while_new_tweets_arrive(api: Api) -> None:
    """Keyset pages neither repeat nor skip while the author keeps posting."""
    a = api.register("kp")
    older = [tweet(a, f"t{i}").id for i in range(6)]
    first = TweetPage.model_validate_json(
        api.anonymous.get(f"/users/{a.id}/tweets", params={"limit": 4}).content)
    newer = [tweet(a, f"new{i}").id for i in range(3)]
    second = TweetPage.model_validate_json(api.anonymous.get(
        f"/users/{a.id}/tweets", params={"limit": 4, "cursor": first.next_cursor}).content)
    seen = [t.id for t in first.tweets] + [t.id for t in second.tweets]
    assert seen == older[::-1] and second.next_cursor is None
    assert not set(newer) & set(seen)


def test_bad_cursors_are_422(api: Api) -> None:
    a = api.register("cur")
    for cursor in ("abc", "1_", "_1", "1_2_3", "9" * 19 + "_1", "1_" + "9" * 19):
        response = api.anonymous.get(f"/users/{a.id}/tweets", params={"cursor": cursor})
        assert response.status_code == 422, (cursor, response.text)


def test_oversized_bodies_are_refused_before_parsing(api: Api) -> None:
    a = api.register("big")
    huge = b'{"body": "' + b"x" * 200_000 + b'"}'
    declared = a.http.post("/tweets", content=huge, headers={"Content-Type": "application/json"})
    assert declared.status_code == 413 and declared.json()["code"] == "too_large"

    def chunks():  # type: ignore[no-untyped-def]
        for start in range(0, len(huge), 8192):
            yield huge[start:start + 8192]

    streamed = a.http.post("/tweets", content=chunks(),
                           headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413
    assert a.http.post("/tweets", json={"body": "still fine"}).status_code == 201
