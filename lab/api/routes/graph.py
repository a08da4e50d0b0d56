"""The follower graph: follow, unfollow, requests, follower and following lists."""

from __future__ import annotations

from fastapi import APIRouter

from lab.api.db import fetch_value
from lab.api.deps import DEFAULT_PAGE, AfterId, Limit, Me, Pool, UserPath, Viewer
from lab.api.models import DecisionOut, FollowOut, UserPage
from lab.api.routes import RawJSON, documented, raw_json

router = APIRouter(tags=["graph"])


def result(value: str) -> RawJSON:
    return RawJSON(b'{"result":"' + value.encode() + b'"}')


@router.put("/users/{user_id}/follow", name="follow", **documented(FollowOut))
async def follow(pool: Pool, me: Me, user_id: UserPath) -> RawJSON:
    """Follow (idempotent); a protected account gets a request instead."""
    return result(await fetch_value(pool, "follow", {"follower_id": me, "followee_id": user_id}))


@router.delete("/users/{user_id}/follow", name="unfollow", **documented(FollowOut))
async def unfollow(pool: Pool, me: Me, user_id: UserPath) -> RawJSON:
    """Unfollow or withdraw a pending request (idempotent)."""
    return result(await fetch_value(pool, "unfollow", {"follower_id": me, "followee_id": user_id}))


async def user_list(pool: Pool, viewer: int | None, statement: str, user_id: int,
                    limit: int, cursor: int) -> RawJSON:
    """A follower list; 404/403 for an unknown or protected account come from the statement."""
    return raw_json(await fetch_value(pool, statement, {
        "viewer_id": viewer, "user_id": user_id, "after_id": cursor, "limit": limit}))


@router.get("/users/{user_id}/followers", name="followers_page", **documented(UserPage))
async def followers(pool: Pool, viewer: Viewer, user_id: UserPath, limit: Limit = DEFAULT_PAGE,
                    cursor: AfterId = 0) -> RawJSON:
    """Who follows the user, by id, keyset-paginated."""
    return await user_list(pool, viewer, "followers_page", user_id, limit, cursor)


@router.get("/users/{user_id}/following", name="following_page", **documented(UserPage))
async def following(pool: Pool, viewer: Viewer, user_id: UserPath, limit: Limit = DEFAULT_PAGE,
                    cursor: AfterId = 0) -> RawJSON:
    """Whom the user follows, by id, keyset-paginated."""
    return await user_list(pool, viewer, "following_page", user_id, limit, cursor)


@router.delete("/me/followers/{user_id}", name="remove_follower", **documented(FollowOut))
async def remove_follower(pool: Pool, me: Me, user_id: UserPath) -> RawJSON:
    """End someone's follow of the caller (removed, or not_following): the way a protected
    account takes back access it gave while public; on a public account a soft block (they
    may follow again)."""
    return result(await fetch_value(pool, "remove_follower",
                                    {"user_id": me, "follower_id": user_id}))


@router.get("/me/follow-requests", name="follow_requests", **documented(UserPage))
async def follow_requests(pool: Pool, me: Me, limit: Limit = DEFAULT_PAGE,
                          cursor: AfterId = 0) -> RawJSON:
    """Requests waiting for the caller's decision."""
    return raw_json(await fetch_value(pool, "follow_requests",
                                      {"user_id": me, "after_id": cursor, "limit": limit}))


async def decide(pool: Pool, me: int, requester: int, approve: bool) -> RawJSON:
    return result(await fetch_value(pool, "decide_follow_request",
                                    {"user_id": me, "requester_id": requester, "approve": approve}))


@router.post("/me/follow-requests/{requester_id}/approve", name="approve_follow_request",
             **documented(DecisionOut))
async def approve(pool: Pool, me: Me, requester_id: UserPath) -> RawJSON:
    """Approve a pending request: the follow is created atomically."""
    return await decide(pool, me, requester_id, True)


@router.post("/me/follow-requests/{requester_id}/deny", name="deny_follow_request",
             **documented(DecisionOut))
async def deny(pool: Pool, me: Me, requester_id: UserPath) -> RawJSON:
    """Deny a pending request."""
    return await decide(pool, me, requester_id, False)
