"""Tweets, replies, quotes, retweets, likes; one tweet, a thread, a user's tweets."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from lab.api.cursors import keyset
from lab.api.db import fetch_row, fetch_value
from lab.api.deps import (
    DEFAULT_PAGE,
    Cursor,
    Limit,
    Me,
    Pool,
    TweetPath,
    UserPath,
    Viewer,
)
from lab.api.errors import ApiError
from lab.api.models import ChangedOut, PostOut, TweetIn, TweetOut, TweetPage
from lab.api.routes import RawJSON, documented, page_response, raw_json

router = APIRouter(tags=["tweets"])


async def post(pool: Pool, me: int, body: str | None, reply_to: int | None,
               original: int | None) -> RawJSON:
    row = await fetch_row(pool, "post_tweet", {
        "user_id": me, "body": body, "reply_to_tweet_id": reply_to,
        "original_tweet_id": original})
    assert row is not None  # post_tweet raises rather than return nothing
    answer, created, _delivered = row
    return RawJSON(answer, status_code=201 if created else 200)


@router.post("/tweets", name="post_tweet", **documented(PostOut, 201))
async def post_tweet(pool: Pool, me: Me, tweet: TweetIn) -> RawJSON:
    """Post a tweet; with reply_to_tweet_id a reply, with quote_tweet_id a quote."""
    return await post(pool, me, tweet.body, tweet.reply_to_tweet_id, tweet.quote_tweet_id)


@router.post("/tweets/{tweet_id}/retweet", name="retweet",
             **documented(PostOut, 201, **{"200": {"model": PostOut,
                                                   "description": "Already retweeted"}}))
async def retweet(pool: Pool, me: Me, tweet_id: TweetPath) -> RawJSON:
    """Retweet (idempotent: 200 with the existing retweet when repeated)."""
    return await post(pool, me, None, None, tweet_id)


@router.delete("/tweets/{tweet_id}/retweet", name="undo_retweet", response_model=ChangedOut)
async def undo_retweet(pool: Pool, me: Me, tweet_id: TweetPath) -> ChangedOut:
    """Remove the caller's retweet of the tweet (idempotent)."""
    return ChangedOut(changed=await fetch_value(pool, "undo_retweet",
                                                {"user_id": me, "tweet_id": tweet_id}))


@router.put("/tweets/{tweet_id}/like", name="like", response_model=ChangedOut)
async def like(pool: Pool, me: Me, tweet_id: TweetPath) -> ChangedOut:
    """Like (idempotent)."""
    return ChangedOut(changed=await fetch_value(pool, "like",
                                                {"user_id": me, "tweet_id": tweet_id}))


@router.delete("/tweets/{tweet_id}/like", name="unlike", response_model=ChangedOut)
async def unlike(pool: Pool, me: Me, tweet_id: TweetPath) -> ChangedOut:
    """Unlike (idempotent). A tweet the caller may no longer see answers as a missing one,
    and the caller's like of it is removed all the same."""
    changed = await fetch_value(pool, "unlike", {"user_id": me, "tweet_id": tweet_id})
    if changed is None:
        raise ApiError(404, "not_found", f"no such tweet: {tweet_id}")
    return ChangedOut(changed=changed)


@router.get("/tweets/{tweet_id}", name="get_tweet", **documented(TweetOut))
async def get_tweet(pool: Pool, viewer: Viewer, tweet_id: TweetPath) -> RawJSON:
    """One tweet; a tweet the caller may not see is answered as missing."""
    return raw_json(await fetch_value(pool, "get_tweet",
                                      {"viewer_id": viewer, "tweet_id": tweet_id}))


@router.delete("/tweets/{tweet_id}", name="delete_tweet", status_code=204)
async def delete_tweet(pool: Pool, me: Me, tweet_id: TweetPath) -> Response:
    """Delete one's own tweet: counters, retweets, likes and timelines follow."""
    await fetch_value(pool, "delete_tweet", {"user_id": me, "tweet_id": tweet_id})
    return Response(status_code=204)


@router.get("/tweets/{tweet_id}/replies", name="thread", **documented(TweetPage))
async def thread(request: Request, pool: Pool, viewer: Viewer, tweet_id: TweetPath,
                 limit: Limit = DEFAULT_PAGE, cursor: Cursor = None) -> RawJSON:
    """The replies of a tweet, oldest first, keyset-paginated."""
    seal, context = request.app.state.cursor_seal, f"thread:{tweet_id}:{viewer}"
    after = keyset(cursor, seal, context, newest_first=False)
    return page_response(await fetch_row(pool, "thread", {
        "viewer_id": viewer, "tweet_id": tweet_id, "after_ts": after.ts, "after_id": after.id,
        "limit": limit}), seal, context)


@router.get("/users/{user_id}/tweets", name="user_tweets", **documented(TweetPage))
async def user_tweets(request: Request, pool: Pool, viewer: Viewer, user_id: UserPath,
                      limit: Limit = DEFAULT_PAGE, cursor: Cursor = None) -> RawJSON:
    """A user's tweets, newest first; 403 for a protected account the caller does not follow."""
    seal, context = request.app.state.cursor_seal, f"user_tweets:{user_id}:{viewer}"
    before = keyset(cursor, seal, context)
    return page_response(await fetch_row(pool, "user_tweets", {
        "viewer_id": viewer, "user_id": user_id, "before_ts": before.ts,
        "before_id": before.id, "limit": limit}), seal, context)
