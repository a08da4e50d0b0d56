"""The home timeline: the caller's followees' tweets and their own, newest first."""

from __future__ import annotations

from fastapi import APIRouter, Request

from lab.api.cursors import keyset
from lab.api.db import fetch_row
from lab.api.deps import DEFAULT_PAGE, Cursor, Limit, Me, Pool
from lab.api.headers import TIMELINE_CACHE
from lab.api.models import TweetPage
from lab.api.routes import RawJSON, documented, page_response

router = APIRouter(tags=["timeline"])


@router.get("/timeline/home", name="home_timeline", **documented(TweetPage))
async def home_timeline(request: Request, pool: Pool, me: Me, limit: Limit = DEFAULT_PAGE,
                        cursor: Cursor = None) -> RawJSON:
    """The caller's home timeline, keyset-paginated, built by the server's strategy.

    The statement is named after the strategy (home_timeline_pull, _push,
    _hybrid) so reports can tell them apart. A read of the caller's closed cache (push,
    hybrid) says so in `X-Timeline-Cache`: `opened` (this read opened it) or `closed`
    (read by pull: too many were being opened); load generators report those cold reads
    under a name of their own.
    """
    seal, context = request.app.state.cursor_seal, f"home:{me}"
    before = keyset(cursor, seal, context)
    strategy = request.app.state.settings.timeline_strategy
    row = await fetch_row(pool, f"home_timeline_{strategy}", {
        "user_id": me, "before_ts": before.ts, "before_id": before.id, "limit": limit})
    response = page_response(row[:3] if row else None, seal, context)
    if row and row[3]:
        response.headers[TIMELINE_CACHE] = row[3]
    return response
