"""The home timeline: the caller's followees' tweets and their own, newest first."""

from __future__ import annotations

from fastapi import APIRouter

from lab.api.db import fetch_value
from lab.api.deps import Cursor, Limit, Me, Pool, keyset
from lab.api.models import TweetPage
from lab.api.routes import RawJSON, documented, raw_json

router = APIRouter(tags=["timeline"])


@router.get("/timeline/home", name="home_timeline", **documented(TweetPage))
async def home_timeline(pool: Pool, me: Me, limit: Limit = 50, cursor: Cursor = None) -> RawJSON:
    """The caller's home timeline (fan-out on read), keyset-paginated."""
    before = keyset(cursor)
    return raw_json(await fetch_value(pool, "home_timeline_pull", {
        "user_id": me, "before_ts": before.ts, "before_id": before.id, "limit": limit}))
